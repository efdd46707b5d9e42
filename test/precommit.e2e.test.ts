import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, tempDir } from "./helpers/cli.js";

// The real pre-commit client (Debian's `pre-commit`, installed by .ci/run) installs the hook from this repository
// the way users get it: `npm install`, `npm pack`, `npm install -g` of the tarball, then runs `curate-validate`.
const good = [
  {
    messages: [
      { role: "user", content: "What is 12 × 12?" },
      { role: "assistant", content: "12 × 12 = 144." },
    ],
  },
  {
    messages: [
      { role: "user", content: "Say hi in French." },
      { role: "assistant", content: "Bonjour !" },
    ],
  },
];
const bad = [
  good[0],
  {
    messages: [
      { role: "wizard", content: "Cast a spell." },
      { role: "assistant", content: "Poof." },
    ],
  },
  { messages: [{ role: "user", content: "Anyone there?" }] },
];

function jsonl(records: unknown[]): string {
  return records.map((r) => JSON.stringify(r)).join("\n") + "\n";
}

describe("pre-commit hook (real client)", () => {
  const { dir, cleanup } = tempDir("curate-precommit-");
  const project = join(dir, "project");
  const env = { ...process.env, PRE_COMMIT_HOME: join(dir, "cache"), GIT_CONFIG_NOSYSTEM: "1" };

  beforeAll(() => {
    mkdirSync(join(project, "data"), { recursive: true });
    writeFileSync(join(project, "data/good.jsonl"), jsonl(good));
    writeFileSync(join(project, "data/bad.jsonl"), jsonl(bad));
    const git = (...args: string[]) => execFileSync("git", args, { cwd: project, env, stdio: "pipe" });
    git("init", "-q");
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init");
    git("add", ".");
  });
  afterAll(cleanup);

  function tryRepo(file: string) {
    return spawnSync("pre-commit", ["try-repo", repoRoot, "curate-validate", "--files", file], {
      cwd: project,
      env,
      encoding: "utf8",
      timeout: 300_000,
    });
  }

  it("fails on a file with errors and names file, line, code and path", { timeout: 360_000 }, () => {
    const result = tryRepo("data/bad.jsonl");
    const output = result.stdout + result.stderr;
    expect(result.status, output).toBe(1);
    expect(output).toContain("curate validate");
    expect(output).toMatch(/data\/bad\.jsonl:2 error unrecognized_role messages\[0\]\.role/);
    expect(output).toMatch(/data\/bad\.jsonl:3 error \w+/);
  });

  it("passes on a valid file", { timeout: 360_000 }, () => {
    const result = tryRepo("data/good.jsonl");
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/curate validate\.+Passed/);
  });
});
