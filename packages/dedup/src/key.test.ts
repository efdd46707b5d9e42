import { trainingText } from "@curate/formats";
import { describe, expect, it } from "vitest";
import { hash128, hashBytes, hashFolded, hashHex } from "./hash.js";
import {
  canonicalJson,
  KeyBytes,
  keyFunction,
  keyHasher,
  keyReader,
  type Normalization,
  normalizer,
  parseKey,
  parseNormalization,
} from "./key.js";
import { random } from "./testing.js";

/**
 * Tokens that stress the key path: ASCII words and every kind of whitespace run; NFKC changes (full-width, ligature,
 * U+00A8 → space + mark, NBSP/U+3000 → space); pieces that compose with what comes before them (a combining acute,
 * U+0338 after "<", a Hangul vowel jamo after a leading one); case that is context-sensitive (Greek final sigma) or
 * grows (İ, ß); emoji pairs and lone surrogates; NUL and other controls.
 */
const TOKENS = [
  "The",
  "quick",
  "brown",
  "FOX",
  "jumps",
  "over",
  "lazy",
  "dog.",
  "2 + 2",
  "don't",
  " ",
  " ",
  " ",
  "  ",
  "\t",
  "\n",
  "\n\n",
  "\r\n",
  " \t ",
  "\u000b",
  "\f",
  "\u00a0",
  "\u3000",
  "\u2028",
  "\ufeff",
  "\u1680",
  "\u200a",
  "\u0085",
  "ｆｕｌｌ",
  "ﬁ",
  "\u00a8",
  "e\u0301",
  "\u0301",
  "<",
  "\u0338",
  "\u1100",
  "\u1161",
  "\u1100\u1161",
  "Σ",
  "ΟΔΟΣ",
  "İ",
  "ß",
  "café",
  "中文",
  "😀",
  "\ud83d",
  "\ude00",
  "\u0000",
  "\u001f",
  "",
];

function randomText(next: () => number, ascii: boolean): string {
  const length = Math.floor(next() * next() * 30);
  let out = "";
  for (let i = 0; i < length; i++) {
    const token = TOKENS[Math.floor(next() * (ascii ? 21 : TOKENS.length))]!;
    out += token;
    if (next() < 0.5) out += " ";
  }
  return out;
}

/** Records of every format, with text pieces adjacent without a separator (prompt + completion, content parts). */
function randomRecord(next: () => number): unknown {
  const ascii = next() < 0.5;
  const text = () => randomText(next, ascii);
  const message = () =>
    next() < 0.2
      ? {
          role: "user",
          content: [
            { type: "text", text: text() },
            { type: "text", text: text() },
          ],
        }
      : next() < 0.1
        ? { from: "gpt", value: text() }
        : { role: next() < 0.5 ? "user" : "assistant", content: text() };
  const turns = () => Array.from({ length: 1 + Math.floor(next() * 3) }, message);
  const pick = (items: readonly string[]) => items[Math.floor(next() * items.length)]!;
  switch (Math.floor(next() * 8)) {
    case 0:
      return { messages: turns() };
    case 1:
      return { conversations: turns() };
    case 2:
      return { input: { messages: turns() }, preferred_output: turns(), non_preferred_output: turns() };
    case 3:
      return { prompt: text(), chosen: turns(), rejected: text() };
    case 4:
      return { system: next() < 0.3 ? text() : undefined, instruction: text(), input: text(), output: text() };
    case 5:
      return { prompt: text(), completion: text() };
    case 6:
      // A piece that combines with the end of the one before it: only NFKC of the joined text gets it right.
      return {
        prompt: text() + pick(["e", "<", "A", "\u1100", " "]),
        completion: pick(["\u0301", "\u0338", "\u1161", "\u00a8"]) + text(),
      };
    default:
      return { title: text(), body: text(), n: 3 };
  }
}

