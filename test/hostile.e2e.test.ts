import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseJsonl, runCli, tempDir } from "./helpers/cli.js";

const { dir, cleanup } = tempDir("curate-hostile-");
afterAll(cleanup);

function write(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split(
  " ",
);
/** A record whose text is 30 words picked by `n`; near copies change one word, exact copies none. */
function record(n: number, variant = 0): string {
  const text = Array.from({ length: 30 }, (_, i) => words[(n * 7 + i * ((n % 5) + 1)) % words.length]).join(" ");
  return JSON.stringify({ instruction: `Item ${n}: ${text}`, output: variant ? `${text} ${variant}` : text });
}

describe("hostile input through the CLI", () => {
  it("--dedup near writes byte-identical files (duplicates.jsonl too) for --threads 1 and 2", async () => {
    const rows: string[] = [];
    for (let n = 0; n < 3000; n++) {
      rows.push(record(n));
      if (n % 7 === 0) rows.push(record(n)); // exact copy, right away
      if (n % 11 === 0 && n > 600) rows.push(record(n - 600, 1)); // near copy of a record 2+ batches back
    }
    const input = write("near.jsonl", `${rows.join("\n")}\n`);
    const read = (out: string) =>
      Object.fromEntries(
        readdirSync(out)
          .filter((f) => f.endsWith(".jsonl"))
          .map((f) => [f, readFileSync(join(out, f), "utf8")]),
      );
    const args = ["run", input, "--dedup", "near", "--split", "train=0.9,test=0.1"];
    const one = await runCli([...args, "--threads", "1", "--out", join(dir, "t1")]);
    const two = await runCli([...args, "--threads", "2", "--out", join(dir, "t2")]);
    expect(one.exitCode, one.stderr).toBe(0);
    expect(two.exitCode, two.stderr).toBe(0);
    const a = read(join(dir, "t1"));
    expect(parseJsonl(a["duplicates.jsonl"]!).length).toBeGreaterThan(600);
    expect(read(join(dir, "t2"))).toEqual(a);
  });

  it("a record nested 5,000 levels deep is a too_deep reject in validate, run, dedup, tokens and split", async () => {
    const deep = `{"instruction":"x","output":${"[".repeat(5000)}1${"]".repeat(5000)}}`;
    const input = write("deep.jsonl", `${record(1)}\n${deep}\n${record(2)}\n`);
    const runs = {
      validate: await runCli(["validate", input, "--json"]),
      run: await runCli(["run", input, "--out", join(dir, "deep-run")]),
      dedup: await runCli(["dedup", input, "--rejects", join(dir, "deep-dedup.rejects.jsonl")]),
      tokens: await runCli(["tokens", input, "--model", "gpt-4o-mini"]),
      split: await runCli(["split", input, "--out", join(dir, "deep-split")]),
    };
    for (const [command, result] of Object.entries(runs)) {
      expect(result.stderr, command).not.toMatch(/Maximum call stack|internal error/);
      expect(result.exitCode, `${command}: ${result.stderr}`).toBe(1);
    }
    expect(readFileSync(join(dir, "deep-run", "rejects.jsonl"), "utf8")).toMatch(/"too_deep"/);
  });

  it("a bit flip in a .jsonl.zst never reaches the splits: its records are corrupt_input rejects", async () => {
    const { execFileSync } = await import("node:child_process");
    let zstd: Buffer;
    try {
      zstd = execFileSync("zstd", ["-q", "-c", "--check"], {
        input: Array.from({ length: 500 }, (_, i) => record(i)).join("\n"),
      });
    } catch {
      return expect.soft(true, "no zstd binary: the reader's own tests cover hand-made frames").toBe(true);
    }
    const bad = Buffer.from(zstd);
    bad[Math.floor(bad.length / 2)]! ^= 0x10;
    const input = write("flip.jsonl.zst", bad);
    const r = await runCli(["run", input, "--out", join(dir, "flip")]);
    expect(r.exitCode, r.stderr).toBe(1);
    const manifest = JSON.parse(readFileSync(join(dir, "flip", "manifest.json"), "utf8"));
    expect(manifest.conservation.splits).toBe(0);
    const rejects = parseJsonl(readFileSync(join(dir, "flip", "rejects.jsonl"), "utf8")) as { code: string }[];
    expect(rejects.length).toBe(manifest.conservation.input);
    expect(rejects.at(-1)!.code).toBe("corrupt_input");
  });
});
