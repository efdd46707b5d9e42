import { loadBackend, type OpenAiEncoding, openTokenizer } from "@curate/tokenizer-worker";
import { get_encoding } from "tiktoken";
import { afterAll, describe, expect, it } from "vitest";
import { corpus, fixtureTexts, randomTexts } from "../../tokenizer-worker/src/golden/texts.js";
import { closeGpu, type GpuDevice, GpuTokenizer, openGpu } from "./index.js";

// The GPU tests run wherever an adapter can be created: on a machine without a GPU that is Mesa's llvmpipe through
// Dawn's OpenGL ES backend (CI installs libegl-mesa0, libgles2 and libgl1-mesa-dri for it; see .ci/run). Without one
// they are skipped with the reason, and CI fails on that (CURATE_REQUIRE_GPU=1) rather than pass without testing.
let gpu: GpuDevice | undefined;
let reason = "";
try {
  gpu = await openGpu();
} catch (error) {
  reason = error instanceof Error ? error.message : String(error);
  if (process.env.CURATE_REQUIRE_GPU === "1") throw error;
}
if (gpu === undefined) console.warn(`skipping the WebGPU golden tests: ${reason}`);

afterAll(() => closeGpu());

/**
 * Seeded random strings over the characters the two pre-tokenizers treat specially: emoji ZWJ sequences, U+0085,
 * U+FEFF, U+3000, CRLF, digit runs (ASCII and others), combining marks, contractions in both cases, astral letters.
 */
function fuzzTexts(count: number, seed: number): string[] {
  const alphabet = [
    ..."aAzZ09 \t\n\r'.,!?/-_\"é日本ß٣ǅſ\u0301\u00a0\u0085\ufeff\u3000\u2028€<|>",
    "\r\n",
    "👨‍👩‍👧",
    "🏳️‍🌈",
    "👍🏽",
    "𝔘𝔫𝔦",
    "𝟘𝟙",
    "'S",
    "'ll",
    "'VE",
    "1234567",
    "\ud800", // a lone surrogate: UTF-8 makes it U+FFFD
  ];
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    let s = "";
    const length = 1 + Math.floor(next() * 64);
    for (let i = 0; i < length; i++) s += alphabet[Math.floor(next() * alphabet.length)];
    out.push(s);
  }
  return out;
}

const texts = [...corpus, ...randomTexts(1500), ...fuzzTexts(1500, 13), ...fixtureTexts()];

describe.skipIf(gpu === undefined).each(["o200k_base", "cl100k_base"] as OpenAiEncoding[])(
  "WebGPU kernel vs tiktoken, %s",
  (encoding) => {
    const reference = get_encoding(encoding);
    const cpu = openTokenizer({ kind: "openai", encoding }, { threads: 1 });
    const tokenizer = () => new GpuTokenizer(gpu!, { encoding, cpuFallback: cpu });

    it("gives byte-identical ids and counts on the golden corpus, fuzz strings and every fixture", async () => {
      const gpuTokenizer = tokenizer();
      const ids = await gpuTokenizer.encode(texts);
      const counts = await gpuTokenizer.count(texts);
      // Only texts with a piece of hundreds of bytes that is not one token (the corpus' 2,000-letter words) may need
      // the CPU on llvmpipe; everything else is the kernel's own work.
      expect(gpuTokenizer.cpuTails).toBeLessThanOrEqual(gpu!.loopLimited ? 10 : 0);
      console.info(`${encoding}: ${texts.length} texts, ${gpuTokenizer.cpuTails} finished on the CPU`);
      const mismatches: string[] = [];
      texts.forEach((text, i) => {
        const want = Array.from(reference.encode_ordinary(text));
        if (Array.from(ids[i]!).join() !== want.join() || counts[i] !== want.length) {
          mismatches.push(JSON.stringify(text).slice(0, 80));
        }
      });
      expect(mismatches).toEqual([]);
      expect(texts.length).toBeGreaterThan(3000);
    });

    it("splits batches over dispatches without changing a result", async () => {
      const small = new GpuTokenizer(gpu!, { encoding, cpuFallback: cpu, maxBatchBytes: 2048 });
      const sample = corpus.slice(0, 40);
      const want = sample.map((t) => reference.encode_ordinary(t).length);
      expect(Array.from(await small.count(sample))).toEqual(want);
    });

    it("encodes a 100 kB document and a 100 kB word", async () => {
      // 100 kB of the fixtures' text: prose, code, chat turns in several languages.
      const prose = fixtureTexts().join("\n");
      const document = prose.repeat(Math.ceil(100_000 / prose.length)).slice(0, 100_000);
      // tiktoken's merge is quadratic: a 100 kB word takes it ~46 s, so the word is checked against the CPU fast
      // engine, which the tokenizer-worker golden tests prove equal to tiktoken (5,000-character words included).
      const word = `${"ab".repeat(30_000)}${"日本語".repeat(10_000)}z`;
      const gpuTokenizer = tokenizer();
      const [docIds, wordIds] = await gpuTokenizer.encode([document, word]);
      // The document runs on the device whole (in several dispatches on llvmpipe); there the word's merges need more
      // loop iterations than one invocation may run, so the CPU finishes that one text from the word on.
      expect(gpuTokenizer.cpuTails).toBe(gpu!.loopLimited ? 1 : 0);
      expect(Array.from(docIds!)).toEqual(Array.from(reference.encode_ordinary(document)));
      const fast = await loadBackend({ kind: "openai", encoding });
      expect(Array.from(wordIds!)).toEqual(Array.from(fast.encode([word])[0]!));
    });

    it("counts chats with the OpenAI accounting, as the CPU does", async () => {
      const chats = [
        {
          messages: [
            { role: "user", content: "Hi there" },
            { role: "assistant", content: "Hello! 👋" },
          ],
        },
        {
          messages: [
            { role: "system", content: "Be brief." },
            { role: "user", content: "2+2?", name: "bob" },
          ],
        },
        { messages: [{ role: "user", content: [{ type: "text", text: "part" }] }] },
      ];
      expect(await tokenizer().countChats(chats)).toEqual(await cpu.countChats(chats));
    });

    it("decodes its ids back to the text", async () => {
      const sample = corpus.filter((t) => !/[\ud800-\udfff]/u.test(t)).slice(0, 20);
      const gpuTokenizer = tokenizer();
      expect(await gpuTokenizer.decode(await gpuTokenizer.encode(sample))).toEqual(sample);
    });
  },
);
