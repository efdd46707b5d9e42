import { isUtf8 } from "node:buffer";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { Envelope, RejectReason, StageContext } from "@curate/core";
import { seededRandom } from "@curate/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { scanJson } from "./json-scan.js";
import { readInputs, readStream } from "./read.js";
import { type Entry, parseRecord, Routed } from "./record.js";

// The reader's fast paths (a chunk-level UTF-8 check, a cheap duplicate-key pre-test, 64 KiB batches) against the
// slow paths they stand in for, on seeded random inputs.

const dir = mkdtempSync(join(tmpdir(), "curate-read-fast-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const PIECES = ["a", "Zz", " ", "  ", ":", '"', "\\", "é", "中文", "😀", "\uFFFD", "\t", "x: y", "日本語の文", "ß"];

function randomText(random: () => number): string {
  let s = "";
  const n = Math.floor(random() * 12);
  for (let i = 0; i < n; i++) s += pick(random, PIECES);
  return s;
}

/** Bytes that are not UTF-8: a stray continuation, an overlong, a cut sequence, an encoded surrogate, 0xff. */
const BAD = [[0x80], [0xc0, 0xaf], [0xe4, 0xb8], [0xed, 0xa0, 0x80], [0xff], [0xf4, 0x90, 0x80, 0x80]];

/** Random JSONL: records with non-ASCII text, blank and whitespace lines, CRLF, invalid JSON, and bad bytes. */
function randomJsonl(random: () => number, lines: number, badShare: number): { bytes: Buffer; bad: number } {
  const parts: Buffer[] = [];
  let bad = 0;
  for (let i = 0; i < lines; i++) {
    const r = random();
    let line: Buffer;
    if (r < 0.05) line = Buffer.from(pick(random, ["", " ", "\t \r"]));
    else if (r < 0.08) line = Buffer.from(`{"text": "${randomText(random).replace(/["\\]/g, "")}"`);
    else {
      const record = { instruction: randomText(random), output: randomText(random), n: i };
      line = Buffer.from(JSON.stringify(record));
      if (random() < badShare) {
        // Inside the output string, so that only the bytes are wrong.
        const at = line.indexOf('"output":"') + 10;
        line = Buffer.concat([line.subarray(0, at), Buffer.from(pick(random, BAD)), line.subarray(at)]);
        bad++;
      }
    }
    parts.push(line, Buffer.from(random() < 0.1 ? "\r\n" : "\n"));
  }
  return { bytes: Buffer.concat(parts), bad };
}

/** Every route the reader takes, in order, with what a consumer can see of it. */
async function routes(stream: Readable): Promise<unknown[]> {
  const out: unknown[] = [];
  const ctx: StageContext = {
    stage: "read",
    reject: (item: Envelope, reason: RejectReason) => out.push({ line: item.source.line, data: item.data, reason }),
    duplicate: () => {
      throw new Error("no duplicates from the reader");
    },
    warn: (item, issue) => out.push({ line: item.source.line, issue }),
  };
  for await (const record of readStream(stream, "t.jsonl")(ctx)) out.push(record);
  return out;
}

/** `bytes` in pieces of the given sizes (cycled), so that chunk boundaries fall everywhere. */
function pieces(bytes: Buffer, sizes: readonly number[]): Readable {
  const parts: Buffer[] = [];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const size = sizes[k % sizes.length]!;
    parts.push(bytes.subarray(i, i + size));
    i += size;
  }
  return Readable.from(parts, { objectMode: false });
}

describe("chunk-level UTF-8 check", () => {
  it("gives the same records and rejects as checking each line on its own, on seeded random input", async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const random = seededRandom(seed);
      // Some inputs have no bad bytes at all, so whole chunks take the fast path.
      const { bytes, bad } = randomJsonl(random, 150, seed % 3 === 0 ? 0 : 0.05);
      // One byte at a time, every line goes through the per-line check (the reference).
      const reference = await routes(pieces(bytes, [1]));
      const invalid = reference.filter((r) => (r as { reason?: RejectReason }).reason?.code === "invalid_utf8");
      expect(invalid.length, `seed ${seed}`).toBe(bad);
      for (const sizes of [[bytes.length], [7], [64, 3, 1000], [4096, 13]]) {
        expect(await routes(pieces(bytes, sizes)), `seed ${seed}, pieces ${sizes}`).toEqual(reference);
      }
    }
  });

  it("rejects bad bytes in a line that starts in one chunk and ends in the next", async () => {
    const good = Buffer.from('{"a":"é 中"}\n');
    const line = Buffer.concat([Buffer.from('{"b":"x'), Buffer.from([0xe4, 0xb8]), Buffer.from('y"}\n')]);
    const bytes = Buffer.concat([good, line, good]);
    // Cut inside the bad sequence, and right before it.
    for (const cut of [good.length + 8, good.length + 7]) {
      const r = await routes(pieces(bytes, [cut, bytes.length]));
      expect(r.map((x) => (x as { reason?: RejectReason }).reason?.code ?? "ok")).toEqual(["ok", "invalid_utf8", "ok"]);
    }
    expect(isUtf8(good)).toBe(true);
  });
});

