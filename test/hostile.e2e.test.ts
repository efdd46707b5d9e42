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

  it("--max-depth moves the too_deep limit in run (config file too), validate, dedup, tokens, split and convert", async () => {
    const deep = `{"instruction":"x","output":"y","tree":${"[".repeat(600)}1${"]".repeat(600)}}`;
    const input = write("depth.jsonl", `${record(1)}\n${deep}\n${record(2)}\n`);
    const rejectsOf = (path: string) => parseJsonl(readFileSync(path, "utf8")) as { code: string }[];
    const config = write("depth.yaml", "maxDepth: 1000\nsplit: { ratios: { train: 1 } }\n");
    for (const depth of [undefined, 1000] as const) {
      const flag = depth === undefined ? [] : ["--max-depth", String(depth)];
      const tag = depth ?? "default";
      const runs = {
        validate: ["validate", input, "--rejects", join(dir, `depth-validate-${tag}.jsonl`)],
        dedup: ["dedup", input, "--rejects", join(dir, `depth-dedup-${tag}.jsonl`)],
        tokens: ["tokens", input, "--model", "gpt-4o-mini", "--rejects", join(dir, `depth-tokens-${tag}.jsonl`)],
        convert: [
          "convert",
          input,
          "--to",
          "chat",
          "--extra",
          "keep",
          "--rejects",
          join(dir, `depth-convert-${tag}.jsonl`),
        ],
      };
      for (const [command, args] of Object.entries(runs)) {
        const r = await runCli([...args, ...flag]);
        expect(r.stderr, command).not.toMatch(/internal error/);
        const codes = rejectsOf(args.at(-1)!).map((x) => x.code);
        if (depth === undefined) expect(codes, command).toEqual(["too_deep"]);
        else expect(codes, command).not.toContain("too_deep");
      }
      for (const command of ["run", "split"]) {
        // --workers 2 with tiny shards: the limit reaches the shard readers too.
        const out = join(dir, `depth-${command}-${tag}`);
        const extra = command === "run" ? ["--workers", "2", "--shard-bytes", "64", "--no-validate"] : [];
        const r = await runCli([command, input, "--out", out, "--split", "train=1", ...extra, ...flag]);
        expect(r.exitCode, r.stderr).toBe(depth === undefined ? 1 : 0);
        expect(rejectsOf(join(out, "rejects.jsonl")).map((x) => x.code)).toEqual(
          depth === undefined ? ["too_deep"] : [],
        );
      }
    }
    const configured = await runCli([
      "run",
      input,
      "--config",
      config,
      "--no-validate",
      "--out",
      join(dir, "depth-config"),
    ]);
    expect(configured.exitCode, configured.stderr).toBe(0);
    const refused = await runCli(["validate", input, "--max-depth", "5000"]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/--max-depth .*expected a whole number ≤ 2000, found "5000"/);
  });

  it("1e400, -1e400 and a 100,000-digit integer are number_out_of_range rejects in run, validate, dedup, tokens and split", async () => {
    const huge = [
      `{"instruction":"a","output":"b","score":1e400}`,
      `{"instruction":"c","output":"d","score":[-1e400]}`,
      `{"instruction":"e","output":"f","score":${"9".repeat(100_000)}}`,
    ];
    const input = write("numbers.jsonl", `${record(1)}\n${huge.join("\n")}\n${record(2)}\n`);
    const rejectsOf = (path: string) => parseJsonl(readFileSync(path, "utf8")) as { code: string; record: string }[];
    const keptOf = (path: string) => readFileSync(path, "utf8");
    const files = (name: string) => ({
      out: join(dir, `num-${name}.jsonl`),
      rejects: join(dir, `num-${name}.rejects.jsonl`),
    });
    const single = {
      validate: ["validate", input],
      dedup: ["dedup", input],
      tokens: ["tokens", input, "--model", "gpt-4o-mini"],
    };
    const outputs: { kept: string; rejects: string }[] = [];
    for (const [command, args] of Object.entries(single)) {
      const { out, rejects } = files(command);
      const r = await runCli([...args, "--out", out, "--rejects", rejects]);
      expect(r.exitCode, `${command}: ${r.stderr}`).toBe(1);
      outputs.push({ kept: out, rejects });
    }
    for (const command of ["run", "split"]) {
      const out = join(dir, `num-${command}`);
      const r = await runCli([command, input, "--out", out, "--split", "train=1"]);
      expect(r.exitCode, `${command}: ${r.stderr}`).toBe(1);
      outputs.push({ kept: join(out, "train.jsonl"), rejects: join(out, "rejects.jsonl") });
    }
    for (const { kept, rejects } of outputs) {
      const rejected = rejectsOf(rejects);
      expect(
        rejected.map((x) => x.code),
        rejects,
      ).toEqual(Array(3).fill("number_out_of_range"));
      // The reject keeps the record's original text (the first 64 KiB of it), never a null.
      expect(rejected[0]!.record).toContain("1e400");
      expect(rejected[1]!.record).toContain("-1e400");
      expect(rejected[2]!.record).toMatch(/"score":9{1000}/);
      expect(keptOf(kept)).not.toMatch(/null|1e400|99999/);
      expect(keptOf(kept).trim().split("\n")).toHaveLength(2);
    }
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

  it("file too large (ulimit -f) and stdin that is a folder: exit 2, the path or the cause, no stack trace", async () => {
    const { spawnSync } = await import("node:child_process");
    const input = bigInput();
    const out = join(dir, "efbig");
    const tooLarge = spawnSync(
      "bash",
      [
        "-c",
        `ulimit -f 200 && exec "$0" "$1" run "$2" --out "$3" --split train=1`,
        process.execPath,
        curateBin,
        input,
        out,
      ],
      { encoding: "utf8" },
    );
    expect(tooLarge.status, tooLarge.stderr).toBe(2);
    expect(tooLarge.stderr).toMatch(/cannot write .*efbig\/.*train\.jsonl: EFBIG, file too large/);
    expect(tooLarge.stderr).not.toMatch(/ {4}at |internal error/);
    expect(readdirSync(out)).toEqual([]); // nothing committed, the temp folder and the lock removed

    const folder = spawnSync("bash", ["-c", `exec "$0" "$1" validate < "$2"`, process.execPath, curateBin, dir], {
      encoding: "utf8",
    });
    expect(folder.status).toBe(2);
    expect(folder.stderr).toMatch(/standard input is a folder, not data/);
  });
});
