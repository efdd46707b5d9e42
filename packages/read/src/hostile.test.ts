import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import type { Envelope, Rejected, StageContext } from "@curate/core";
import { afterAll, describe, expect, it } from "vitest";
import xxhashWasm from "xxhash-wasm";
import { resolveInputs } from "./inputs.js";
import { readInputs, readStream } from "./read.js";
import type { InputStats, ReadOptions } from "./types.js";
import { unzstd } from "./zstd.js";

const { h64Raw } = await xxhashWasm();
const dir = mkdtempSync(join(tmpdir(), "curate-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function file(content: Buffer | string, name = `f${++fileCount}.jsonl`): string {
  const path = join(dir, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

async function collect(source: ReturnType<typeof readInputs>) {
  const kept: Envelope[] = [];
  const rejected: Rejected[] = [];
  const warnings: string[] = [];
  const ctx: StageContext = {
    stage: "read",
    reject: (item, reason) => rejected.push({ stage: "read", item, reason }),
    duplicate: () => {
      throw new Error("no duplicates in the reader");
    },
    warn: (_item, issue) => warnings.push(issue.code),
  };
  for await (const record of source(ctx)) kept.push(record);
  const stats: InputStats[] = source.stats;
  return { kept, rejected, warnings, stats, codes: rejected.map((r) => r.reason.code) };
}

const read = (path: string, options: ReadOptions = {}) => collect(readInputs([path], options));

const lines = (n: number) =>
  Array.from({ length: n }, (_, i) => `${JSON.stringify({ prompt: `question ${i}`, completion: `${i * 2}` })}\n`).join(
    "",
  );

/**
 * A zstd frame made by hand, so that tests need no zstd binary: raw blocks (or one RLE block repeated, for bombs),
 * a 1 MiB window, and the content checksum (low 32 bits of XXH64) when asked.
 */
function zstdFrame(content: Buffer, options: { checksum?: boolean; rle?: { byte: number; blocks: number } } = {}) {
  const checksum = options.checksum ?? true;
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, checksum ? 0x04 : 0x00, 10 << 3])];
  const blockHeader = (last: boolean, type: number, size: number) => {
    const h = (size << 3) | (type << 1) | (last ? 1 : 0);
    return Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]);
  };
  let hashed = content;
  if (options.rle) {
    const { byte, blocks } = options.rle;
    for (let i = 0; i < blocks; i++) parts.push(blockHeader(i === blocks - 1, 1, 1 << 17), Buffer.from([byte]));
    hashed = Buffer.alloc(0);
  } else {
    const size = 1000;
    if (content.length === 0) parts.push(blockHeader(true, 0, 0));
    for (let at = 0; at < content.length; at += size) {
      const piece = content.subarray(at, at + size);
      parts.push(blockHeader(at + size >= content.length, 0, piece.length), piece);
    }
  }
  if (checksum) {
    const sum = Buffer.alloc(4);
    sum.writeUInt32LE(Number(h64Raw(hashed) & 0xffffffffn));
    parts.push(sum);
  }
  return Buffer.concat(parts);
}

describe("zstd integrity", () => {
  const content = Buffer.from(lines(200));

  it("the hand-made frame reads back as written", async () => {
    const r = await read(file(zstdFrame(content), "ok.jsonl.zst"));
    expect(r.kept).toHaveLength(200);
    expect(r.rejected).toEqual([]);
    expect(r.stats[0]).toMatchObject({ compression: "zstd", records: 200 });
  });

  it("a flipped bit anywhere never lets a record through unverified; every record is counted", async () => {
    const good = zstdFrame(content);
    let flips = 0;
    // Every 211th bit past the magic number (without it the file is not zstd): header, blocks, checksum.
    for (let bit = 32; bit < good.length * 8; bit += 211) {
      const bad = Buffer.from(good);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const r = await read(file(bad, `flip-${bit}.jsonl.zst`));
      flips++;
      // Nothing is kept from a damaged file, and the last reject says why.
      expect(r.kept, `bit ${bit}`).toEqual([]);
      expect(r.codes.at(-1), `bit ${bit}`).toBe("corrupt_input");
      expect(r.stats[0]!.records).toBe(r.rejected.length);
    }
    expect(flips).toBeGreaterThan(50);
  });

  it("a content flip is found by the checksum and the records are quarantined, not dropped", async () => {
    const bad = zstdFrame(content);
    bad[6 + 3 + 20]! ^= 0x01; // inside the first raw block's text: `prompt` becomes `qrompt` or similar
    const r = await read(file(bad, "quarantine.jsonl.zst"));
    expect(r.kept).toEqual([]);
    expect(r.rejected.length).toBe(201);
    expect(r.rejected[0]!.reason.message).toMatch(/quarantined.*fails its zstd integrity check.*checksum/);
    expect(r.rejected.at(-1)!.reason.message).toMatch(/content checksum/);
  });

  it("a zstd bomb (a 10 KB file of RLE blocks expanding to 340 MB) streams in 128 KiB blocks", async () => {
    const blocks = 2600;
    const bomb = zstdFrame(Buffer.alloc(0), { checksum: false, rle: { byte: 0x20, blocks } });
    expect(bomb.length).toBeLessThan(11_000);
    let largest = 0;
    let total = 0;
    for await (const chunk of unzstd(Readable.from([bomb]))) {
      largest = Math.max(largest, chunk.length);
      total += chunk.length;
    }
    expect(total).toBe(blocks * (1 << 17));
    expect(largest).toBeLessThanOrEqual(1 << 17);
  });

  it("a frame that asks for a window over 128 MiB is refused before anything is allocated", async () => {
    const frame = zstdFrame(content, { checksum: false });
    frame[5] = 30 << 3; // window log 40
    const r = await read(file(frame, "window.jsonl.zst"));
    expect(r.kept).toEqual([]);
    expect(r.rejected.at(-1)!.reason.message).toMatch(/window/);
  });
});