/** A key list with room for repeats, written with varied whitespace, escapes and colons inside strings. */
function randomObjectText(random: () => number, depth: number): string {
  const keys = ["a", "b", "role", "content", "x:y", 'q"', "é"];
  const n = Math.floor(random() * 4);
  const members: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = pick(random, keys);
    // `\u0061` is the key "a" as JSON.parse sees it.
    const keyText = key === "a" && random() < 0.3 ? '"\\u0061"' : JSON.stringify(key);
    const ws = () => pick(random, ["", "", " ", "\t", "\n", " \r\n "]);
    const r = random();
    const value =
      depth < 3 && r < 0.25
        ? randomObjectText(random, depth + 1)
        : depth < 3 && r < 0.35
          ? `[${randomObjectText(random, depth + 1)},${ws()}"s: \\":"]`
          : JSON.stringify(pick(random, ['a "quoted": colon', 'end\\":', " : ", "x:", "", '": ', "plain"]));
    members.push(`${ws()}${keyText}${ws()}:${ws()}${value}${ws()}`);
  }
  return `{${members.join(",")}}`;
}

describe("duplicate-key pre-test", () => {
  it("rejects exactly the records the full scanner finds duplicate keys in, on seeded random JSON", () => {
    const random = seededRandom(7);
    let duplicates = 0;
    for (let i = 0; i < 3000; i++) {
      const text = randomObjectText(random, 0);
      const out: Entry[] = [];
      parseRecord(text, { file: "t.jsonl", line: 1, column: 1, bytes: text.length, offset: 0 }, true, out);
      const expected = scanJson(text, true).duplicates.length > 0;
      const last = out.at(-1)!;
      const rejectedAsDuplicate = last instanceof Routed && last.reason?.code === "duplicate_key";
      expect(rejectedAsDuplicate, text).toBe(expected);
      if (expected) duplicates++;
      else expect((last as Envelope).data, text).toEqual(JSON.parse(text));
    }
    // Both outcomes occur often enough for the comparison to mean something.
    expect(duplicates).toBeGreaterThan(300);
    expect(duplicates).toBeLessThan(2700);
  });
});

describe("batches", () => {
  it("hands on a large file in batches of about 64 KiB of input, in order, as the per-record form does", async () => {
    const random = seededRandom(3);
    const { bytes } = randomJsonl(random, 4000, 0.01);
    expect(bytes.length).toBeGreaterThan(200_000);
    const path = join(dir, "big.jsonl");
    writeFileSync(path, bytes);
    const lines: number[] = [];
    const batchBytes: number[] = [];
    const ctx = { stage: "read", reject() {}, duplicate() {}, warn() {} } satisfies StageContext;
    for await (const batch of readInputs([path]).batches!(ctx)) {
      let sum = 0;
      for (const record of batch) {
        lines.push(record.source.line);
        sum += (record.meta?.bytes as number) + 1;
      }
      batchBytes.push(sum);
    }
    expect(batchBytes.length).toBeGreaterThanOrEqual(3);
    // A batch ends at the first line end past 64 KiB (these lines are under 200 bytes).
    expect(Math.max(...batchBytes)).toBeLessThanOrEqual(64 * 1024 + 200);
    const perRecord: number[] = [];
    for await (const record of readInputs([path])(ctx)) perRecord.push(record.source.line);
    expect(lines).toEqual(perRecord);
  });
});
