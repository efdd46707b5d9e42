import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, tempDir } from "./helpers/cli.js";

// End-to-end: `curate report` on the manifest of a real `curate split` run (built binary; run
// `bash scripts/build-dev.sh` first).

const { dir: tmp, cleanup } = tempDir("curate-report-e2e-");
afterAll(cleanup);
const out = join(tmp, "out");
let splitStderr = "";

beforeAll(async () => {
  const result = await runCli([
    "split",
    "fixtures/split/instructions.jsonl",
    "--out",
    out,
    "--split",
    "train=0.8,test=0.2",
    "--stratify-by",
    "category",
  ]);
  expect(result.exitCode).toBe(1); // the fixture's one broken line
  splitStderr = result.stderr;
});

describe("curate report (built binary)", () => {
  it("prints the same summary the run printed, from the manifest or its folder", async () => {
    const fromFile = await runCli(["report", join(out, "manifest.json")]);
    expect(fromFile.exitCode).toBe(0);
    expect(fromFile.stdout).toMatch(/^records read\s+401$/m);
    expect(fromFile.stdout).toMatch(/^ {2}rejected \(read: invalid_json\)\s+1$/m);
    expect(fromFile.stdout).toMatch(/^ {2}train\s+320$/m);
    expect(fromFile.stdout).toMatch(/^ {2}test\s+80$/m);
    expect(fromFile.stdout).toContain("conservation: 401 read = 400 in splits + 1 rejected + 0 duplicates ✓");
    // The run's summary on stderr is the report's stdout, line for line (plus where the files went).
    expect(splitStderr.startsWith(fromFile.stdout)).toBe(true);
    const fromFolder = await runCli(["report", out]);
    expect(fromFolder.stdout).toBe(fromFile.stdout);
  });

  it("prints JSON with --json", async () => {
    const result = await runCli(["report", out, "--json"]);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ read: 401, kept: 400, rejected: 1, duplicates: 0 });
    expect(summary.splits.test.records).toBe(80);
    expect(summary.leakage.splits.test).toMatchObject({ records: 80, exact: 0 });
  });

  it("writes a self-contained HTML report with inline SVG charts", async () => {
    const html = join(tmp, "report.html");
    const result = await runCli(["report", out, "--html", html]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain(`wrote ${html}`);
    const page = readFileSync(html, "utf8");
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).not.toMatch(/<script|<link|<img|https?:\/\//i);
    expect(page).toContain('aria-label="records per split"');
    expect(page).toContain('aria-label="rejects by code"');
    expect(page).toContain("No token counts in this dataset");
    expect(page).toContain("invalid_json");
    expect(page).toContain("fixtures/split/instructions.jsonl");
  });

  it("explains a missing or invalid manifest", async () => {
    const missing = await runCli(["report", join(tmp, "nope.json")]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/cannot read manifest .*nope\.json: no such file/);
    const bad = join(tmp, "bad.json");
    writeFileSync(bad, JSON.stringify({ manifestVersion: 1, tool: { name: "curate" } }));
    const invalid = await runCli(["report", bad, "--html", join(tmp, "bad.html")]);
    // Not a manifest is a wrong argument: a usage error, exit 2.
    expect(invalid.exitCode).toBe(2);
    expect(invalid.stderr).toMatch(/not a valid curate manifest at tool\.version/);
    expect(existsSync(join(tmp, "bad.html"))).toBe(false);
  });
});
