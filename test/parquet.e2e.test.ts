// Parquet in and out through the built `curate` binary: the same run on the JSONL and the Parquet form of a dataset
// writes byte-identical JSONL splits, `--output-format parquet` reads back (with pyarrow, another implementation)
// record for record equal to the JSONL output, and bad Parquet input gives clear rejects and exit codes.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseJsonl, repoRoot, runCli, tempDir } from "./helpers/cli.js";
import { inCi } from "./helpers/pre-commit.js";

const { dir, cleanup } = tempDir("curate-parquet-e2e-");
afterAll(cleanup);

const fixtures = join(repoRoot, "fixtures/parquet");
/** pyarrow's interpreter: `.ci/run` installs pyarrow into the venv it puts first on PATH. */
const python = "python3";
const pyarrow = spawnSync(python, ["-c", "import pyarrow"], { encoding: "utf8" });
const hasPyarrow = pyarrow.status === 0;
/** Tests that read curate's Parquet back with pyarrow: skipped without it, except under CI, where they fail. */
const withPyarrow = hasPyarrow || inCi ? it : it.skip;

/** The records of a Parquet file as pyarrow reads them, as JSON values. */
function pyarrowRows(path: string): unknown[] {
  if (!hasPyarrow) {
    throw new Error(
      `pyarrow is needed (${python} -c 'import pyarrow' failed: ${pyarrow.stderr || pyarrow.error?.message}); .ci/run installs it`,
    );
  }
  const script = "import json,sys,pyarrow.parquet as pq\nprint(json.dumps(pq.read_table(sys.argv[1]).to_pylist()))";
  const result = spawnSync(python, ["-c", script, path], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`pyarrow could not read ${path}: ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown[];
}

const splits = ["train.jsonl", "validation.jsonl", "test.jsonl"];

describe("Parquet in", () => {
  it("the JSONL, Parquet and Hugging Face folder forms of a dataset give byte-identical JSONL splits", async () => {
    // A Hugging Face layout: data/ with the Parquet shards (here the pyarrow files, one per codec).
    const hf = join(dir, "hf");
    mkdirSync(join(hf, "data"), { recursive: true });
    copyFileSync(join(fixtures, "chat.parquet"), join(hf, "data/train-00000-of-00001.parquet"));
    writeFileSync(join(hf, "README.md"), "---\nlicense: mit\n---\n# chat\n");
    const forms = { jsonl: join(fixtures, "chat.jsonl"), parquet: join(fixtures, "chat.parquet"), folder: hf };
    const outputs: Record<string, string[]> = {};
    for (const [form, input] of Object.entries(forms)) {
      const out = join(dir, `in-${form}`);
      const result = await runCli(["run", input, "--split", "train=0.6,validation=0.2,test=0.2", "--out", out]);
      expect(result.exitCode, result.stderr).toBe(0);
      outputs[form] = splits.map((file) => readFileSync(join(out, file), "utf8"));
      const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
      expect(manifest.conservation).toMatchObject({ input: 13, holds: true });
    }
    expect(outputs.jsonl!.join("").split("\n").length - 1).toBe(13);
    expect(outputs.parquet).toEqual(outputs.jsonl);
    expect(outputs.folder).toEqual(outputs.jsonl);
  });

  it("--workers reads a Parquet file in row-group shards and writes what the sequential run writes", async () => {
    const args = ["run", join(fixtures, "chat.parquet"), "--split", "train=0.6,validation=0.2,test=0.2"];
    const one = await runCli([...args, "--out", join(dir, "w1")]);
    // 3 row groups of 500–750 bytes: 1,000-byte shards cut the file into two row-group ranges.
    const two = await runCli([...args, "--workers", "2", "--shard-bytes", "1000", "--out", join(dir, "w2")]);
    expect([one.exitCode, two.exitCode], two.stderr).toEqual([0, 0]);
    for (const file of splits) {
      expect(readFileSync(join(dir, "w2", file), "utf8"), file).toBe(readFileSync(join(dir, "w1", file), "utf8"));
    }
    const inputs = (out: string) => JSON.parse(readFileSync(join(dir, out, "manifest.json"), "utf8")).inputs;
    expect(inputs("w2")).toEqual(inputs("w1"));
    expect(inputs("w2")[0]).toMatchObject({ records: 13, container: "parquet" });
  });

  it("diagnostics name the Parquet row; a file that is not Parquet is a corrupt_input reject, exit 1", async () => {
    // Built with curate itself: one bad chat record among good ones, written as Parquet.
    const chat = readFileSync(join(fixtures, "chat.jsonl"), "utf8").split("\n");
    const bad = chat[1]!.replace('"role":"user"', '"role":"wizard"');
    writeFileSync(join(dir, "bad-chat.jsonl"), `${chat[0]}\n${bad}\n${chat[2]}\n`);
    const made = await runCli([
      "dedup",
      join(dir, "bad-chat.jsonl"),
      "--output-format",
      "parquet",
      "--out",
      join(dir, "bad-chat.parquet"),
    ]);
    expect(made.exitCode, made.stderr).toBe(0);
    writeFileSync(join(dir, "not.parquet"), '{"prompt":"hi","completion":"hello"}\n');
    const result = await runCli(["validate", join(dir, "bad-chat.parquet"), join(dir, "not.parquet")]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/bad-chat\.parquet row 2 error \w+ messages\[1\]\.role/);
    expect(result.stderr).toMatch(
      /not\.parquet row 1 error corrupt_input .*not a Parquet file: it starts with 7b 22 70 72/,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe("--output-format parquet", () => {
  withPyarrow(
    "run and split write Parquet splits, rejects and duplicates that pyarrow reads back equal to the JSONL output",
    async () => {
      const input = join(dir, "with-problems.jsonl");
      const chat = readFileSync(join(fixtures, "chat.jsonl"), "utf8");
      // Two copies of a record (a duplicate) and a line that is not JSON (a reject) next to the 13 records.
      writeFileSync(input, `${chat}${chat.split("\n")[0]}\n{"messages": [\n`);
      const jsonlOut = join(dir, "out-jsonl");
      const parquetOut = join(dir, "out-parquet");
      const args = ["run", input, "--split", "train=0.6,validation=0.2,test=0.2"];
      const a = await runCli([...args, "--out", jsonlOut]);
      const b = await runCli([...args, "--output-format", "parquet", "--out", parquetOut]);
      expect([a.exitCode, b.exitCode]).toEqual([1, 1]); // the reject
      expect(
        readdirSync(parquetOut)
          .filter((f) => !f.startsWith("."))
          .sort(),
      ).toEqual([
        "duplicates.parquet",
        "manifest.json",
        "rejects.parquet",
        "test.parquet",
        "train.parquet",
        "validation.parquet",
      ]);
      for (const split of ["train", "validation", "test"]) {
        const expected = parseJsonl(readFileSync(join(jsonlOut, `${split}.jsonl`), "utf8"));
        expect(pyarrowRows(join(parquetOut, `${split}.parquet`)), split).toEqual(expected);
      }
      // Rejects and duplicates: the same entries, the record kept as its JSON text.
      for (const side of ["rejects", "duplicates"]) {
        const expected = parseJsonl(readFileSync(join(jsonlOut, `${side}.jsonl`), "utf8")) as { record: unknown }[];
        const rows = pyarrowRows(join(parquetOut, `${side}.parquet`)) as { record: string }[];
        expect(rows.length, side).toBe(1);
        expect(JSON.parse(rows[0]!.record), side).toEqual(expected[0]!.record);
      }
      const manifest = JSON.parse(readFileSync(join(parquetOut, "manifest.json"), "utf8"));
      expect(manifest.splits.train.file).toBe("train.parquet");
      expect(manifest.rejects.file).toBe("rejects.parquet");
      expect(manifest.outputs.find((o: { path: string }) => o.path === "train.parquet").bytes).toBe(
        readFileSync(join(parquetOut, "train.parquet")).length,
      );

      const split = await runCli([
        "split",
        join(fixtures, "chat.parquet"),
        "--output-format",
        "parquet",
        "--out",
        join(dir, "split-parquet"),
      ]);
      expect(split.exitCode, split.stderr).toBe(0);
      const all = ["train", "validation", "test"].flatMap((s) =>
        pyarrowRows(join(dir, "split-parquet", `${s}.parquet`)),
      );
      expect(all).toHaveLength(13);
    },
  );

  withPyarrow("single-stage commands write --out as Parquet that pyarrow reads back as the JSONL twin", async () => {
    const out = join(dir, "valid.parquet");
    const ok = await runCli(["validate", join(fixtures, "chat.parquet"), "--output-format", "parquet", "--out", out]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(pyarrowRows(out)).toEqual(parseJsonl(readFileSync(join(fixtures, "chat.jsonl"), "utf8")));
  });

  it("Parquet to stdout and mixed types in a field are clear errors (exit 2), nothing written", async () => {
    const stdout = await runCli([
      "validate",
      join(fixtures, "chat.parquet"),
      "--output-format",
      "parquet",
      "--out",
      "-",
    ]);
    expect(stdout.exitCode).toBe(2);
    expect(stdout.stderr).toContain("Parquet cannot be written to standard output");

    writeFileSync(
      join(dir, "mixed.jsonl"),
      '{"prompt":"2+2?","completion":"4","meta":{"difficulty":1}}\n{"prompt":"3+3?","completion":"6","meta":{"difficulty":"easy"}}\n',
    );
    const mixed = await runCli([
      "dedup",
      join(dir, "mixed.jsonl"),
      "--output-format",
      "parquet",
      "--out",
      join(dir, "mixed.parquet"),
    ]);
    expect(mixed.exitCode).toBe(2);
    expect(mixed.stderr).toContain("field meta.difficulty holds a number and a string (record 2)");
    expect(mixed.stderr).toContain("--output-format jsonl");
    expect(readdirSync(dir).filter((f) => f.startsWith("mixed.parquet") || f.startsWith(".mixed.parquet"))).toEqual([]);
  });
});