describe("gzip integrity", () => {
  const content = lines(2000);
  const gz = gzipSync(content);

  it("a bad CRC quarantines every record it can still decode and counts the rest", async () => {
    const bad = Buffer.from(gz);
    bad[bad.length - 6]! ^= 1;
    const r = await read(file(bad, "crc.jsonl.gz"));
    expect(r.kept).toEqual([]);
    // The record the damage cuts through is a truncated_line; every other one is quarantined.
    expect(r.codes.filter((c) => c !== "corrupt_input").length).toBeLessThanOrEqual(1);
    // Small reads of the damaged file recover nearly every record (node:zlib drops its last read's output).
    expect(r.rejected.length).toBeGreaterThan(1900);
    expect(r.stats[0]!.records).toBe(r.rejected.length);
  });

  it("single bit flips: nothing unverified is kept", async () => {
    for (let i = 0; i < 30; i++) {
      const bad = Buffer.from(gz);
      const bit = 80 + Math.floor((((i * 7919) % 1000) / 1000) * (gz.length * 8 - 80));
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const r = await read(file(bad, `gflip-${i}.jsonl.gz`));
      if (r.codes.includes("corrupt_input")) expect(r.kept, `bit ${bit}`).toEqual([]);
      else expect(r.kept.length, `bit ${bit}`).toBe(2000); // a flip in a header field gzip does not check
    }
  });

  it("a compressed stream (stdin) that fails is refused, since its records were already passed on", async () => {
    const bad = Buffer.from(gz);
    bad[bad.length - 6]! ^= 1;
    await expect(collect(readStream(Readable.from([bad]), "<stdin>"))).rejects.toMatchObject({
      code: "CURATE_CORRUPT_INPUT",
      exitCode: 2,
    });
  });
});

describe("records that break walkers", () => {
  const deep = (levels: number, leaf = "1") => `{"a":${"[".repeat(levels)}${leaf}${"]".repeat(levels)}}`;

  it("a record nested 5,000 levels deep is a too_deep reject, not a crash; 512 levels is kept, 513 is not", async () => {
    // deep(n) is n arrays inside one object: n + 1 levels.
    const r = await read(file(`${deep(5000)}\n${deep(511)}\n${deep(512)}\n`));
    expect(r.codes).toEqual(["too_deep", "too_deep"]);
    expect(r.rejected[0]!.reason.message).toMatch(/more than 512 levels deep/);
    expect(r.rejected.map((x) => x.item.source.line)).toEqual([1, 3]);
    expect(r.kept.map((x) => x.source.line)).toEqual([2]);
    const raised = await read(file(`${deep(5000)}\n`), { maxDepth: 2000 });
    expect(raised.codes).toEqual(["too_deep"]);
    expect((await read(file(`${deep(600)}\n`), { maxDepth: 1000 })).kept).toHaveLength(1);
    expect(() => readInputs([], { maxDepth: 0 })).toThrow(/maxDepth/);
  });

  it("deep nesting with a lone surrogate, a huge number or a duplicate key is rejected as too_deep", async () => {
    const r = await read(
      file(
        `${deep(100_000, '"\\ud800"')}\n${deep(100_000, `1${"0".repeat(400)}`)}\n${deep(100_000, '{"k":1,"k":2}')}\n`,
      ),
    );
    expect(r.codes).toEqual(["too_deep", "too_deep", "too_deep"]);
  });

  it("1e400, -1e400 and a 100,000-digit integer are number_out_of_range rejects, never a silent null", async () => {
    const r = await read(
      file(`{"x":1e400}\n{"y":[-1e400]}\n{"z":${"9".repeat(100_000)}}\n{"ok":1e300,"big":12345678901234567890}\n`),
    );
    expect(r.codes).toEqual(["number_out_of_range", "number_out_of_range", "number_out_of_range"]);
    expect(r.rejected.map((x) => x.reason.issues?.[0]?.path)).toEqual(["x", "y[0]", "z"]);
    // The rejects file keeps the original text, digits and all.
    expect(r.rejected[2]!.item.data).toContain("9".repeat(1000));
    expect(r.kept).toHaveLength(1);
  });
});