const STEPS: readonly (readonly Normalization[])[] = [
  ["nfkc", "whitespace"],
  [],
  ["whitespace"],
  ["nfkc"],
  ["lower"],
  ["lower", "whitespace"],
  ["nfkc", "lower", "whitespace"],
  ["nfkc", "lower", "punct", "whitespace"],
];

describe("normalization", () => {
  it("applies each step as documented, in canonical order", () => {
    expect(normalizer(["nfkc"])("ｆｕｌｌ ﬁ")).toBe("full fi");
    expect(normalizer(["lower"])("HeLLo")).toBe("hello");
    expect(normalizer(["punct"])("don't — stop!")).toBe("dont  stop");
    expect(normalizer(["whitespace"])("  a\t\tb \n c  ")).toBe("a b c");
    expect(normalizer(["whitespace", "punct", "lower"])("  Don't\n\nSTOP! ")).toBe("dont stop");
    expect(normalizer([])("  As Is ")).toBe("  As Is ");
  });

  it("parses comma lists and rejects unknown names with the valid ones", () => {
    expect(parseNormalization("nfkc, LOWER,whitespace")).toEqual(["nfkc", "lower", "whitespace"]);
    expect(parseNormalization("none")).toEqual([]);
    expect(() => parseNormalization("nfkc,stem")).toThrow(
      /unknown normalization "stem".*nfkc, lower, punct, whitespace/,
    );
  });
});

describe("keys", () => {
  it("parses --key values", () => {
    expect(parseKey(undefined)).toBe("text");
    expect(parseKey(["json"])).toBe("json");
    expect(parseKey(["instruction", "meta.id"])).toEqual(["instruction", "meta.id"]);
    expect(() => parseKey(["json", "instruction"])).toThrow(/cannot be combined/);
    expect(() => parseKey(["a..b"])).toThrow(/not a field path/);
  });

  it("writes canonical JSON with sorted keys at every level", () => {
    expect(canonicalJson({ b: [1, { d: 1, c: "x" }], a: null, u: undefined })).toBe(
      '{"a":null,"b":[1,{"c":"x","d":1}]}',
    );
  });

  it("reads the training text by default, normalized", () => {
    const key = keyFunction("text", ["nfkc", "whitespace"]);
    expect(key({ instruction: "Add  2 and 2", output: "4" })).toBe("Add 2 and 2 4");
    expect(key({ output: "4", instruction: "Add 2 and 2" })).toBe(key({ instruction: "Add 2 and 2", output: "4" }));
  });

  it("reads fields, telling a missing field from an empty one", () => {
    const key = keyReader(["instruction", "meta.lang"]);
    expect(key({ instruction: "Hi", meta: { lang: "en" } })).toBe("Hi\u001fen");
    expect(key({ instruction: "Hi" })).not.toBe(key({ instruction: "Hi", meta: { lang: "" } }));
    expect(keyReader(["tags"])({ tags: ["b", "a"] })).toBe('["b","a"]');
  });

  it("normalizes string values inside canonical JSON but not keys", () => {
    const key = keyFunction("json", ["lower"]);
    expect(key({ Q: "HELLO", a: 1 })).toBe('{"Q":"hello","a":1}');
  });
});

