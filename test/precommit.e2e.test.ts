import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, tempDir } from "./helpers/cli.js";
import { debianPreCommit, explain, inCi, type PreCommitClient, pipPreCommit } from "./helpers/pre-commit.js";

// The real pre-commit clients install the hook from this repository the way users get it. pre-commit 4.x runs
// `npm install -g git+file://<repo>` (no build, no install scripts: the committed bundle/ must be the program);
// Debian's 3.0.4 runs `npm install`, `npm pack` and `npm install -g <tarball>`. Both then run `curate-validate`.
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
  return `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;
}

const clients: [string, () => PreCommitClient][] = [
  ["pre-commit 4.x (pip)", pipPreCommit],
  ["pre-commit 3.x (Debian)", debianPreCommit],
];

describe.each(clients)("pre-commit hook, %s", (label, find) => {
  const { dir, cleanup } = tempDir("curate-precommit-");
  const project = join(dir, "project");
  const env = { ...process.env, PRE_COMMIT_HOME: join(dir, "cache"), GIT_CONFIG_NOSYSTEM: "1" };
  let client: PreCommitClient = { found: false, reason: "not looked for yet" };

  beforeAll(() => {
    client = find();
    if (!client.found && !inCi) console.warn(`NOTICE: skipping the ${label} hook tests: ${client.reason}`);
    mkdirSync(join(project, "data"), { recursive: true });
    writeFileSync(join(project, "data/good.jsonl"), jsonl(good));
    writeFileSync(join(project, "data/bad.jsonl"), jsonl(bad));
    const git = (...args: string[]) => execFileSync("git", args, { cwd: project, env, stdio: "pipe" });
    git("init", "-q");
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init");
    git("add", ".");
  }, 360_000);
  afterAll(cleanup);

  /** Runs `pre-commit try-repo` for the hook on one file, or skips (outside CI) / fails (CI) without a client. */
  function tryRepo(file: string, skip: (note: string) => void) {
    if (!client.found) {
      if (inCi) throw new Error(`${label} is required under CI=true: ${client.reason}`);
      skip(client.reason);
      throw new Error("unreachable");
    }
    return spawnSync(client.command, ["try-repo", repoRoot, "curate-validate", "--files", file], {
      cwd: project,
      env,
      encoding: "utf8",
      timeout: 300_000,
    });
  }

  it("fails on a file with errors and names file, line, code and path", { timeout: 360_000 }, ({ skip }) => {
    const result = tryRepo("data/bad.jsonl", skip);
    expect(result.status, explain(result)).toBe(1);
    expect(result.stdout).toMatch(/curate validate\.+Failed/);
    expect(result.stdout).toMatch(/data\/bad\.jsonl:2 error unrecognized_role messages\[0\]\.role/);
    expect(result.stdout).toMatch(/data\/bad\.jsonl:3 error \w+/);
    expect(result.stdout).not.toMatch(/data\/bad\.jsonl:1 /);
  });

  it("passes on a valid file", { timeout: 360_000 }, ({ skip }) => {
    const result = tryRepo("data/good.jsonl", skip);
    expect(result.status, explain(result)).toBe(0);
    expect(result.stdout).toMatch(/curate validate\.+Passed/);
  });
});
