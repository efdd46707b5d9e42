import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJsonl, repoRoot, runCli, tempDir } from "./helpers/cli.js";

// End-to-end: the built `curate split` on fixtures/split (400 instruction records, one broken line, one blank
// line: 401 records read; more.jsonl holds 40 further records for the append test). Run `bash scripts/build-dev.sh` first.

const fixture = "fixtures/split/instructions.jsonl";
const more = "fixtures/split/more.jsonl";
const { dir: tmp, cleanup } = tempDir("curate-split-e2e-");
afterAll(cleanup);

interface Rec {
  id: string;
  conversation_id: string;
  category: string;
}

let counter = 0;
function outDir(): string {
  return join(tmp, `out${++counter}`);
}

function readSplit(dir: string, name: string): Rec[] {
  const path = join(dir, `${name}.jsonl`);
  return existsSync(path) ? (parseJsonl(readFileSync(path, "utf8")) as Rec[]) : [];
}

function splitById(dir: string, names = ["train", "validation", "test"]): Map<string, string> {
  const map = new Map<string, string>();
  for (const name of names) for (const r of readSplit(dir, name)) map.set(r.id, name);
  return map;
}

function manifestOf(dir: string) {
  return JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
}

const fixtureRecords = readFileSync(join(repoRoot, fixture), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "" && !l.includes("ex-broken"))
  .map((l) => JSON.parse(l) as Rec);

