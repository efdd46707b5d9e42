import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { curateBin, parseJsonl, runCli, tempDir } from "./helpers/cli.js";

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

describe("faults and signals through the CLI", () => {
  /** Enough records that a run takes a few seconds on a loaded 2-core machine. */
  function bigInput(): string {
    const path = join(dir, "big.jsonl");
    if (!existsSync(path)) {
      const rows: string[] = [];
      for (let i = 0; i < 150_000; i++) rows.push(record(i));
      writeFileSync(path, `${rows.join("\n")}\n`);
    }
    return path;
  }

  /** Starts `curate run` and resolves once its temp folder exists in `out` (the run is under way). */
  async function startRun(
    out: string,
  ): Promise<{ child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> }> {
    const child = spawn(process.execPath, [curateBin, "run", bigInput(), "--out", out], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
      child.on("close", (code) => resolve({ code, stderr })),
    );
    for (let i = 0; i < 600; i++) {
      if (existsSync(out) && readdirSync(out).some((f) => f.startsWith(".curate-tmp-"))) return { child, done };
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`the run never started: ${stderr}`);
  }

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal} removes the temp folder and the lock, exits ${code} with one line, leaves the folder as it was`, async () => {
      const out = join(dir, `sig-${signal}`);
      const { child, done } = await startRun(out);
      child.kill(signal);
      const result = await done;
      expect(result.code, result.stderr).toBe(code);
      expect(result.stderr).toMatch(new RegExp(`interrupted \\(${signal}\\): nothing was committed; removed \\d+`));
      expect(readdirSync(out)).toEqual([]);
    });
  }

  it("a second run into the same folder, even with --force, is refused while the first runs", async () => {
    const out = join(dir, "two-runs");
    const first = await startRun(out);
    const second = await runCli(["run", bigInput(), "--out", out, "--force"]);
    expect(second.exitCode).toBe(2);
    expect(second.stderr).toMatch(/another curate run \(pid \d+\) is writing to/);
    const result = await first.done;
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(out).sort()).toContain("manifest.json");
    expect(
      readdirSync(out)
        .filter((f) => f.startsWith("."))
        .sort(),
    ).toEqual([".curate-current", expect.stringMatching(/^\.curate-gen-/)]);
  });

  it("I/O errors name the path and the OS reason, with no stack trace", async () => {
    const input = write("io.jsonl", `${record(1)}\n`);
    for (const args of [
      ["validate", input, "--out", "/dev/full"],
      ["run", input, "--out", "/proc/curate-x"],
    ]) {
      const r = await runCli(args);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/cannot (write|create the output folder) \/(dev\/full|proc\/curate-x): EN/);
      expect(r.stderr).not.toMatch(/ {4}at |internal error/);
    }
  });
});