describe("keyHasher", () => {
  it("gives hash128 of the reference key string, for every format and normalization", () => {
    for (const steps of STEPS) {
      const next = random(3);
      const fast = keyHasher("text", steps);
      const reference = keyFunction("text", steps);
      const wrong: unknown[] = [];
      for (let i = 0; i < 3000; i++) {
        const record = randomRecord(next);
        if (hashHex(fast(record)) !== hashHex(hash128(reference(record)))) wrong.push(record);
      }
      expect(wrong, steps.join(",")).toEqual([]);
    }
  });

  it("makes the same dedup decisions as comparing reference key strings", () => {
    // Variants of a few base records (whitespace and NFKC-equivalent forms): many keys are equal.
    const next = random(5);
    const bases = Array.from({ length: 40 }, () => randomRecord(next));
    const variants = ["  ", "\t", "\u00a0", "\n\n", "\u3000"];
    const records = bases.flatMap((base) => {
      const json = JSON.stringify(base);
      return [
        base,
        JSON.parse(json.replaceAll(" ", JSON.stringify(variants[Math.floor(next() * variants.length)]).slice(1, -1))),
        JSON.parse(json.replaceAll("ｆｕｌｌ", "full")),
      ];
    });
    const fast = keyHasher("text", ["nfkc", "whitespace"]);
    const reference = keyFunction("text", ["nfkc", "whitespace"]);
    const byHash = new Map<string, string>();
    let equalPairs = 0;
    for (const record of records) {
      const hash = hashHex(fast(record));
      const key = reference(record);
      const seen = byHash.get(hash);
      if (seen === undefined) byHash.set(hash, key);
      else {
        expect(seen).toBe(key);
        equalPairs++;
      }
    }
    expect(new Set(records.map(reference)).size).toBe(byHash.size);
    expect(equalPairs).toBeGreaterThan(40);
  });

  it("uses the same hash for keys it builds as strings (fields, json, punct)", () => {
    const record = { instruction: "Hi  THERE", output: "Don't!" };
    for (const [key, steps] of [
      [["instruction"], ["whitespace"]],
      ["json", ["lower"]],
      ["text", ["punct", "whitespace"]],
    ] as const) {
      expect(hashHex(keyHasher(key, steps)(record))).toBe(hashHex(hash128(keyFunction(key, steps)(record))));
    }
  });

  it("folds whitespace across pieces and trims the ends", () => {
    const h = keyHasher("text", ["nfkc", "whitespace"]);
    expect(hashHex(h({ prompt: "  Hi \t", completion: "\n there  " }))).toBe(hashHex(hash128("Hi there")));
    expect(hashHex(h({ instruction: " \u3000", output: `${"x".repeat(40)}  y\t` }))).toBe(
      hashHex(hash128(`${"x".repeat(40)} y`)),
    );
    expect(hashHex(h({ prompt: "", completion: "" }))).toBe(hashHex(hash128("")));
  });
});

describe("KeyBytes", () => {
  const build = (parts: readonly string[], steps: readonly Normalization[] = ["nfkc", "whitespace"]) => {
    const nfkc = steps.includes("nfkc");
    const builder = new KeyBytes(steps.includes("whitespace"), steps.includes("lower"), (t) =>
      nfkc ? t.normalize("NFKC") : t,
    );
    for (const part of parts) builder.write(part);
    const out = new Uint32Array(4);
    if (builder.hash(out)) {
      // The hash is of the bytes the builder ends with.
      expect(hashHex(out)).toBe(hashHex(hashBytes(builder.bytes, builder.length)));
    }
    return builder;
  };
  const text = (builder: KeyBytes) => Buffer.from(builder.bytes.subarray(0, builder.length)).toString("utf8");

  it("normalizes held non-ASCII text as one string up to a piece that starts with ASCII", () => {
    // Held from "e…" on; the mark piece joins it (it composes with "ｌ" → "l" + U+0301); " y" releases it.
    const b = build(["caf", "e\u0301 ｆｕｌｌ", "\u0301 x", " y"]);
    expect(b.stopped).toBe(false);
    expect(text(b)).toBe("cafe\u0301 ｆｕｌｌ\u0301 x y".normalize("NFKC"));
    expect(text(b)).toBe("café fulĺ x y");
    // A piece starting with a combining mark after ASCII text stops the builder: the caller builds the string.
    expect(build(["cafe", "\u0301"]).stopped).toBe(true);
    // ... but not when it is the first text.
    expect(text(build(["\u0301", "\u0338"]))).toBe("\u0301\u0338".normalize("NFKC"));
    // A surrogate pair split across pieces is held and encoded whole.
    expect(text(build(["\ud83d", "\ude00!"]))).toBe("😀!");
  });

  it("stops at non-ASCII text when lowercasing (final sigma depends on what follows)", () => {
    expect(build(["ΟΔΟΣ", "A"], ["lower"]).stopped).toBe(true);
    expect(text(build(["HeLLo  World ".repeat(3), "X"], ["lower", "whitespace"]))).toBe(`${"hello world ".repeat(3)}x`);
  });

  it("grows its buffer for long texts", () => {
    const long = "word ".repeat(5000);
    const b = build([long, "\n", long]);
    expect(b.length).toBe(long.length * 2 - 1);
  });
});