describe("curate split (built binary)", () => {
  let first: string;
  beforeAll(async () => {
    first = outDir();
    const result = await runCli(["split", fixture, "--out", first, "--seed", "42"]);
    expect(result.stderr).toContain("conservation: 401 read = 400 in splits + 1 rejected + 0 duplicates ✓");
    // One broken line: data errors found, exit 1; everything else is written.
    expect(result.exitCode).toBe(1);
  });

  it("writes one file per split, rejects, duplicates and a manifest that satisfies the conservation law", () => {
    expect(
      readdirSync(first)
        .filter((f) => !f.startsWith("."))
        .sort(),
    ).toEqual(["duplicates.jsonl", "manifest.json", "rejects.jsonl", "test.jsonl", "train.jsonl", "validation.jsonl"]);
    const manifest = manifestOf(first);
    const inSplits = ["train", "validation", "test"].reduce((n, s) => n + readSplit(first, s).length, 0);
    const rejects = parseJsonl(readFileSync(join(first, "rejects.jsonl"), "utf8"));
    expect(inSplits).toBe(400);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({ source: { file: fixture, line: 122 }, code: "invalid_json" });
    expect(manifest.conservation).toMatchObject({ input: 401, splits: 400, rejected: 1, duplicates: 0, holds: true });
    expect(manifest.inputs[0]).toMatchObject({ path: fixture, records: 401, blankLines: 1 });
    expect(manifest.seed).toBe("42");
    expect(manifest.config).toMatchObject({
      command: "split",
      split: { ratios: { train: 0.9, validation: 0.05, test: 0.05 } },
    });
    expect(manifest.stages.map((s: { name: string }) => s.name)).toEqual(["read", "split"]);
    for (const name of ["train", "validation", "test"]) {
      expect(manifest.splits[name].records).toBe(readSplit(first, name).length);
    }
    // Content-keyed: the fixture's exact duplicates land together, so no exact leakage.
    expect(manifest.leakage.splits.test.exact).toBe(0);
    expect(manifest.leakage.splits.validation.exact).toBe(0);
  });

  it("is deterministic: a second run and a run through a pipe give byte-identical files", async () => {
    const again = outDir();
    await runCli(["split", fixture, "--out", again, "--seed", "42"]);
    const piped = outDir();
    const viaStdin = await runCli(["split", "--out", piped, "--seed", "42"], {
      input: readFileSync(join(repoRoot, fixture)),
    });
    expect(viaStdin.exitCode).toBe(1);
    for (const file of ["train.jsonl", "validation.jsonl", "test.jsonl"]) {
      const bytes = readFileSync(join(first, file));
      expect(readFileSync(join(again, file)).equals(bytes)).toBe(true);
      expect(readFileSync(join(piped, file)).equals(bytes)).toBe(true);
    }
    expect(manifestOf(piped).inputs[0].path).toBe("<stdin>");
    const other = outDir();
    await runCli(["split", fixture, "--out", other, "--seed", "43"]);
    expect(readFileSync(join(other, "train.jsonl")).equals(readFileSync(join(first, "train.jsonl")))).toBe(false);
  });

  it("is append-stable: adding 10% more records moves no existing record", async () => {
    const before = outDir();
    const after = outDir();
    await runCli([
      "split",
      fixture,
      "--out",
      before,
      "--split-key",
      "id",
      "--split",
      "train=0.8,validation=0.1,test=0.1",
    ]);
    await runCli([
      "split",
      fixture,
      more,
      "--out",
      after,
      "--split-key",
      "id",
      "--split",
      "train=0.8,validation=0.1,test=0.1",
    ]);
    const old = splitById(before);
    const now = splitById(after);
    expect(old.size).toBe(400);
    expect(now.size).toBe(440);
    const moved = [...old].filter(([id, split]) => now.get(id) !== split);
    expect(moved).toEqual([]);
  });

  it("stratifies: every category within one record of its target", async () => {
    const dir = outDir();
    const result = await runCli([
      "split",
      fixture,
      "--out",
      dir,
      "--stratify-by",
      "category",
      "--split",
      "train=0.8,validation=0.1,test=0.1",
    ]);
    expect(result.exitCode).toBe(1);
    const ratios: Record<string, number> = { train: 0.8, validation: 0.1, test: 0.1 };
    const sizes = new Map<string, number>();
    for (const r of fixtureRecords) sizes.set(r.category, (sizes.get(r.category) ?? 0) + 1);
    expect(sizes.size).toBe(5);
    for (const [name, ratio] of Object.entries(ratios)) {
      const records = readSplit(dir, name);
      for (const [category, size] of sizes) {
        const got = records.filter((r) => r.category === category).length;
        expect(Math.abs(got - size * ratio), `${category} in ${name}`).toBeLessThan(1);
      }
    }
    const strata = manifestOf(dir).split.strata;
    expect(strata.map((s: { value: string }) => s.value)).toEqual(["code", "math", "translation", "trivia", "writing"]);
  });

  it("keeps every conversation in one split with --group-by", async () => {
    const dir = outDir();
    await runCli(["split", fixture, "--out", dir, "--group-by", "conversation_id", "--split", "train=0.6,test=0.4"]);
    const splitsOf = new Map<string, Set<string>>();
    for (const name of ["train", "test"]) {
      for (const r of readSplit(dir, name)) {
        if (!splitsOf.has(r.conversation_id)) splitsOf.set(r.conversation_id, new Set());
        splitsOf.get(r.conversation_id)!.add(name);
      }
    }
    expect(splitsOf.size).toBe(new Set(fixtureRecords.map((r) => r.conversation_id)).size);
    const straddling = [...splitsOf].filter(([, s]) => s.size > 1).map(([g]) => g);
    expect(straddling).toEqual([]);
    expect(readSplit(dir, "test").length).toBeGreaterThan(100);
  });

  it("gives exact sizes with --test-size and --validation-size, gzipped with --compress", async () => {
    const dir = outDir();
    const result = await runCli([
      "split",
      fixture,
      "--out",
      dir,
      "--test-size",
      "40",
      "--validation-size",
      "25",
      "--compress",
      "--json",
    ]);
    expect(result.exitCode).toBe(1);
    const summary = JSON.parse(result.stdout);
    expect(summary.splits.test.records).toBe(40);
    expect(summary.splits.validation.records).toBe(25);
    expect(summary.splits.train.records).toBe(335);
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith(".gz"))
        .sort(),
    ).toEqual(["test.jsonl.gz", "train.jsonl.gz", "validation.jsonl.gz"]);
    const test = parseJsonl(gunzipSync(readFileSync(join(dir, "test.jsonl.gz"))).toString("utf8"));
    expect(test).toHaveLength(40);
    expect(result.stderr).toBe("");
  });

  it("refuses to overwrite a non-empty folder without --force", async () => {
    const before = readFileSync(join(first, "train.jsonl"));
    const refused = await runCli(["split", fixture, "--out", first, "--seed", "1"]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/output folder .* is not empty .*--force/);
    expect(readFileSync(join(first, "train.jsonl")).equals(before)).toBe(true);

    const dir = outDir();
    mkdirSync(dir);
    writeFileSync(join(dir, "README.md"), "my notes\n");
    const forced = await runCli(["split", fixture, "--out", dir, "--force", "--split", "train=0.5,test=0.5"]);
    expect(forced.exitCode).toBe(1);
    expect(
      readdirSync(dir)
        .filter((f) => !f.startsWith("."))
        .sort(),
    ).toEqual(["README.md", "duplicates.jsonl", "manifest.json", "rejects.jsonl", "test.jsonl", "train.jsonl"]);
  });

  it("reports usage errors with exit code 2", async () => {
    const noOut = await runCli(["split", fixture]);
    expect(noOut.exitCode).toBe(2);
    expect(noOut.stderr).toContain("curate split needs --out DIR");
    const badRatios = await runCli(["split", fixture, "--out", outDir(), "--split", "train=0.9,test=0.2"]);
    expect(badRatios.exitCode).toBe(2);
    expect(badRatios.stderr).toContain("split ratios must sum to 1, found 1.1");
    const both = await runCli(["split", fixture, "--out", outDir(), "--split", "train=1", "--test-size", "5"]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toContain("not both");
    const tooBig = await runCli(["split", fixture, "--out", outDir(), "--test-size", "5000"]);
    expect(tooBig.exitCode).toBe(2);
    expect(tooBig.stderr).toContain("exceed the 400 records");
    const help = await runCli(["split", "--help"]);
    expect(help.stdout).toContain("--stratify-by <path>");
    expect(help.stdout).toContain("Examples:");
  });
});

