import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CurateError } from "@curate/core";
import { parquetMetadata, parquetReadObjects, parquetSchema } from "hyparquet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonlToParquet, loadParquetWriter, ParquetFileWriter, parquetSink } from "./parquet.js";

const dir = mkdtempSync(join(tmpdir(), "curate-parquet-write-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => loadParquetWriter());

/** Reads a Parquet file back with hyparquet, rows as plain JSON values (INT64 comes back as bigint). */
async function readBack(path: string): Promise<unknown[]> {
  const bytes = readFileSync(path);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const rows = await parquetReadObjects({ file });
  return JSON.parse(JSON.stringify(rows, (_, v) => (typeof v === "bigint" ? Number(v) : v)));
}

function jsonl(name: string, records: readonly unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return path;
}

describe("jsonlToParquet", () => {
  it("derives the schema from every record: ints, doubles, text, booleans, lists of structs, nulls", async () => {
    const records = [
      { id: 1, messages: [{ role: "user", content: "Hi" }], score: 1, ok: true, tags: ["a"] },
      { id: 2, messages: [{ role: "assistant", content: "Olá ✓", name: "bot" }], score: 0.25, ok: false, tags: [] },
      { id: 3, messages: [], score: null, ok: null, tags: null },
    ];
    const target = join(dir, "typed.parquet");
    const written = await jsonlToParquet(jsonl("typed.jsonl", records), target);
    expect(written.rows).toBe(3);
    expect(written.bytes).toBe(readFileSync(target).length);
    const bytes = readFileSync(target);
    const schema = parquetSchema(
      parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)),
    );
    expect(schema.children.map((c) => [c.element.name, c.element.type ?? c.element.converted_type])).toEqual([
      ["id", "INT64"],
      ["messages", "LIST"],
      ["score", "DOUBLE"],
      ["ok", "BOOLEAN"],
      ["tags", "LIST"],
    ]);
    // A field missing from a record (the first message has no `name`) is null there: Parquet has no "absent".
    expect(await readBack(target)).toEqual([
      { ...records[0], messages: [{ role: "user", content: "Hi", name: null }] },
      records[1],
      records[2],
    ]);
  });

  it("a field holding two kinds of value is an error naming the field and the record, suggesting JSONL", async () => {
    const source = jsonl("mixed.jsonl", [
      { messages: [{ role: "user", content: "Hi" }] },
      { messages: [{ role: "user", content: "Hi" }] },
      { messages: [{ role: "user", content: ["a", "list"] }] },
    ]);
    const target = join(dir, "mixed.parquet");
    const error = await jsonlToParquet(source, target, { shown: "out/train.parquet" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CurateError);
    expect(error).toMatchObject({ code: "CURATE_PARQUET_SCHEMA", exitCode: 2 });
    expect((error as Error).message).toBe(
      "cannot write out/train.parquet as Parquet: field messages[].content holds a string and an array (record 3), and a Parquet column has one type. Nothing was converted or written: write JSONL instead (--output-format jsonl), or give the field one type in every record",
    );
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes("mixed.parquet"))).toEqual([]);
  });

  it("numbers: integers then fractions make one DOUBLE column (one JSON number type); a string among them does not", async () => {
    const ok = join(dir, "numbers.parquet");
    await jsonlToParquet(jsonl("numbers.jsonl", [{ x: 1 }, { x: 2.5 }, { x: -3 }]), ok);
    expect(await readBack(ok)).toEqual([{ x: 1 }, { x: 2.5 }, { x: -3 }]);
    const error = await jsonlToParquet(jsonl("n2.jsonl", [{ x: 1 }, { x: "1" }]), join(dir, "n2.parquet")).catch(
      (e: Error) => e,
    );
    expect((error as Error).message).toContain("field x holds a number and a string (record 2)");
  });

  it("no records: a valid empty file; records without fields: an error", async () => {
    const empty = join(dir, "empty.parquet");
    await jsonlToParquet(jsonl("empty.jsonl", []), empty);
    expect(await readBack(empty)).toEqual([]);
    const error = await jsonlToParquet(jsonl("bare.jsonl", [{}, {}]), join(dir, "bare.parquet")).catch((e: Error) => e);
    expect((error as Error).message).toContain("the records have no field at all");
  });

  it("asJsonText keeps a reject's record (raw text or an object) as its JSON text", async () => {
    const target = join(dir, "rejects.parquet");
    await jsonlToParquet(
      jsonl("rejects.jsonl", [
        { source: { file: "a.jsonl", line: 2 }, code: "invalid_json", record: '{"prompt": ' },
        { source: { file: "a.jsonl", line: 5 }, code: "schema_mismatch", record: { prompt: 7 } },
      ]),
      target,
      { asJsonText: ["record"] },
    );
    expect(await readBack(target)).toEqual([
      { source: { file: "a.jsonl", line: 2 }, code: "invalid_json", record: '"{\\"prompt\\": "' },
      { source: { file: "a.jsonl", line: 5 }, code: "schema_mismatch", record: '{"prompt":7}' },
    ]);
  });

  it("writes row groups of bounded size", async () => {
    const records = Array.from({ length: 45_000 }, (_, i) => ({ id: i, text: `record ${i}` }));
    const target = join(dir, "groups.parquet");
    await jsonlToParquet(jsonl("groups.jsonl", records), target);
    const bytes = readFileSync(target);
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([20_000, 20_000, 5_000]);
  });
});

describe("ParquetFileWriter and parquetSink", () => {
  it("take JSONL text and leave only the Parquet file, with its size and checksum", async () => {
    const path = join(dir, "sink", "train.parquet");
    mkdirSync(join(dir, "sink"));
    const writer = new ParquetFileWriter(path);
    writer.write('{"prompt":"2+2?","completion":"4"}\n');
    writer.write('{"prompt":"Capital of Peru?","completion":"Lima"}\n');
    writer.close();
    expect(readdirSync(join(dir, "sink"))).toEqual(["train.parquet"]);
    expect(writer.bytesWritten).toBe(readFileSync(path).length);
    expect(writer.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await readBack(path)).toEqual([
      { prompt: "2+2?", completion: "4" },
      { prompt: "Capital of Peru?", completion: "Lima" },
    ]);
  });

  it("abort leaves nothing; stdout is refused with a usage error", () => {
    mkdirSync(join(dir, "aborted"));
    const writer = new ParquetFileWriter(join(dir, "aborted", "x.parquet"));
    writer.write('{"a":1}\n');
    writer.abort();
    expect(readdirSync(join(dir, "aborted"))).toEqual([]);
    expect(() => parquetSink("-")).toThrow(/Parquet cannot be written to standard output/);
  });
});
