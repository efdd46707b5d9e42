// Reading Parquet (snappy) into records against reading the same records from JSONL, per record, and peak memory.
// Target (issue 17): Parquet ≥ 0.75 × JSONL records/s; memory bounded by one row group.
//   npm run build     (the packages' dist/: this measures what users run)
//   node bench/read/parquet.bench.mjs [RECORDS] [ROUNDS] [ROW_GROUP_ROWS]   (200000, 3, 20000 by default)
// Each case runs in its own child process (peak RSS is that reader's alone), rounds interleaved, best time kept.
// The data: chat records as a Hugging Face chat dataset holds them (id, messages: list<struct<role, content>>,
// source), written once to tmpdir as JSONL and as Parquet with curate's own writer (snappy, the default codec).
import { execFileSync } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeRecord, rng } from "./data.mjs";

const records = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 3);
const groupRows = Number(process.argv[4] ?? 20_000);
const here = fileURLToPath(import.meta.url);

if (process.argv[2] === "--case") {
  // Child: read one file with @curate/read through the core runner, print time, records and peak RSS.
  const file = process.argv[4];
  const { runPipeline } = await import("../../packages/core/dist/index.js");
  const { readInputs } = await import("../../packages/read/dist/index.js");
  const started = performance.now();
  const run = runPipeline(readInputs([file]), []);
  let kept = 0;
  for await (const batch of run.batches) kept += batch.length;
  const ms = performance.now() - started;
  const rejected = run.counts.reduce((sum, c) => sum + c.rejected, 0);
  process.stdout.write(`${JSON.stringify({ ms, kept, rejected, maxRssKb: process.resourceUsage().maxRSS })}\n`);
  process.exit(0);
}

/**
 * Two datasets from the read bench's generator, one type per column (as Parquet needs): `chat` (nested:
 * `messages: list<struct<role, content>>`) and `instruction` (flat: instruction, input, output strings).
 */
function prepare(kind) {
  const base = join(tmpdir(), `curate-parquet-bench-${kind}-${records}-${groupRows}`);
  const files = { jsonl: `${base}.jsonl`, parquet: `${base}.parquet` };
  if (existsSync(files.jsonl) && existsSync(files.parquet)) return files;
  const random = rng(17);
  const lines = [];
  for (let i = 0; lines.length < records; i++) {
    const record = JSON.parse(makeRecord(random, i));
    if (kind === "chat" && record.messages) {
      lines.push(JSON.stringify({ id: lines.length, messages: record.messages, source: `bench-${i % 7}` }));
    } else if (kind === "instruction" && record.instruction !== undefined) {
      lines.push(JSON.stringify({ instruction: record.instruction, input: record.input, output: record.output }));
    }
  }
  writeFileSync(files.jsonl, `${lines.join("\n")}\n`);
  // curate's writer: the schema derived from the records, 20,000-row groups (ROW_GROUP_ROWS in write/parquet.ts).
  const script = `import { jsonlToParquet } from ${JSON.stringify(new URL("../../packages/write/dist/index.js", import.meta.url).href)};
await jsonlToParquet(${JSON.stringify(files.jsonl)}, ${JSON.stringify(files.parquet)});`;
  execFileSync(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit" });
  return files;
}

function runCase(file) {
  const out = execFileSync(process.execPath, [here, "--case", "x", file], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").at(-1));
}

const size = (path) => statSync(path).size / 1e6;
for (const kind of ["chat", "instruction"]) {
  const files = prepare(kind);
  console.log(
    `\n${kind}: ${records.toLocaleString("en-US")} records, JSONL ${size(files.jsonl).toFixed(1)} MB, Parquet (snappy) ${size(files.parquet).toFixed(1)} MB`,
  );
  const best = {};
  for (let round = 0; round < rounds; round++) {
    for (const name of ["jsonl", "parquet"]) {
      const result = runCase(files[name]);
      if (result.kept !== records || result.rejected !== 0) {
        throw new Error(`${name}: read ${result.kept} records and ${result.rejected} rejects, expected ${records}`);
      }
      const maxRssKb = Math.max(best[name]?.maxRssKb ?? 0, result.maxRssKb);
      best[name] = !best[name] || result.ms < best[name].ms ? { ...result, maxRssKb } : { ...best[name], maxRssKb };
    }
  }
  const rate = (r) => Math.round(records / (r.ms / 1000));
  const rows = [
    ["input", "records/s", "time", "peak RSS"],
    ...Object.entries(best).map(([name, r]) => [
      name,
      rate(r).toLocaleString("en-US"),
      `${(r.ms / 1000).toFixed(2)} s`,
      `${Math.round(r.maxRssKb / 1024)} MiB`,
    ]),
  ];
  for (const row of rows) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(8) : cell.padStart(12))).join(" "));
  const ratio = rate(best.parquet) / rate(best.jsonl);
  console.log(
    `${ratio >= 0.75 ? "✓" : "✗"} ${kind}: Parquet (snappy) read ≥ 0.75 × JSONL per record: ${ratio.toFixed(2)} ×`,
  );
}