describe("hashFolded", () => {
  it("hashes exactly the bytes without a byte below 0x20, two spaces in a row or a space at either end", () => {
    const next = random(9);
    const alphabet = [32, 32, 32, 97, 98, 0, 9, 10, 31, 33, 0x7f, 0x80, 0xa0, 0xe3, 0xff];
    const bytes = new Uint8Array(80);
    const out = new Uint32Array(4);
    const wrong: string[] = [];
    for (let n = 0; n < 20000; n++) {
      // Mostly clean text, so that long clean runs (whole 16-byte blocks) are common.
      const dirt = next() < 0.5 ? 0 : next() * 0.2;
      const length = Math.floor(next() * 70);
      for (let i = 0; i < bytes.length; i++) {
        bytes[i] = next() < dirt ? alphabet[Math.floor(next() * alphabet.length)]! : i % 5 === 4 ? 32 : 97 + (i % 26);
      }
      const text = Buffer.from(bytes.subarray(0, length)).toString("latin1");
      const folded = !/[\x00-\x1f]| {2}|^ | $/.test(text);
      out.fill(7);
      const hashed = hashFolded(bytes, length, out);
      if (hashed !== folded) wrong.push(JSON.stringify(text));
      else if (hashed && hashHex(out) !== hashHex(hashBytes(bytes, length)))
        wrong.push(`hash of ${JSON.stringify(text)}`);
      else if (!hashed && !out.every((w) => w === 7)) wrong.push(`out written for ${JSON.stringify(text)}`);
    }
    expect(wrong).toEqual([]);
    const across = new TextEncoder().encode("abcdefghijklmno  pqrstuvwxyz");
    expect(hashFolded(across, across.length, out)).toBe(false); // two spaces across a 16-byte block
    expect(hashFolded(across, 15, out)).toBe(true);
  });
});

describe("the facts the key path relies on", () => {
  it("NFKC(x + a) = NFKC(x) + a for every BMP code point x and ASCII a (no ASCII character combines backwards)", () => {
    // Checked offline for all 1,114,112 code points × all 128 ASCII characters (142.6 M pairs, no exception);
    // here the BMP with the ASCII characters that take part in compositions at all, and a spread of others.
    const asciis = ["<", "=", ">", "a", "e", "A", "0", " ", "\n", "\t", "~", "\u0000"];
    const wrong: string[] = [];
    for (let cp = 0; cp < 0x10000; cp++) {
      const x = String.fromCharCode(cp);
      const nx = x.normalize("NFKC");
      for (const a of asciis) if ((x + a).normalize("NFKC") !== nx + a) wrong.push(`U+${cp.toString(16)} + ${a}`);
    }
    expect(wrong).toEqual([]);
  });

  it("JavaScript's \\s is 9–13 and 32 among ASCII, and trim() removes exactly \\s (all 65,536 code units)", () => {
    const spaces: number[] = [];
    const wrong: number[] = [];
    for (let c = 0; c < 0x10000; c++) {
      const space = /\s/.test(String.fromCharCode(c));
      if (c < 128 && space) spaces.push(c);
      if (space !== (String.fromCharCode(c).trim() === "")) wrong.push(c);
    }
    expect(spaces).toEqual([9, 10, 11, 12, 13, 32]);
    expect(wrong).toEqual([]);
  });

  it("trainingText is what keyFunction reads", () => {
    expect(keyFunction("text", [])({ prompt: "a", completion: "b" })).toBe(
      trainingText({ prompt: "a", completion: "b" }),
    );
  });
});