describe("DatasetWriter crash safety (built package)", () => {
  it("leaves no file under a final name when the writing process is killed, and the next run proceeds", async () => {
    const dir = outDir();
    const writerUrl = pathToFileURL(join(repoRoot, "packages/write/dist/index.js")).href;
    // Writes forever (in small batches, so the disk never fills), saying "ready" once the files have data.
    const script = `
      const { DatasetWriter } = await import(${JSON.stringify(writerUrl)});
      const writer = new DatasetWriter({ dir: process.argv[1], splits: ["train", "test"] });
      const data = { messages: [{ role: "user", content: "Hello there, how are you?" }, { role: "assistant", content: "Fine, thanks." }] };
      let line = 0;
      for (let batch = 0; batch < 20000; batch++) {
        for (let i = 0; i < 2000; i++) {
          line++;
          writer.write({ data, source: { file: "x.jsonl", line }, meta: { split: line % 10 ? "train" : "test" } });
        }
        if (batch === 5) process.stdout.write("ready\\n");
        await new Promise((r) => setTimeout(r, 2));
      }`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => c.toString().includes("ready") && resolve());
      child.on("exit", () => reject(new Error(`writer exited before it was killed: ${stderr}`)));
    });
    child.removeAllListeners("exit");
    const exited = new Promise((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");

    // Only the hidden temp folder exists (and the dead run's lock, which the next run takes over), and it did hold
    // data: the kill really came mid-write.
    const all = readdirSync(dir);
    expect(all).toContain(".curate-lock");
    const entries = all.filter((f) => f !== ".curate-lock");
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/^\.curate-tmp-\d+-\d+$/);
    const temp = join(dir, entries[0]!);
    const tempFiles = readdirSync(temp);
    expect(tempFiles.some((f) => f.startsWith(".train.jsonl.tmp-") && statSync(join(temp, f)).size > 0)).toBe(true);
    for (const final of ["train.jsonl", "test.jsonl", "manifest.json", "rejects.jsonl"]) {
      expect(existsSync(join(dir, final))).toBe(false);
      expect(existsSync(join(temp, final))).toBe(false);
    }

    // A crashed run's temp folder does not make the folder "non-empty", and is cleaned up.
    const next = await runCli(["split", "fixtures/split/more.jsonl", "--out", dir]);
    expect(next.exitCode).toBe(0);
    expect(
      readdirSync(dir)
        .filter((f) => f.startsWith("."))
        .sort(),
    ).toEqual([".curate-current", expect.stringMatching(/^\.curate-gen-/)]);
    expect(manifestOf(dir).conservation.input).toBe(40);
  });
});
