import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Envelope, formatSource, type Rejected, type StageContext, type Warning } from "@curate/core";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { afterAll, describe, expect, it } from "vitest";
import { readInputs } from "./read.js";
import { planShards, readShard, ShardStitcher } from "./shards.js";
import type { InputStats } from "./types.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "curate-parquet-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Chat records as a Hugging Face chat dataset holds them: an id, a list of {role, content} structs, a score. */
function chats(
  count: number,
  from = 0,
): { id: number; messages: { role: string; content: string }[]; score: number }[] {
  return Array.from({ length: count }, (_, i) => ({
    id: from + i,
    messages: [
      { role: "user", content: `How do I sort list ${from + i} in place?` },
      { role: "assistant", content: `Call \`items.sort()\` — it returns None; ${from + i} ✓` },
    ],
    score: (from + i) / 4,
  }));
}

const chatSchema = [
  { name: "root", num_children: 3 },
  { name: "id", type: "INT64", repetition_type: "OPTIONAL" },
  { name: "messages", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
  { name: "role", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
  { name: "content", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
  { name: "score", type: "DOUBLE", repetition_type: "OPTIONAL" },
] as const;

/** Writes `records` with hyparquet-writer, `rowGroupSize` rows per row group; returns the file's bytes. */
function parquetBytes(
  records: ReturnType<typeof chats>,
  rowGroupSize: number,
  codec: "SNAPPY" | "UNCOMPRESSED" | "LZO" = "SNAPPY",
): Uint8Array {
  const writer = new ByteWriter();
  const parquet = new ParquetWriter({
    writer,
    schema: chatSchema as never,
    codec: codec as never,
    // A codec curate cannot read, written as if it were one (the bytes are stored as they are).
    ...(codec === "LZO" ? { compressors: { LZO: (input: Uint8Array) => input } } : {}),
  });
  parquet.write({
    columnData: [
      { name: "id", data: records.map((r) => BigInt(r.id)) },
      { name: "messages", data: records.map((r) => r.messages) },
      { name: "score", data: records.map((r) => r.score) },
    ] as never,
    rowGroupSize,
  });
  parquet.finish();
  return writer.getBytes();
}

function write(name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

interface Collected {
  kept: Envelope[];
  rejected: Rejected[];
  warnings: Warning[];
  stats: InputStats[];
}

async function read(patterns: string[], cwd = dir): Promise<Collected> {
  const result: Collected = { kept: [], rejected: [], warnings: [], stats: [] };
  const source = readInputs(patterns, { cwd });
  const ctx: StageContext = {
    stage: "read",
    reject: (item, reason) => result.rejected.push({ stage: "read", item, reason }),
    duplicate() {},
    warn: (item, issue) => result.warnings.push({ stage: "read", item, issue }),
  };
  for await (const record of source(ctx)) result.kept.push(record);
  result.stats = source.stats;
  return result;
}

describe("reading Parquet", () => {
  it("turns rows with nested list<struct> columns into the records a JSONL file would hold, row by row", async () => {
    const records = chats(25);
    write("chat.parquet", parquetBytes(records, 10));
    const { kept, rejected, stats } = await read(["chat.parquet"]);
    expect(rejected).toEqual([]);
    expect(kept.map((r) => JSON.stringify(r.data))).toEqual(records.map((r) => JSON.stringify(r)));
    // Identity is (input, row); the row is also the line, so tools printing file:line still point at it.
    expect(kept[23]!.source).toEqual({ file: "chat.parquet", line: 24, record: 24, input: 0 });
    expect(formatSource(kept[23]!.source)).toBe("chat.parquet row 24");
    expect(stats[0]).toMatchObject({ path: "chat.parquet", records: 25, container: "parquet" });
    expect(stats[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(stats[0]!.bytes).toBe(readFileSync(join(dir, "chat.parquet")).length);
  });

  it("reads the files pyarrow wrote (zstd in 3 row groups, snappy, gzip, brotli) as their JSONL twin", async () => {
    const fixtures = join(repo, "fixtures/parquet");
    const twin = readFileSync(join(fixtures, "chat.jsonl"), "utf8");
    for (const file of [
      "chat.parquet",
      "codecs/chat.snappy.parquet",
      "codecs/chat.gzip.parquet",
      "codecs/chat.brotli.parquet",
    ]) {
      const { kept, rejected } = await read([file], fixtures);
      expect(rejected, file).toEqual([]);
      expect(kept.map((r) => `${JSON.stringify(r.data)}\n`).join(""), file).toBe(twin);
    }
  });

  it("reads a Hugging Face folder in name order: Parquet shards and JSONL side by side, and globs", async () => {
    write("hf/data/train-00001-of-00002.parquet", parquetBytes(chats(3, 3), 2));
    write("hf/data/train-00000-of-00002.parquet", parquetBytes(chats(3, 0), 2));
    write("hf/data/extra.jsonl", `${JSON.stringify(chats(1, 100)[0])}\n`);
    write("hf/README.md", "# a dataset card, not data\n");
    const folder = await read(["hf"]);
    expect(folder.stats.map((s) => s.path)).toEqual([
      "hf/data/extra.jsonl",
      "hf/data/train-00000-of-00002.parquet",
      "hf/data/train-00001-of-00002.parquet",
    ]);
    expect(folder.kept.map((r) => (r.data as { id: number }).id)).toEqual([100, 0, 1, 2, 3, 4, 5]);
    expect(folder.kept.map((r) => r.source.input)).toEqual([0, 1, 1, 1, 2, 2, 2]);
    const glob = await read(["hf/data/train-*.parquet"]);
    expect(glob.kept.map((r) => (r.data as { id: number }).id)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("a file that is not Parquet, or cut off, is one corrupt_input reject with the reason", async () => {
    write("notparquet.parquet", '{"prompt":"hi","completion":"hello"}\n');
    const whole = parquetBytes(chats(5), 5);
    write("cut.parquet", whole.subarray(0, whole.length - 100));
    const { kept, rejected, stats } = await read(["notparquet.parquet", "cut.parquet"]);
    expect(kept).toEqual([]);
    expect(rejected.map((r) => [formatSource(r.item.source), r.reason.code])).toEqual([
      ["notparquet.parquet row 1", "corrupt_input"],
      ["cut.parquet row 1", "corrupt_input"],
    ]);
    expect(rejected[0]!.reason.message).toContain("not a Parquet file: it starts with 7b 22 70 72, not PAR1");
    expect(rejected[1]!.reason.message).toContain("cut off or damaged: it does not end with PAR1");
    expect(stats.map((s) => s.records)).toEqual([1, 1]);
  });

  it("a damaged row group rejects its rows with the row group and rows; the row groups around it are kept", async () => {
    const bytes = Buffer.from(parquetBytes(chats(30), 10));
    // Overwrite the middle of the second row group's pages (its columns start where the first group's end).
    const { parquetMetadata } = await import("hyparquet");
    const groups = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)).row_groups;
    const chunk = groups[1]!.columns[1]!.meta_data!;
    const start = Number(chunk.dictionary_page_offset ?? chunk.data_page_offset);
    bytes.fill(0xff, start, start + Number(chunk.total_compressed_size));
    write("damaged.parquet", bytes);
    const { kept, rejected } = await read(["damaged.parquet"]);
    expect(kept.map((r) => r.source.record)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => i + 1),
      ...Array.from({ length: 10 }, (_, i) => i + 21),
    ]);
    expect(rejected.map((r) => r.item.source.record)).toEqual(Array.from({ length: 10 }, (_, i) => i + 11));
    expect(rejected[0]!.reason).toMatchObject({ code: "corrupt_input", rowGroup: 1 });
    expect(rejected[0]!.reason.message).toMatch(
      /^row group 1 of damaged\.parquet \(rows 11–20\): the row group is damaged/,
    );
  });

  it("an unsupported codec is a reject per row naming the codec, not a crash", async () => {
    write("lzo.parquet", parquetBytes(chats(4), 4, "LZO"));
    const { kept, rejected } = await read(["lzo.parquet"]);
    expect(kept).toEqual([]);
    expect(rejected.map((r) => r.reason.code)).toEqual(Array(4).fill("unsupported_codec"));
    expect(rejected[0]!.reason.message).toContain(
      "row group 0 of lzo.parquet (rows 1–4): compression LZO is not supported",
    );
  });

  it("values JSON cannot hold: NaN rejects the row with its field path; int64 past 2^53 warns as JSONL does", async () => {
    const writer = new ByteWriter();
    const parquet = new ParquetWriter({
      writer,
      schema: [
        { name: "root", num_children: 2 },
        { name: "id", type: "INT64", repetition_type: "OPTIONAL" },
        { name: "score", type: "DOUBLE", repetition_type: "OPTIONAL" },
      ] as never,
    });
    parquet.write({
      columnData: [
        { name: "id", data: [1n, 9007199254740993n, 3n] },
        { name: "score", data: [0.5, 1, Number.NaN] },
      ] as never,
    });
    parquet.finish();
    write("values.parquet", writer.getBytes());
    const { kept, rejected, warnings } = await read(["values.parquet"]);
    expect(kept.map((r) => r.source.record)).toEqual([1, 2]);
    expect(rejected.map((r) => [r.item.source.record, r.reason.code, r.reason.issues?.[0]?.path])).toEqual([
      [3, "number_out_of_range", "score"],
    ]);
    expect(warnings.map((w) => [w.item.source.record, w.issue.code, w.issue.path])).toEqual([
      [2, "unsafe_integer", "id"],
    ]);
  });
});

describe("Parquet shards", () => {
  it("cuts a big Parquet file at row groups; stitched shards give exactly the sequential read", async () => {
    const records = chats(60);
    write("big.parquet", parquetBytes(records, 10));
    const shards = await planShards(["big.parquet"], { cwd: dir, targetBytes: 1000 });
    expect(shards.length).toBeGreaterThan(1);
    expect(shards.every((s) => s.rowGroups !== undefined)).toBe(true);
    expect(shards.map((s) => s.rowGroups)).toEqual(
      shards.map((_, i) => [shards[i]!.rowGroups![0], (shards[i + 1]?.rowGroups ?? [6])[0]]),
    );
    const stitcher = new ShardStitcher();
    const sources: unknown[] = [];
    for (const shard of shards) {
      const result = await readShard(shard, { cwd: dir });
      for (const entry of stitcher.stitch(result)) sources.push(entry.item.source);
    }
    const sequential = await read(["big.parquet"]);
    expect(sources).toEqual(sequential.kept.map((r) => r.source));
  });
});
