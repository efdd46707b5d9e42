import { afterAll, describe, expect, it } from "vitest";
import { corpus, randomTexts } from "./golden/texts.js";
import { TokenizerPool } from "./pool.js";
import { resolveTokenizer } from "./resolve.js";
import type { ChatInput } from "./types.js";

// Large enough (> 64k characters) that a 2-thread pool splits it across both workers.
const texts = [...corpus, ...randomTexts(400, 3), ...corpus.map((t) => t.repeat(20))];
const chats: ChatInput[] = texts.slice(0, 120).map((text, i) => ({
  messages: [
    { role: "user", content: text },
    { role: "assistant", content: texts[(i * 7) % texts.length]! },
  ],
}));

describe("TokenizerPool", () => {
  const inProcess = new TokenizerPool({ threads: 1 });
  const oneWorker = new TokenizerPool({ threads: 1, workers: true });
  const twoWorkers = new TokenizerPool({ threads: 2 });
  afterAll(async () => {
    await Promise.all([inProcess.close(), oneWorker.close(), twoWorkers.close()]);
  });

  it("runs one thread in-process and more on workers", () => {
    expect(inProcess.inProcess).toBe(true);
    expect(oneWorker.inProcess).toBe(false);
    expect(twoWorkers.threads).toBe(2);
  });

  it.each(["o200k_base", "qwen3"])(
    "gives identical results in-process, on 1 worker and on 2 workers (%s)",
    async (name) => {
      const spec = resolveTokenizer(name);
      const results = await Promise.all(
        [inProcess, oneWorker, twoWorkers].map(async (pool) => {
          const tokenizer = pool.tokenizer(spec);
          const info = await tokenizer.info();
          const counts = Array.from(await tokenizer.count(texts));
          const ids = (await tokenizer.encode(texts)).map((a) => Array.from(a));
          const chatCounts = await tokenizer.countChats(chats);
          return { info, counts, ids, chatCounts };
        }),
      );
      expect(results[0]!.counts.length).toBe(texts.length);
      expect(results[0]!.counts).toEqual(results[0]!.ids.map((a) => a.length));
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
    },
  );

  it.each(["o200k_base", "llama3"])(
    "counts chats of every kind the same in-process and on 2 workers (packed for the wire) (%s)",
    async (name) => {
      const spec = resolveTokenizer(name);
      const mixed: ChatInput[] = chats.flatMap((chat, i): ChatInput[] => {
        const [user, assistant] = chat.messages as [
          { role: string; content: string },
          { role: string; content: string },
        ];
        switch (i % 6) {
          case 0:
            return [chat];
          case 1:
            return [{ messages: [user, { ...assistant, weight: 0 }] }];
          case 2:
            return [{ messages: [{ role: "user", content: [{ type: "text", text: user.content }] }, assistant] }];
          case 3:
            return [{ messages: [user, assistant], tools: [{ type: "function", function: { name: "lookup" } }] }];
          case 4:
            return [{ messages: [{ content: user.content, role: "user" }, assistant] }];
          default:
            // A conversation the template refuses (roles must alternate): an error, in place.
            return [{ messages: [assistant, assistant, user] }, { messages: [] }];
        }
      });
      const [here, there] = await Promise.all(
        [inProcess, twoWorkers].map((pool) => pool.tokenizer(spec).countChats(mixed)),
      );
      expect(here!.length).toBe(mixed.length);
      expect(there).toEqual(here);
    },
  );

  it("keeps batch order when many batches are in flight at once", async () => {
    const tokenizer = twoWorkers.tokenizer(resolveTokenizer("cl100k_base"));
    const batches = Array.from({ length: 12 }, (_, i) => texts.slice(i * 20, i * 20 + 20));
    const concurrent = await Promise.all(batches.map((b) => tokenizer.count(b)));
    const sequential: Uint32Array[] = [];
    for (const b of batches) sequential.push(await inProcess.tokenizer(resolveTokenizer("cl100k_base")).count(b));
    expect(concurrent.map((a) => Array.from(a))).toEqual(sequential.map((a) => Array.from(a)));
  });

  it("decodes on a worker", async () => {
    const tokenizer = oneWorker.tokenizer(resolveTokenizer("o200k_base"));
    const ids = await tokenizer.encode(["Hello, wörld 🙂"]);
    expect(await tokenizer.decode(ids)).toEqual(["Hello, wörld 🙂"]);
  });

  it("reports a tokenizer that fails to load in a worker as a CurateError", async () => {
    const tokenizer = oneWorker.tokenizer({ kind: "huggingface", dir: "/nonexistent/tokenizer", name: "missing" });
    await expect(tokenizer.count(["x"])).rejects.toMatchObject({ code: "CURATE_TOKENIZER", exitCode: 2 });
  });
});
