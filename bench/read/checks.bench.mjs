// Per-line costs behind the reader's design choices: how to decode and check UTF-8, and what the duplicate-key,
// lone-surrogate and big-integer checks add to JSON.parse. Plain Node over the BUILT package:
//   npx tsc -p packages/read/tsconfig.build.json && node bench/read/checks.bench.mjs [MB] [ROUNDS]
import { isUtf8 } from "node:buffer";
import { parseRecord } from "../../packages/read/dist/record.js";
import { makeLines } from "./data.mjs";

const mb = Number(process.argv[2] ?? 40);
const texts = makeLines(mb * 1e6);
// One buffer with newlines, sliced per line: what the reader does with each chunk.
const whole = Buffer.from(`${texts.join("\n")}\n`, "utf8");
const bounds = [];
for (let s = 0, n = whole.indexOf(10); n !== -1; s = n + 1, n = whole.indexOf(10, s)) bounds.push(s, n);
const lines = texts.length;
const totalBytes = whole.length;

const variants = [];
/** Registers a variant; all run round-robin (so load from other processes hits them alike), median of ROUNDS. */
function time(name, fn) {
  variants.push({ name, fn, runs: [] });
}
const ROUNDS = Number(process.argv[3] ?? 7);

let sink = 0;
const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const KEY_TOKEN = /"\s*:/g;

const MAX = Number.MAX_SAFE_INTEGER;
function countKeysIterative(root) {
  let count = 0;
  const stack = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const child of value) if (typeof child === "object" && child !== null) stack.push(child);
    } else {
      const keys = Object.keys(value);
      count += keys.length;
      for (const key of keys) {
        const child = value[key];
        if (typeof child === "object" && child !== null) stack.push(child);
        else if (typeof child === "number" && (child > MAX || child < -MAX)) sink++;
      }
    }
  }
  return count;
}
function countKeysRecursive(value) {
  let count = 0;
  if (Array.isArray(value)) {
    for (const child of value) if (typeof child === "object" && child !== null) count += countKeysRecursive(child);
    return count;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    count++;
    const child = value[key];
    if (typeof child === "object") {
      if (child !== null) count += countKeysRecursive(child);
    } else if (typeof child === "number" && (child > MAX || child < -MAX)) sink++;
  }
  return count;
}
const parsed = texts.map((t) => JSON.parse(t));

[
  time("decode: toString(utf8, s, e)", () => {
    for (let i = 0; i < bounds.length; i += 2) sink += whole.toString("utf8", bounds[i], bounds[i + 1]).length;
  }),
  time("decode: toString + includes(U+FFFD)", () => {
    for (let i = 0; i < bounds.length; i += 2) {
      const t = whole.toString("utf8", bounds[i], bounds[i + 1]);
      sink += t.includes("\uFFFD") ? 1 : t.length;
    }
  }),
  time("decode: utf8Slice + includes(U+FFFD)  [used before; the reader now runs one isUtf8 per chunk]", () => {
    for (let i = 0; i < bounds.length; i += 2) {
      const t = whole.utf8Slice(bounds[i], bounds[i + 1]);
      sink += t.includes("\uFFFD") ? 1 : t.length;
    }
  }),
  time("decode: isUtf8(subarray) + utf8Slice", () => {
    for (let i = 0; i < bounds.length; i += 2) {
      sink += isUtf8(whole.subarray(bounds[i], bounds[i + 1])) ? whole.utf8Slice(bounds[i], bounds[i + 1]).length : 0;
    }
  }),
  time("decode: fatal TextDecoder(subarray)", () => {
    for (let i = 0; i < bounds.length; i += 2) sink += fatal.decode(whole.subarray(bounds[i], bounds[i + 1])).length;
  }),
  time("parse: JSON.parse", () => {
    for (const t of texts) sink += JSON.parse(t) === null ? 0 : 1;
  }),
  time("check: count ':' (indexOf)  [used before]", () => {
    for (const t of texts) for (let i = t.indexOf(":"); i !== -1; i = t.indexOf(":", i + 1)) sink++;
  }),
  time("check: count ':' after '\"' or whitespace (indexOf)  [used, tier 1]", () => {
    for (const t of texts) {
      for (let i = t.indexOf(":"); i !== -1; i = t.indexOf(":", i + 1)) {
        const before = t.charCodeAt(i - 1);
        if (before === 34 || before === 32 || before === 10 || before === 13 || before === 9) sink++;
      }
    }
  }),
  time('check: count /"\\s*:/g (regex)  [tier 2]', () => {
    for (const t of texts) sink += t.match(KEY_TOKEN)?.length ?? 0;
  }),
  time("check: walk tree, recursive for-in: keys + big numbers  [used]", () => {
    for (const p of parsed) sink += countKeysRecursive(p);
  }),
  time("check: walk tree, stack + Object.keys (fallback for deep nesting)", () => {
    for (const p of parsed) sink += countKeysIterative(p);
  }),
  time("check: /\\d{16}/ on text (not used)", () => {
    for (const t of texts) sink += /\d{16}/.test(t) ? 1 : 0;
  }),
  time("check: surrogate escape indexOf x2  [used]", () => {
    for (const t of texts) sink += t.indexOf("\\ud") !== -1 || t.indexOf("\\uD") !== -1 ? 1 : 0;
  }),
  time("JSON.parse + envelope, no checks", () => {
    const out = [];
    for (let i = 0; i < texts.length; i++) {
      out.push({ data: JSON.parse(texts[i]), source: { file: "x", line: i + 1 }, meta: { bytes: 0 } });
      if (out.length > 4096) out.length = 0;
    }
    sink += out.length;
  }),
  time("parseRecord: JSON.parse + envelope + all checks  [used]", () => {
    const out = [];
    for (let i = 0; i < texts.length; i++) {
      parseRecord(texts[i], { file: "x", line: i + 1, column: 1, bytes: 0 }, true, out);
      if (out.length > 4096) out.length = 0;
    }
    sink += out.length;
  }),
];
for (const v of variants) v.fn(); // warm up
for (let r = 0; r < ROUNDS; r++) {
  for (const v of variants) {
    const started = process.hrtime.bigint();
    v.fn();
    v.runs.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
}
const results = variants.map((v) => ({ name: v.name, ms: v.runs.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)] }));

const parseMs = results.find((r) => r.name.startsWith("parse:")).ms;
console.log(
  `${lines} lines, ${(totalBytes / 1e6).toFixed(1)} MB, median of ${ROUNDS} interleaved runs, node ${process.version}`,
);
console.log("| step | ms | MB/s | ns/line | vs JSON.parse |\n|---|---:|---:|---:|---:|");
for (const { name, ms } of results) {
  const mbps = totalBytes / 1e6 / (ms / 1000);
  console.log(
    `| ${name} | ${ms.toFixed(0)} | ${mbps.toFixed(0)} | ${((ms * 1e6) / lines).toFixed(0)} | ${((ms / parseMs) * 100).toFixed(0)}% |`,
  );
}
if (sink === 42) console.log("");
