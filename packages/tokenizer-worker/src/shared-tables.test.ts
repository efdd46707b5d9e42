import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBackend, type SharedBackend } from "./backend.js";
import { corpus, randomTexts } from "./golden/texts.js";
import { TokenizerPool } from "./pool.js";
import { resolveTokenizer } from "./resolve.js";
import type { ChatInput, TokenizerSpec } from "./types.js";

// Seeded strings over an adversarial alphabet, the golden corpus, and the same with Llama 3's added tokens (special or
// not, glued to text and to whitespace, which `lstrip`/`rstrip` tokens would take) and near misses spliced in.
const added = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|reserved_special_token_7|>", "<|eot_i"];
const plain = [...corpus, ...randomTexts(600, 11), "", " ", "\n\n", "ſ'S 日本語 🙂 ", "a".repeat(3000)];
const texts = [
  ...plain,
  ...plain.slice(0, 300).map((text, i) => {
    const at = Math.floor(text.length / 2);
    return `${text.slice(0, at)}${added[i % added.length]}${i % 2 === 0 ? " " : ""}${text.slice(at)}`;
  }),
];
const chats: ChatInput[] = texts.slice(0, 200).map((text, i) => ({
  messages: [
    { role: "system", content: texts[(i * 5) % texts.length]! },
    { role: "user", content: text },
    { role: "assistant", content: texts[(i * 7) % texts.length]! },
  ],
}));

function isShared(array: { buffer: ArrayBufferLike }): boolean {
  return array.buffer instanceof SharedArrayBuffer;
}

describe("tokenizer tables shared between threads", () => {
  const llama3 = resolveTokenizer("llama3") as Extract<TokenizerSpec, { kind: "huggingface" }>;

  it("loads from another thread's shared tables without reading tokenizer.json, with identical results", async () => {
    const built = await loadBackend(llama3);
    const shared = built.share?.();
    expect(shared).toBeDefined();
    const { json, tables } = structuredClone(shared as SharedBackend); // what a worker receives
    expect(json.model).not.toHaveProperty("vocab");
    expect(json.model).not.toHaveProperty("merges");
    for (const array of [tables.vocab.bytes, tables.vocab.slots, tables.vocab.byId, tables.merges.keys, tables.byteIds])
      expect(isShared(array)).toBe(true);
    // A folder with the template but no tokenizer.json: loading from it only works from the shared tables.
    const dir = mkdtempSync(join(tmpdir(), "curate-shared-"));
    try {
      copyFileSync(join(llama3.dir, "tokenizer_config.json"), join(dir, "tokenizer_config.json"));
      const spec = { ...llama3, dir };
      await expect(loadBackend(spec)).rejects.toThrow(/tokenizer\.json/);
      const fromShared = await loadBackend(spec, {}, { json, tables });
      expect(fromShared.info).toEqual({ ...built.info, name: llama3.name });
      expect(Array.from(fromShared.count(texts))).toEqual(Array.from(built.count(texts)));
      expect(fromShared.encode(texts).map((a) => Array.from(a))).toEqual(built.encode(texts).map((a) => Array.from(a)));
      expect(fromShared.decode(built.encode(texts))).toEqual(built.decode(built.encode(texts)));
      expect(fromShared.countChats(chats)).toEqual(built.countChats(chats));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Sharing moved the first thread's tables into shared memory: it still gives the same counts.
    expect(Array.from(built.count(texts))).toEqual(Array.from((await loadBackend(llama3)).count(texts)));
  });

  it("shares nothing where loading is cheap (OpenAI encodings)", async () => {
    const backend = await loadBackend(resolveTokenizer("o200k_base"));
    expect(backend.share?.()).toBeUndefined();
  });

  describe("a pool of 2 workers (the second loads from the first's tables)", () => {
    const inProcess = new TokenizerPool({ threads: 1 });
    const twoWorkers = new TokenizerPool({ threads: 2 });
    afterAll(async () => {
      await Promise.all([inProcess.close(), twoWorkers.close()]);
    });

    it("gives the same counts, ids and chat counts as in-process (llama3)", async () => {
      const [here, there] = await Promise.all(
        [inProcess, twoWorkers].map(async (pool) => {
          const tokenizer = pool.tokenizer(llama3);
          const info = await tokenizer.info();
          // Many batches in flight, so that both workers count some of them.
          const batches = Array.from({ length: 16 }, (_, i) => texts.filter((_, j) => j % 16 === i));
          const counts = (await Promise.all(batches.map((b) => tokenizer.count(b)))).map((a) => Array.from(a));
          const ids = (await tokenizer.encode(texts)).map((a) => Array.from(a));
          const chatCounts = await tokenizer.countChats(chats);
          return { info, counts, ids, chatCounts };
        }),
      );
      expect(here!.counts.flat().reduce((a, b) => a + b, 0)).toBeGreaterThan(10_000);
      expect(there).toEqual(here);
    });
  });
});
