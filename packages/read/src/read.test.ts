import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import {
  type Envelope,
  type RecordSource,
  type Rejected,
  runPipeline,
  type StageContext,
  type Warning,
} from "@curate/core";
import { afterAll, describe, expect, it } from "vitest";
import { readInputs, readStream } from "./read.js";
import type { InputStats, ReadOptions } from "./types.js";

const fixtures = fileURLToPath(new URL("./__fixtures__/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "curate-read-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Collected {
  kept: Envelope[];
  rejected: Rejected[];
  warnings: Warning[];
  /** Every record, kept or rejected, as `line:code` (`line:ok` when kept), in the order the reader produced them. */
  routes: string[];
  stats: InputStats[];
}

/**
 * Reads a source the way a consumer does, one record at a time, and collects every route in the order the reader
 * produced it. (The runner batches kept records, so it does not keep rejects and kept records interleaved.)
 */
async function collect(source: RecordSource & { stats: InputStats[] }): Promise<Collected> {
  const result: Collected = { kept: [], rejected: [], warnings: [], routes: [], stats: [] };
  const ctx: StageContext = {
    stage: "read",
    reject(item, reason) {
      result.rejected.push({ stage: "read", item, reason });
      result.routes.push(`${item.source.line}:${reason.code}`);
    },
    duplicate() {
      throw new Error("the reader never reports duplicates");
    },
    warn(item, issue) {
      result.warnings.push({ stage: "read", item, issue });
    },
  };
  for await (const record of source(ctx)) {
    result.kept.push(record);
    result.routes.push(`${record.source.line}:ok`);
  }
  result.stats = source.stats;
  return result;
}

/** The same through the runner and the batch form it uses: checks conservation; routes sorted by line. */
async function collectBatches(source: RecordSource): Promise<string[]> {
  const routes: [number, string][] = [];
  const run = runPipeline(source, [], { onReject: (r) => routes.push([r.item.source.line, r.reason.code]) });
  for await (const batch of run.batches) for (const record of batch) routes.push([record.source.line, "ok"]);
  return routes.sort((a, b) => a[0] - b[0]).map(([line, code]) => `${line}:${code}`);
}

/** A stream that delivers `bytes` in pieces of `size` bytes, to put chunk boundaries everywhere. */
function chunked(bytes: Buffer | string, size = Number.POSITIVE_INFINITY): Readable {
  const buf = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += Math.min(size, buf.length)) pieces.push(buf.subarray(i, i + size));
  return Readable.from(pieces, { objectMode: false });
}

function text(input: Buffer | string, options: ReadOptions & { size?: number; file?: string } = {}) {
  const { size, file, ...rest } = options;
  return collect(readStream(chunked(input, size), file ?? "t.jsonl", rest));
}

function write(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

const chat = (n: number) =>
  JSON.stringify({
    messages: [
      { role: "user", content: `Question ${n}: what is ${n} + ${n}?` },
      { role: "assistant", content: `${n + n}` },
    ],
  });

describe("readStream: JSONL", () => {
  it("keeps objects with file, 1-based line and byte length", async () => {
    const r = await text(`${chat(1)}\n${chat(2)}\n`);
    expect(r.kept.map((e) => [e.source, e.meta?.bytes])).toEqual([
      [{ file: "t.jsonl", line: 1, record: 1, offset: 0, input: 0 }, Buffer.byteLength(chat(1))],
      [
        { file: "t.jsonl", line: 2, record: 2, offset: Buffer.byteLength(chat(1)) + 1, input: 0 },
        Buffer.byteLength(chat(2)),
      ],
    ]);
    expect(r.kept[1]!.data).toEqual(JSON.parse(chat(2)));
    expect(r.stats).toEqual([
      expect.objectContaining({ path: "t.jsonl", records: 2, blankLines: 0, compression: "none", container: "jsonl" }),
    ]);
  });

  it("rejects invalid JSON with line, column, a short excerpt and the raw line as data", async () => {
    const bad = '{"instruction": "Summarise", "output": "ok",}';
    const r = await text(`${chat(1)}\n${bad}\n{"a": tru}\n`);
    expect(r.routes).toEqual(["1:ok", "2:invalid_json", "3:invalid_json"]);
    expect(r.rejected[0]).toMatchObject({
      stage: "read",
      item: { data: bad, source: { file: "t.jsonl", line: 2 } },
      reason: { code: "invalid_json", column: 45, excerpt: '…marise", "output": "ok",}' },
    });
    expect(r.rejected[0]!.reason.message).toMatch(/^invalid JSON at column 45: Expected double-quoted property name/);
    // V8 gives no position for "Unexpected token" errors; the reader finds it itself.
    expect(r.rejected[1]!.reason).toMatchObject({ column: 10, excerpt: '{"a": tru}' });
  });

  it("rejects records that are not objects: arrays, strings, numbers, null, booleans", async () => {
    // The first line is an object: a first byte `[` would make the whole input one JSON array.
    const r = await text('{}\n[{"a":1}]\n"text"\n42\nnull\ntrue\n');
    expect(r.routes).toEqual([
      "1:ok",
      "2:not_an_object",
      "3:not_an_object",
      "4:not_an_object",
      "5:not_an_object",
      "6:not_an_object",
    ]);
    expect(r.rejected.map((x) => x.reason.message)).toEqual([
      "expected a JSON object per record, found an array of 1",
      'expected a JSON object per record, found string "text"',
      "expected a JSON object per record, found number 42",
      "expected a JSON object per record, found null",
      "expected a JSON object per record, found boolean true",
    ]);
  });

  it("rejects invalid UTF-8 with the column of the first bad byte, and keeps a real U+FFFD", async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"text": "caf'),
      Buffer.from([0xe9]), // Latin-1 é: not UTF-8
      Buffer.from('"}\n{"text": "overlong '),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from('"}\n{"text": "surrogate '),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('"}\n{"text": "replacement \uFFFD is fine"}\n'),
    ]);
    const r = await text(bytes);
    expect(r.routes).toEqual(["1:invalid_utf8", "2:invalid_utf8", "3:invalid_utf8", "4:ok"]);
    expect(r.rejected.map((x) => x.reason.column)).toEqual([14, 20, 21]);
    expect(r.rejected[0]!.reason.message).toBe(
      "invalid UTF-8 at column 14 (bytes e9 22 7d); re-encode the file as UTF-8",
    );
    expect(r.kept[0]!.data).toEqual({ text: "replacement \uFFFD is fine" });
  });

  it("rejects a truncated last line, and keeps a last line without newline that parses", async () => {
    const cut = await text(`${chat(1)}\n{"prompt": "Tell me a st`);
    expect(cut.routes).toEqual(["1:ok", "2:truncated_line"]);
    expect(cut.rejected[0]!.reason).toMatchObject({ code: "truncated_line", column: 25 });
    expect(cut.rejected[0]!.item.data).toBe('{"prompt": "Tell me a st');

    const whole = await text(`${chat(1)}\n${chat(2)}`);
    expect(whole.routes).toEqual(["1:ok", "2:ok"]);
  });

  it("rejects duplicate keys with their paths (JSON.parse would keep the last silently)", async () => {
    const r = await text(
      [
        '{"instruction":"Add","output":"a","output":"b"}',
        '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x","content":"y"}]}',
        '{"a":1,"\\u0061":2}',
        '{"text":"a \\"quoted\\": value","b":1}', // a `":` inside a string: pre-test fires, no duplicate
        '{"a" : 1, "b" :2}',
        '{"url":"http://example.com","at":"10:30"}', // colons in strings: the key-token count decides
        '{"at":"10:30","at":"11:00"}',
        '{"a" :1,"a":2}', // spaced and unspaced keys mixed
      ].join("\n"),
    );
    expect(r.routes).toEqual([
      "1:duplicate_key",
      "2:duplicate_key",
      "3:duplicate_key",
      "4:ok",
      "5:ok",
      "6:ok",
      "7:duplicate_key",
      "8:duplicate_key",
    ]);
    expect(r.rejected[0]!.reason).toMatchObject({
      code: "duplicate_key",
      message: 'duplicate key "output" at output: JSON.parse would keep only the last value',
      issues: [{ code: "duplicate_key", path: "output" }],
    });
    expect(r.rejected[1]!.reason.issues?.[0]?.path).toBe("messages[1].content");
    expect(r.rejected[2]!.reason.issues?.[0]?.path).toBe("a");
  });

  it("rejects lone UTF-16 surrogate escapes with their path, and keeps pairs and escaped backslashes", async () => {
    const r = await text(
      [
        '{"messages":[{"role":"user","content":"bad \\ud800 here"}]}',
        '{"text":"low alone \\uDC00"}',
        '{"text":"pair \\ud83d\\ude00"}',
        '{"text":"literal \\\\ud800 text"}',
        '{"\\ud800":"in a key"}',
      ].join("\n"),
    );
    expect(r.routes).toEqual(["1:lone_surrogate", "2:lone_surrogate", "3:ok", "4:ok", "5:lone_surrogate"]);
    expect(r.rejected[0]!.reason.issues).toEqual([
      expect.objectContaining({ code: "lone_surrogate", path: "messages[0].content", found: "\\ud800" }),
    ]);
    expect(r.rejected[2]!.reason.issues?.[0]?.message).toMatch(/^key holds a lone UTF-16 surrogate/);
    expect(r.kept.map((e) => e.data)).toEqual([{ text: "pair 😀" }, { text: "literal \\ud800 text" }]);
  });

  it("warns on integers beyond 2^53 and keeps the record; long digit strings are fine", async () => {
    const r = await text('{"id": 12345678901234567890, "n": [1, -9007199254740993]}\n{"phone": "12345678901234567"}\n');
    expect(r.routes).toEqual(["1:ok", "2:ok"]);
    expect(r.warnings.map((w) => [w.item.source.line, w.issue.code, w.issue.path, w.issue.found])).toEqual([
      [1, "unsafe_integer", "id", "12345678901234567000"],
      [1, "unsafe_integer", "n[1]", "-9007199254740992"],
    ]);
  });

  it("rejects a line over maxLineBytes, keeping its first KiB, without holding the rest", async () => {
    const huge = `{"text": "${"x".repeat(1_000_000)}"}`;
    const r = await text(`${chat(1)}\n${huge}\n${chat(3)}\n`, { maxLineBytes: 1000, size: 64 * 1024 });
    expect(r.routes).toEqual(["1:ok", "2:line_too_long", "3:ok"]);
    const rejected = r.rejected[0]!;
    expect(rejected.item.meta?.bytes).toBe(huge.length);
    expect((rejected.item.data as string).length).toBe(1024);
    expect(rejected.item.data).toBe(huge.slice(0, 1024));
    expect(rejected.reason.message).toBe(
      `line is ${huge.length} bytes, over the limit of 1000 (maxLineBytes); only its first 1024 bytes are kept here`,
    );
  });

  it("reads a file with no newline at all in bounded memory", async () => {
    // 32 MiB of one line in fresh 64 KiB buffers; each would stay reachable if the reader held the line.
    async function* endless() {
      for (let i = 0; i < 512; i++) yield Buffer.alloc(64 * 1024, 0x61);
    }
    const r = await collect(readStream(Readable.from(endless()), "one-line.jsonl", { maxLineBytes: 4096 }));
    expect(r.routes).toEqual(["1:line_too_long"]);
    expect(r.rejected[0]!.item.meta?.bytes).toBe(32 * 1024 * 1024);
  });

  it("strips a UTF-8 BOM (even split over chunks), accepts CRLF, skips and counts blank lines", async () => {
    const input = `\uFEFF${chat(1)}\r\n\r\n   \n\t\r\n${chat(5)}\r\n\n`;
    for (const size of [1, 2, 3, 7, 1 << 20]) {
      const r = await text(input, { size });
      expect(r.routes, `chunks of ${size}`).toEqual(["1:ok", "5:ok"]);
      expect(r.kept[0]!.meta?.bytes).toBe(Buffer.byteLength(chat(1)));
      expect(r.stats[0]).toMatchObject({ records: 2, blankLines: 4 });
    }
  });

  it("decodes multi-byte characters and CRLF split across chunk boundaries", async () => {
    const records = ['{"text":"Grüße, 日本語, 🙂"}', '{"text":"naïve café"}'];
    const input = `${records.join("\r\n")}\r\n`;
    const whole = await text(input);
    for (let size = 1; size <= 9; size++) {
      const r = await text(input, { size });
      expect(r.routes, `chunks of ${size}`).toEqual(["1:ok", "2:ok"]);
      expect(r.kept.map((e) => e.data)).toEqual(whole.kept.map((e) => e.data));
    }
    expect(whole.kept[0]!.data).toEqual({ text: "Grüße, 日本語, 🙂" });
  });

  it("keeps __proto__ and constructor as plain data, without touching any prototype", async () => {
    const r = await text(
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "prompt": "p"}\n',
    );
    const data = r.kept[0]!.data as Record<string, unknown>;
    expect(Object.hasOwn(data, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(data, "__proto__")?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Spreading (what stages do) copies it as an own property too.
    const copy = { ...data };
    expect(Object.hasOwn(copy, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("survives nesting deeper than the call stack, still finding duplicate keys", async () => {
    const deep = (inner: string) => `{"a":${"[".repeat(50_000)}${inner}${"]".repeat(50_000)}}`;
    const r = await text(`${deep('{"b":1}')}\n${deep('{"b":1,"b":2}')}\n`);
    expect(r.routes).toEqual(["1:ok", "2:duplicate_key"]);
  });

  it("gives the same routes per batch (through the runner, conservation checked) as per record", async () => {
    const input = `${chat(1)}\nnope\n[1]\n${chat(4)}\n{"a":1,"a":2}\n`;
    const a = await collect(readStream(chunked(input, 5), "t.jsonl"));
    const b = await collectBatches(readStream(chunked(input, 5), "t.jsonl"));
    expect(a.routes).toEqual(["1:ok", "2:invalid_json", "3:not_an_object", "4:ok", "5:duplicate_key"]);
    expect(b).toEqual(a.routes);
  });

  it("handles empty and whitespace-only input", async () => {
    expect((await text("")).routes).toEqual([]);
    const blank = await text("\n\n  ");
    expect(blank.routes).toEqual([]);
    expect(blank.stats[0]).toMatchObject({ records: 0, blankLines: 3, container: "jsonl" });
  });

  it("rejects an invalid maxLineBytes up front", () => {
    expect(() => readStream(chunked(""), "x", { maxLineBytes: 0 })).toThrow(/maxLineBytes must be a positive integer/);
  });
});

describe("readStream: JSON arrays", () => {
  const array = [
    "[",
    '  {"instruction": "Add", "input": "2 2", "output": "4"},',
    '  {"text": "brackets ] } [ { and \\"quotes\\" in strings"}, {"b": [1, {"c": []}]},',
    "  42,",
    '  {"bad": nope}',
    "]",
    "",
  ].join("\n");

  it("reads each element with the line it starts on, by content rather than by name", async () => {
    const r = await text(array, { file: "data.jsonl" });
    expect(r.routes).toEqual(["2:ok", "3:ok", "3:ok", "4:not_an_object", "5:invalid_json"]);
    expect(r.kept[1]!.data).toEqual({ text: 'brackets ] } [ { and "quotes" in strings' });
    expect(r.rejected[1]!.reason).toMatchObject({ column: 12, excerpt: '{"bad": nope}' });
    expect(r.stats[0]).toMatchObject({ container: "json-array", records: 5 });
  });

  it("gives the same result whatever the chunk boundaries", async () => {
    const whole = await text(array);
    for (const size of [1, 2, 3, 5, 8, 13]) {
      const r = await text(array, { size });
      expect(r.routes, `chunks of ${size}`).toEqual(whole.routes);
      expect(r.kept.map((e) => e.data)).toEqual(whole.kept.map((e) => e.data));
      expect(r.rejected.map((x) => x.reason)).toEqual(whole.rejected.map((x) => x.reason));
    }
  });

  it("handles escapes across chunk boundaries", async () => {
    const input = String.raw`[{"a":"x\\"},{"b":"y\"]\\\""}]`;
    for (let size = 1; size <= 6; size++) {
      const r = await text(input, { size });
      expect(r.kept.map((e) => e.data)).toEqual([{ a: "x\\" }, { b: 'y"]\\"' }]);
    }
  });

  it("reports empty elements, trailing commas, content after the array and an unclosed array", async () => {
    expect((await text("[]")).routes).toEqual([]);
    expect((await text('\uFEFF\n [{"a":1},,{"b":2},]')).routes).toEqual([
      "2:ok",
      "2:invalid_json",
      "2:ok",
      "2:invalid_json",
    ]);
    const after = await text('[{"a":1}]\n{"b":2}\n');
    expect(after.routes).toEqual(["1:ok", "2:invalid_json"]);
    expect(after.rejected[0]!.item.data).toBe('{"b":2}\n');
    const cut = await text('[{"a":1},\n{"b":');
    expect(cut.routes).toEqual(["1:ok", "2:truncated_line"]);
    const open = await text('[{"a":1},\n{"b":2}');
    expect(open.routes).toEqual(["1:ok", "2:ok"]);
    expect(open.warnings.map((w) => w.issue.code)).toEqual(["unterminated_array"]);
    expect((await text('[{"a":1},\n')).routes).toEqual(["1:ok", "2:truncated_line"]);
  });

  it("rejects an element over maxLineBytes without holding it", async () => {
    const big = JSON.stringify({ text: "y".repeat(50_000) });
    const r = await text(`[${chat(1)},\n${big},\n${chat(2)}]`, { maxLineBytes: 2000, size: 4096 });
    expect(r.routes).toEqual(["1:ok", "2:line_too_long", "3:ok"]);
    expect(r.rejected[0]!.item.meta?.bytes).toBe(big.length);
  });
});

describe("readStream: JSON values (.json files of pretty-printed objects)", () => {
  const record = (n: number) => ({
    messages: [
      { role: "system", content: "You are a concise assistant." },
      { role: "user", content: `Question ${n}: what is ${n} + ${n}? Answer with {braces} and "quotes".` },
      { role: "assistant", content: `${n + n}` },
    ],
    meta: { source: "support-export", tags: ["math", "short"] },
  });
  /** What `jq . data.jsonl > data.json` writes: each value pretty-printed with 2 spaces, then a newline. */
  const pretty = (...values: unknown[]) => values.map((v) => `${JSON.stringify(v, null, 2)}\n`).join("");
  const lines = (value: unknown) => JSON.stringify(value, null, 2).split("\n").length;

  it("reads one pretty-printed chat record from a .json file", async () => {
    const r = await text(pretty(record(1)), { file: "chat.json" });
    expect(r.routes).toEqual(["1:ok"]);
    expect(r.kept[0]!.data).toEqual(record(1));
    expect(r.kept[0]!.meta?.bytes).toBe(Buffer.byteLength(JSON.stringify(record(1), null, 2)));
    expect(r.stats[0]).toMatchObject({ records: 1, blankLines: 0, container: "json-values" });
  });

  it("reads concatenated pretty records (jq output), each with the line it starts on, whatever the chunks", async () => {
    const input = pretty(record(1), record(2), { prompt: "Capital of France?", completion: "Paris" });
    const second = 1 + lines(record(1));
    const third = second + lines(record(2));
    expect([second, third]).toEqual([24, 47]); // 23 lines per record
    for (const size of [1, 2, 3, 5, 8, 13, 1 << 20]) {
      const r = await text(input, { file: "data.json", size });
      expect(r.routes, `chunks of ${size}`).toEqual(["1:ok", `${second}:ok`, `${third}:ok`]);
      expect(r.kept.map((e) => e.data)).toEqual([
        record(1),
        record(2),
        { prompt: "Capital of France?", completion: "Paris" },
      ]);
    }
  });

  it("reads JSONL inside a .json file as before: one value per line", async () => {
    const input = `${chat(1)}\n\n${chat(2)}\n{"a": nope}\n[1, 2]\n${chat(6)}\n`;
    const asJson = await text(input, { file: "data.json" });
    const asJsonl = await text(input, { file: "data.jsonl" });
    expect(asJson.routes).toEqual(["1:ok", "3:ok", "4:invalid_json", "5:not_an_object", "6:ok"]);
    expect(asJson.routes).toEqual(asJsonl.routes);
    const seen = (r: Collected) => r.kept.map((e) => [e.source.line, e.meta, e.data]);
    expect(seen(asJson)).toEqual(seen(asJsonl));
    expect(asJson.rejected.map((x) => x.reason)).toEqual(asJsonl.rejected.map((x) => x.reason));
  });

  it("rejects a pretty record with a duplicate key deep inside, with its path", async () => {
    const dup = [
      "{",
      '  "messages": [',
      '    { "role": "user", "content": "Translate: chat" },',
      '    { "role": "assistant", "content": "cat", "content": "le chat" }',
      "  ]",
      "}",
    ].join("\n");
    const r = await text(`${dup}\n${pretty(record(3))}`, { file: "dup.json" });
    expect(r.routes).toEqual(["1:duplicate_key", "7:ok"]);
    expect(r.rejected[0]!.reason).toMatchObject({
      code: "duplicate_key",
      issues: [{ code: "duplicate_key", path: "messages[1].content" }],
    });
    expect(r.rejected[0]!.item.data).toBe(dup);
  });

  it("rejects a broken record with the line and column where it broke, and reads on", async () => {
    const broken = [
      "{",
      '  "instruction": "Name a colour",',
      '  "input": ""',
      '  "output": "blue"', // line 4: the comma after line 3 is missing
      "}",
    ].join("\n");
    const r = await text(`${pretty(record(1))}${broken}\n${pretty(record(2))}`, { file: "broken.json", size: 7 });
    const start = 1 + lines(record(1));
    expect(r.routes).toEqual(["1:ok", `${start}:invalid_json`, `${start + 5}:ok`]);
    expect(r.rejected[0]!.reason).toMatchObject({
      code: "invalid_json",
      message: `invalid JSON at line ${start + 3} column 3: Expected ',' or '}' after property value`,
      column: 3,
      errorLine: start + 3,
    });
    expect(r.rejected[0]!.reason.excerpt).toContain('"output": "blue"');
    expect(r.rejected[0]!.item.data).toBe(broken);
  });

  it("rejects values that are not objects, invalid UTF-8 and lone surrogates; warns on unsafe integers", async () => {
    const input = Buffer.concat([
      Buffer.from('{\n  "id": 12345678901234567890\n}\n[\n  1\n]\n42\n"text"\n{\n  "text": "caf'),
      Buffer.from([0xe9]),
      Buffer.from('"\n}\n{\n  "text": "bad \\ud800"\n}\n{"ok": true}'),
    ]);
    const r = await text(input, { file: "mixed.json" });
    expect(r.routes).toEqual([
      "1:ok",
      "4:not_an_object",
      "7:not_an_object",
      "8:not_an_object",
      "9:invalid_utf8",
      "12:lone_surrogate",
      "15:ok",
    ]);
    expect(r.warnings.map((w) => [w.item.source.line, w.issue.code, w.issue.path])).toEqual([
      [1, "unsafe_integer", "id"],
    ]);
    expect(r.rejected[0]!.reason.message).toBe("expected a JSON object per record, found an array of 1");
    // The bad byte is on the record's second line: `  "text": "caf` is 14 characters before it.
    expect(r.rejected[3]!.reason).toMatchObject({ code: "invalid_utf8", column: 15, errorLine: 10 });
    expect(r.rejected[3]!.reason.message).toBe(
      "invalid UTF-8 at line 10 column 15 (bytes e9 22 0a 7d); re-encode the file as UTF-8",
    );
  });

  it("strips a BOM and accepts CRLF, with the same lines and data as LF", async () => {
    const lf = pretty(record(1), record(2));
    const crlf = `\uFEFF${lf.replaceAll("\n", "\r\n")}`;
    const want = await text(lf, { file: "a.json" });
    for (const size of [1, 2, 3, 1 << 20]) {
      const r = await text(crlf, { file: "a.json", size });
      expect(r.routes, `chunks of ${size}`).toEqual(want.routes);
      expect(r.kept.map((e) => e.data)).toEqual([record(1), record(2)]);
    }
  });

  it("reads an empty or whitespace-only .json file as no records", async () => {
    for (const input of ["", "\uFEFF", "\n\n  \r\n"]) {
      const r = await text(input, { file: "empty.json" });
      expect(r.routes).toEqual([]);
      expect(r.stats[0]).toMatchObject({ records: 0, blankLines: 0, container: "json-values" });
    }
  });

  it("rejects text between values (trailing garbage, commas between objects) up to the end of its line", async () => {
    const input = `${pretty({ a: 1 })},\n${pretty({ b: 2 })}Exported 2 records\n} ]\n`;
    const r = await text(input, { file: "trail.json", size: 4 });
    expect(r.routes).toEqual(["1:ok", "4:invalid_json", "5:ok", "8:invalid_json", "9:invalid_json"]);
    expect(r.rejected.map((x) => x.item.data)).toEqual([",", "Exported 2 records", "} ]"]);
    expect(r.rejected[1]!.reason).toMatchObject({ column: 1, excerpt: "Exported 2 records" });
    expect(r.stats[0]).toMatchObject({ records: 5 });
  });

  it("rejects a value that never closes: where it broke, or a cut-off file; nothing after it is lost silently", async () => {
    // A missing `}` on the first record: the second one is read as part of it, and the reject says so.
    const unclosed = '{\n  "messages": [\n    {"role": "user", "content": "hi"}\n  ]\n{\n  "b": 1\n}\n';
    const r = await text(unclosed, { file: "unclosed.json" });
    expect(r.routes).toEqual(["1:invalid_json"]);
    expect(r.rejected[0]!.reason).toMatchObject({ column: 1, errorLine: 5 });
    expect(r.rejected[0]!.reason.message).toMatch(
      /^invalid JSON at line 5 column 1: Expected ',' or '}' after property value; the value that starts at line 1 column 1 never closes, so the reader took the rest of the input \(\d+ bytes\) as part of it/,
    );
    const cut = await text(`${pretty(record(1))}{\n  "prompt": "Tell me a st`, { file: "cut.json" });
    expect(cut.routes).toEqual(["1:ok", `${1 + lines(record(1))}:truncated_line`]);
    expect(cut.rejected[0]!.reason.message).toBe(
      `the input ends inside the JSON value that starts at line ${1 + lines(record(1))} column 1 (it is never closed); the file may be cut off`,
    );
  });

  it("rejects a record over maxLineBytes without holding it, then reads the next one", async () => {
    const big = { text: "y".repeat(50_000) };
    const input = pretty(record(1), big, record(2));
    const r = await text(input, { file: "big.json", maxLineBytes: 4000, size: 4096 });
    expect(r.routes).toEqual(["1:ok", `${1 + lines(record(1))}:line_too_long`, `${4 + lines(record(1))}:ok`]);
    expect(r.rejected[0]!.item.meta?.bytes).toBe(JSON.stringify(big, null, 2).length);
    expect(r.rejected[0]!.reason.message).toMatch(/^record is \d+ bytes, over the limit of 4000/);
  });

  it("gives the same routes per batch (through the runner) as per record, and reads .json.gz by name", async () => {
    const input = `${pretty(record(1))}nope\n${pretty({ a: 1, a2: [1] })}{"a":1,"a":2}\n`;
    const a = await text(input, { file: "b.json", size: 5 });
    expect(a.routes).toEqual(["1:ok", "24:invalid_json", "25:ok", "31:duplicate_key"]);
    expect(await collectBatches(readStream(chunked(input, 5), "b.json"))).toEqual(a.routes);
    const gz = await collect(readInputs([write("values/data.json.gz", gzipSync(input))]));
    expect(gz.routes).toEqual(a.routes);
    expect(gz.stats[0]).toMatchObject({ compression: "gzip", container: "json-values", records: 4 });
  });
});

describe("readStream: pretty-printed JSON where JSONL is expected", () => {
  const prettyChat = `${JSON.stringify({ messages: [{ role: "user", content: "hi" }] }, null, 2)}\n`;

  it("says once per file that the input looks pretty-printed, and how to fix it", async () => {
    const r = await text(`${prettyChat}${prettyChat}`, { file: "chats.jsonl" });
    expect(r.routes.slice(0, 3)).toEqual(["1:invalid_json", "2:invalid_json", "3:invalid_json"]);
    expect(r.rejected).toHaveLength(16);
    expect(r.rejected[0]!.reason.message).toBe(
      "invalid JSON at column 2: Expected property name or '}'; this looks like pretty-printed JSON: one record per line is expected — `jq -c . chats.jsonl` converts it, or name the file chats.json",
    );
    expect(r.rejected[0]!.reason.hint).toMatch(/^this looks like pretty-printed JSON/);
    expect(r.rejected.filter((x) => x.reason.message.includes("pretty-printed"))).toHaveLength(1);
    expect(r.stats[0]).toMatchObject({ container: "jsonl" });
  });

  it("hints on the first pretty-looking line, for stdin and compressed names too; not for broken one-line records", async () => {
    const indented = await text(`${chat(1)}\n{"a": nope}\n  "content": "hi",\n}\n`, { file: "x.ndjson" });
    expect(indented.routes).toEqual(["1:ok", "2:invalid_json", "3:invalid_json", "4:invalid_json"]);
    expect(indented.rejected.map((x) => typeof x.reason.hint)).toEqual(["undefined", "string", "undefined"]);
    const stdin = await collect(readInputs(["-"], { stdin: chunked(prettyChat) }));
    expect(stdin.rejected[0]!.reason.message).toMatch(
      /pretty-printed JSON: one record per line is expected — pipe it through `jq -c \.` first/,
    );
    const gz = await text(gzipSync(prettyChat), { file: "d/chats.jsonl.gz" });
    expect(gz.rejected[0]!.reason.hint).toBe(
      "this looks like pretty-printed JSON: one record per line is expected — `gzip -dc d/chats.jsonl.gz | jq -c .` converts it, or name the file d/chats.json.gz",
    );
    const cut = await text("{", { file: "t.jsonl" });
    expect(cut.rejected[0]!.reason).toMatchObject({ code: "truncated_line", hint: expect.any(String) });
  });
});

describe("compression", () => {
  const records = `${chat(1)}\n${chat(2)}\n`;

  it("reads gzip by magic bytes, whatever the name, including concatenated members", async () => {
    const gz = Buffer.concat([gzipSync(`${chat(1)}\n`), gzipSync(`${chat(2)}\n`)]);
    const r = await text(gz, { file: "data.jsonl", size: 7 });
    expect(r.routes).toEqual(["1:ok", "2:ok"]);
    expect(r.stats[0]).toMatchObject({ compression: "gzip", bytes: gz.length });
  });

  it("reads zstd (a committed fixture, since CI may lack the zstd binary), multiple frames too", async () => {
    const r = await collect(readInputs([join(fixtures, "records.jsonl.zst")]));
    expect(r.routes).toEqual(["1:ok", "2:ok", "4:invalid_json"]);
    expect(r.kept[1]!.data).toEqual({ prompt: "Café?", completion: "Oui" });
    expect(r.stats[0]).toMatchObject({ compression: "zstd", records: 3, blankLines: 1 });
    const two = readFileSync(join(fixtures, "two-frames.zst"));
    const r2 = await text(two, { size: 5 });
    expect(r2.routes).toEqual(["1:ok", "2:ok", "4:invalid_json", "5:ok"]);
  });

  it("turns a cut-off gzip or zstd stream into records read so far plus a corrupt_input reject", async () => {
    const gz = gzipSync(records);
    const r = await text(gz.subarray(0, gz.length - 12));
    expect(r.routes[0]).toBe("1:ok");
    expect(r.routes.at(-1)).toMatch(/^\d+:corrupt_input$/);
    expect(r.rejected.at(-1)!.reason.message).toMatch(/^gzip data is corrupt or cut off/);
    const zst = readFileSync(join(fixtures, "records.jsonl.zst"));
    const z = await text(zst.subarray(0, zst.length - 10));
    expect(z.routes.at(-1)).toMatch(/:corrupt_input$/);
  });
});

describe("readInputs", () => {
  it("reads files in order, with stats: raw bytes, sha256, records, blank lines", async () => {
    const a = write("inputs/a.jsonl", `${chat(1)}\n\n${chat(2)}\n`);
    const b = write("inputs/b.json.gz", gzipSync(`[${chat(3)}]`));
    let bytes = 0;
    const source = readInputs([a, b], { onBytes: (n) => (bytes += n) });
    const r = await collect(source);
    expect(r.kept.map((e) => `${e.source.file.slice(dir.length)}:${e.source.line}`)).toEqual([
      "/inputs/a.jsonl:1",
      "/inputs/a.jsonl:3",
      "/inputs/b.json.gz:1",
    ]);
    const gzBytes = readFileSync(b);
    expect(bytes).toBe(readFileSync(a).length + gzBytes.length);
    expect(r.stats[1]).toEqual({
      path: b,
      bytes: gzBytes.length,
      sha256: createHash("sha256").update(gzBytes).digest("hex"),
      records: 1,
      blankLines: 0,
      compression: "gzip",
      container: "json-array",
    });
    expect(r.stats[0]).toMatchObject({ records: 2, blankLines: 1 });
  });

  it("gives every record an identity: input index, record number and byte offset, also inside one line", async () => {
    // What Python's json.dump writes: a whole dataset on line 1, with a BOM and a blank line before it.
    const records = [chat(1), '{"bad": tru}', chat(3), chat(4)];
    const body = `[${records.join(", ")}]`;
    write("one-line.json", `\uFEFF\n${body}`);
    write("lines.jsonl", `${chat(5)}\n\n${chat(6)}\n`);
    const r = await collect(readInputs(["one-line.json", "lines.jsonl"], { cwd: dir }));
    const all = [...r.kept.map((e) => e.source), ...r.rejected.map((x) => x.item.source)].sort(
      (a, b) => a.input! - b.input! || a.record! - b.record!,
    );
    const bytes = Buffer.from(`\uFEFF\n${body}`);
    const expectedOffsets = records.map((text) => bytes.indexOf(text));
    expect(all.map((s) => [s.input, s.record, s.line, s.offset])).toEqual([
      ...records.map((_, i) => [0, i + 1, 2, expectedOffsets[i]]),
      [1, 1, 1, 0],
      [1, 2, 3, Buffer.byteLength(chat(5)) + 2],
    ]);
    // The byte offset points at the record's first byte.
    expect(bytes.subarray(expectedOffsets[2]!, expectedOffsets[2]! + 1).toString()).toBe("{");
    expect(all[2]).toMatchObject({ column: body.indexOf(chat(3)) + 1 });
    expect(r.rejected[0]!.item.source).toMatchObject({ record: 2, line: 2 });
  });

  it("keeps relative paths relative in sources", async () => {
    write("rel/x.jsonl", `${chat(1)}\n`);
    const r = await collect(readInputs(["rel/x.jsonl"], { cwd: dir }));
    expect(r.kept[0]!.source).toMatchObject({ file: "rel/x.jsonl", line: 1 });
  });

  it("reads stdin for - or no inputs", async () => {
    for (const patterns of [[], ["-"]]) {
      const r = await collect(readInputs(patterns, { stdin: chunked(`${chat(1)}\n`) }));
      expect(r.kept.map((e) => e.source)).toEqual([{ file: "<stdin>", line: 1, record: 1, offset: 0, input: 0 }]);
    }
  });

  it("throws CURATE_INPUT_NOT_FOUND (exit 2) naming a missing input when iteration starts", async () => {
    const source = readInputs(["missing/nothing.jsonl"], { cwd: dir });
    await expect(collect(source)).rejects.toMatchObject({
      code: "CURATE_INPUT_NOT_FOUND",
      exitCode: 2,
      message: "input not found: missing/nothing.jsonl",
    });
  });

  it.skipIf(!existsProcFd())("closes the file when the consumer stops early, plain and gzip", async () => {
    // Several read chunks, and random text that gzip cannot shrink much, so neither is read whole at once.
    const noise = randomBytes(1_800_000).toString("base64");
    const lines = Array.from({ length: 30_000 }, (_, i) =>
      JSON.stringify({ id: i, text: noise.slice(i * 80, i * 80 + 80) }),
    ).join("\n");
    const plain = write("early/plain.jsonl", lines);
    const gz = write("early/packed.jsonl.gz", gzipSync(lines));
    for (const path of [plain, gz]) {
      const source = readInputs([path]);
      const run = runPipeline(source, []);
      let seen = 0;
      for await (const _ of run.records) {
        seen++;
        expect(openFds().some((target) => target === path)).toBe(true);
        break;
      }
      expect(seen).toBe(1);
      expect(openFds().filter((target) => target === path)).toEqual([]);

      // The per-record form, without the runner.
      for await (const _ of readInputs([path])({ stage: "read", reject() {}, duplicate() {}, warn() {} })) break;
      expect(openFds().filter((target) => target === path)).toEqual([]);
    }
  });

  it("reads the same records twice from one source (deterministic, stats reset)", async () => {
    const path = write("twice.jsonl", `${chat(1)}\nbad\n`);
    const source = readInputs([path]);
    const a = await collect(source);
    const b = await collect(source);
    expect(b.routes).toEqual(a.routes);
    expect(source.stats).toHaveLength(1);
  });
});

function existsProcFd(): boolean {
  try {
    readdirSync("/proc/self/fd");
    return true;
  } catch {
    return false;
  }
}

function openFds(): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}