describe("folders", () => {
  it("symlink loops are walked once, and each real file is read once (by device and inode)", async () => {
    const root = join(dir, "loops");
    mkdirSync(join(root, "sub/deeper"), { recursive: true });
    writeFileSync(join(root, "a.jsonl"), lines(2));
    writeFileSync(join(root, "sub/deeper/b.jsonl"), lines(3));
    symlinkSync(".", join(root, "self"));
    symlinkSync("..", join(root, "sub/parent"));
    symlinkSync(root, join(root, "sub/deeper/root"));
    symlinkSync("a.jsonl", join(root, "again.jsonl"));
    symlinkSync("missing.jsonl", join(root, "broken.jsonl"));
    symlinkSync("loop2.jsonl", join(root, "loop1.jsonl"));
    symlinkSync("loop1.jsonl", join(root, "loop2.jsonl"));
    const inputs = await resolveInputs([root, join(root, "a.jsonl")]);
    expect(inputs.map((i) => i.path.slice(root.length + 1))).toEqual(["a.jsonl", "sub/deeper/b.jsonl"]);
    expect((await read(root)).kept).toHaveLength(5);
  });

  it("an unreadable sub-folder is an I/O error naming it and the OS reason", async (context) => {
    if (process.getuid?.() === 0) {
      context.skip("running as root: permissions do not stop root from reading (run as a normal user to test)");
    }
    const root = join(dir, "locked");
    mkdirSync(join(root, "closed"), { recursive: true });
    writeFileSync(join(root, "a.jsonl"), lines(1));
    chmodSync(join(root, "closed"), 0);
    try {
      await expect(resolveInputs([root])).rejects.toMatchObject({
        code: "CURATE_IO",
        message: expect.stringMatching(/closed: EACCES/),
      });
    } finally {
      chmodSync(join(root, "closed"), 0o755);
    }
  });
});

describe("encodings and line ends", () => {
  const text = `${JSON.stringify({ prompt: "a", completion: "b" })}\n${JSON.stringify({ prompt: "c", completion: "d" })}\n`;
  const le = Buffer.from(text, "utf16le");
  const be = Buffer.from(le).swap16();

  it("a UTF-16 file (LE or BE, with or without a BOM) is one reject that names the fix", async () => {
    for (const [bytes, endian] of [
      [Buffer.concat([Buffer.from([0xff, 0xfe]), le]), "LE"],
      [le, "LE"],
      [Buffer.concat([Buffer.from([0xfe, 0xff]), be]), "BE"],
      [be, "BE"],
    ] as const) {
      const r = await read(file(bytes));
      expect(r.kept).toEqual([]);
      expect(r.codes).toEqual(["invalid_utf8"]);
      expect(r.rejected[0]!.reason.message).toMatch(
        new RegExp(`UTF-16 ${endian}, not UTF-8.*iconv -f UTF-16${endian} -t UTF-8`),
      );
      expect(r.stats[0]!.records).toBe(1);
    }
  });

  it("CR-only line ends are line ends, not one cut-off record", async () => {
    const r = await read(file(text.replaceAll("\n", "\r")));
    expect(r.codes).toEqual([]);
    expect(r.kept.map((e) => e.source.line)).toEqual([1, 2]);
    // CRLF is unchanged.
    expect((await read(file(text.replaceAll("\n", "\r\n")))).kept).toHaveLength(2);
  });

  it("a pretty JSON array saved as .jsonl is read, with a warning; as .json without one", async () => {
    const array = `[\n  {"prompt":"a","completion":"b"},\n  {"prompt":"c","completion":"d"}\n]\n`;
    const asJsonl = await read(file(array, "array.jsonl"));
    expect(asJsonl.kept).toHaveLength(2);
    expect(asJsonl.warnings).toEqual(["json_array_in_jsonl"]);
    const asJson = await read(file(array, "array.json"));
    expect(asJson.warnings).toEqual([]);
  });
});
