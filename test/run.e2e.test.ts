import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseJsonl, runCli, tempDir } from "./helpers/cli.js";

const raw = "fixtures/raw/chat.jsonl";
const { dir, cleanup } = tempDir("curate-run-");
afterAll(cleanup);

function lines(path: string): number {
  return parseJsonl(readFileSync(path, "utf8")).length;
}

function files(out: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(out)
      .filter((name) => name.endsWith(".jsonl"))
      .map((name) => [name, readFileSync(join(out, name), "utf8")]),
  );
}

describe("curate run", () => {
  const args = ["--dedup", "near", "--model", "gpt-4o-mini", "--max-tokens", "4096", "--split", "train=0.8,test=0.2"];

  it("accounts for every record: splits + rejects + duplicates = records read", async () => {
    const out = join(dir, "a");
    const result = await runCli(["run", raw, ...args, "--out", out]);
    expect(result.exitCode, result.stderr).toBe(1); // the raw corpus has invalid records
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const read = manifest.conservation.input;
    expect(read).toBe(146);
    const kept = lines(join(out, "train.jsonl")) + lines(join(out, "test.jsonl"));
    const rejected = lines(join(out, "rejects.jsonl"));
    const duplicates = lines(join(out, "duplicates.jsonl"));
    expect(kept + rejected + duplicates).toBe(read);
    expect(manifest.conservation).toMatchObject({ splits: kept, rejected, duplicates, holds: true });
    const dups = parseJsonl(readFileSync(join(out, "duplicates.jsonl"), "utf8")) as { method: string }[];
    expect(new Set(dups.map((d) => d.method))).toEqual(new Set(["exact", "near"]));
    const reject = parseJsonl(readFileSync(join(out, "rejects.jsonl"), "utf8"))[0] as Record<string, unknown>;
    expect(reject).toMatchObject({ source: { file: raw } });
    expect(typeof reject.code).toBe("string");
    expect(result.stderr).toMatch(/conservation: 146 read = \d+ in splits \+ \d+ rejected \+ \d+ duplicates/);
  });

  it("is deterministic: two runs give byte-identical files, whatever --threads", async () => {
    const a = join(dir, "det1");
    const b = join(dir, "det2");
    await runCli(["run", raw, ...args, "--threads", "1", "--out", a]);
    await runCli(["run", raw, ...args, "--threads", "2", "--out", b]);
    expect(files(b)).toEqual(files(a));
  });

  it("gives the same splits as the Unix pipe validate | dedup | split", async () => {
    const viaRun = join(dir, "pipe-run");
    const viaPipe = join(dir, "pipe-pipe");
    await runCli(["run", raw, "--split", "train=0.8,test=0.2", "--seed", "3", "--out", viaRun]);
    const validated = await runCli(["validate", raw, "--out", "-"]);
    const deduped = await runCli(["dedup"], { input: validated.stdout });
    const split = await runCli(["split", "--split", "train=0.8,test=0.2", "--seed", "3", "--out", viaPipe], {
      input: deduped.stdout,
    });
    expect(split.exitCode, split.stderr).toBe(0);
    for (const name of ["train.jsonl", "test.jsonl"]) {
      expect(readFileSync(join(viaPipe, name), "utf8")).toBe(readFileSync(join(viaRun, name), "utf8"));
    }
  });

  it("reads a YAML config, and flags override it", async () => {
    const config = join(dir, "curate.config.yaml");
    writeFileSync(
      config,
      `inputs: [${raw}]\nout: ${join(dir, "cfg")}\ndedup: { exact: true }\nsplit: { ratios: "train=0.5,test=0.5" }\n`,
    );
    const result = await runCli(["run", "--config", config, "--split", "train=0.7,dev=0.3", "--json"]);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(readdirSync(join(dir, "cfg")).sort()).toContain("dev.jsonl");
  });

  it("rejects a config with a misspelt key, naming it (exit 2)", async () => {
    const config = join(dir, "bad.config.json");
    writeFileSync(config, JSON.stringify({ out: "x", dedup: { treshold: 0.9 } }));
    const result = await runCli(["run", "--config", config]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("dedup");
    expect(result.stderr).toContain("treshold");
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("refuses a non-empty output folder without --force (exit 2)", async () => {
    const out = join(dir, "a");
    const result = await runCli(["run", raw, "--out", out]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--force/);
  });
});
