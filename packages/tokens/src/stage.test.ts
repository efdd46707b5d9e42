import { CurateError } from "@curate/core";
import { describeStageContract, runStage } from "@curate/core/testing";
import type { ChatCount, ChatInput, Tokenizer, TokenizerInfo } from "@curate/tokenizer-worker";
import { get_encoding } from "tiktoken";
import { describe, expect, it } from "vitest";
import { countTokens } from "./stage.js";

const o200k = get_encoding("o200k_base");
const n = (text: string) => o200k.encode_ordinary(text).length;

const records = [
  {
    messages: [
      { role: "user", content: "What is the capital of France?" },
      { role: "assistant", content: "Paris." },
    ],
  },
  { instruction: "Translate to German", input: "Good morning", output: "Guten Morgen" },
  {
    conversations: [
      { from: "human", value: "Name a prime number." },
      { from: "gpt", value: "Seven." },
    ],
  },
  { prompt: "The sky is", completion: " blue." },
  { prompt: "Pick one:", chosen: "the kind answer", rejected: "a rude and much longer answer than the other" },
  { text: "Plain pretraining text. ".repeat(30) },
  { id: 7, note: "no trainable text here" },
  { instruction: "Say hi", output: "hi" },
];

const opts = { tokenizer: "gpt-4o-mini", threads: 1 } as const;

describe("countTokens", () => {
  describeStageContract("countTokens", () => countTokens({ ...opts, maxTokens: 60 }), records);

  it("counts every shape as documented and adds meta.tokens", async () => {
    const { kept, rejected } = await runStage(countTokens(opts), records);
    expect(rejected.map((r) => [r.item.source.line, r.reason.code])).toEqual([[7, "unknown_format"]]);
    const tokens = kept.map((r) => r.meta?.tokens);
    // chat: (3 + "user" + q) + (3 + "assistant" + a) + 3
    expect(tokens[0]).toEqual({
      total: 3 + 1 + n("What is the capital of France?") + 3 + 1 + n("Paris.") + 3,
      trainable: n("Paris."),
    });
    // alpaca → user "instruction\n\ninput", assistant output
    expect(tokens[1]).toEqual({
      total: 3 + 1 + n("Translate to German\n\nGood morning") + 3 + 1 + n("Guten Morgen") + 3,
      trainable: n("Guten Morgen"),
    });
    // ShareGPT human/gpt → user/assistant
    expect(tokens[2]).toEqual({
      total: 3 + 1 + n("Name a prime number.") + 3 + 1 + n("Seven.") + 3,
      trainable: n("Seven."),
    });
    // prompt/completion strings: a plain sequence (OpenAI adds no BOS/EOS)
    expect(tokens[3]).toEqual({ total: n("The sky is") + n(" blue."), trainable: n(" blue.") });
    // preference: the longer of prompt + chosen and prompt + rejected
    const rejectedLength = n("Pick one:") + n("a rude and much longer answer than the other");
    expect(tokens[4]).toEqual({ total: rejectedLength, trainable: n("a rude and much longer answer than the other") });
    expect(tokens[5]?.total).toBe(n("Plain pretraining text. ".repeat(30)));
  });

  it("counts an alpaca record's history: the conversation `convert --to chat` writes", async () => {
    const alpaca = {
      instruction: "And in Spanish?",
      output: "Buenos días",
      history: [["Translate 'good morning' to German.", "Guten Morgen"]],
    };
    const chatOf = {
      messages: [
        { role: "user", content: "Translate 'good morning' to German." },
        { role: "assistant", content: "Guten Morgen" },
        { role: "user", content: "And in Spanish?" },
        { role: "assistant", content: "Buenos días" },
      ],
    };
    const { kept } = await runStage(countTokens(opts), [alpaca, chatOf]);
    const [a, c] = kept.map((r) => (r.meta!.tokens as { total: number }).total);
    expect(a).toBe(c);
    expect(a).toBe(
      3 * 4 +
        4 +
        n("Translate 'good morning' to German.") +
        n("Guten Morgen") +
        n("And in Spanish?") +
        n("Buenos días") +
        3,
    );
  });

  it("rejects over --max-tokens and under --min-tokens with the count", async () => {
    const { kept, rejected } = await runStage(countTokens({ ...opts, maxTokens: 60, minTokens: 12 }), records);
    const reasons = rejected.map((r) => ({ line: r.item.source.line, ...r.reason }));
    expect(reasons).toContainEqual(
      expect.objectContaining({
        line: 6,
        code: "too_many_tokens",
        tokens: n("Plain pretraining text. ".repeat(30)),
        limit: 60,
      }),
    );
    expect(reasons).toContainEqual(expect.objectContaining({ line: 4, code: "too_few_tokens", limit: 12 }));
    expect(reasons.find((r) => r.code === "too_few_tokens")?.message).toMatch(
      /^\d+ tokens, fewer than --min-tokens 12$/,
    );
    expect(kept.map((r) => r.source.line)).toEqual([1, 2, 3, 5, 8]);
  });

  it("keeps overflowing records with `keep` and counts them as over the limit", async () => {
    const stage = countTokens({ ...opts, maxTokens: 60, onOverflow: "keep" });
    const { kept } = await runStage(stage, records);
    expect(kept).toHaveLength(7);
    expect(stage.stats.summary()).toMatchObject({ records: 7, overMax: 1, maxTokens: 60 });
    expect(stage.info()).toMatchObject({ name: "o200k_base", model: "gpt-4o-mini" });
  });

  it("stops the run with a data error under `fail`", async () => {
    const run = runStage(countTokens({ ...opts, maxTokens: 60, onOverflow: "fail" }), records);
    await expect(run).rejects.toBeInstanceOf(CurateError);
    await expect(runStage(countTokens({ ...opts, maxTokens: 60, onOverflow: "fail" }), records)).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/^inline\.jsonl:6: \d+ tokens, more than --max-tokens 60/),
    });
  });

  it("truncates the last trainable text to fit, with a warning, and refuses to truncate preferences", async () => {
    const long = "word ".repeat(200);
    const input = [
      { prompt: "Continue:", completion: long },
      { instruction: "Write", output: long },
      {
        messages: [
          { role: "user", content: "Go" },
          { role: "assistant", content: `Sure: ${long}` },
        ],
      },
      { prompt: "Q", chosen: long, rejected: "short" },
      {
        messages: [
          { role: "user", content: long },
          { role: "assistant", content: "ok" },
        ],
      },
    ];
    const stage = countTokens({ ...opts, maxTokens: 50, onOverflow: "truncate" });
    const { kept, rejected, warnings } = await runStage(stage, input);
    expect(kept.map((r) => r.source.line)).toEqual([1, 2, 3]);
    // The statistics describe what was written: the three kept records at ≤ 50 tokens (the two refused ones at
    // their full length, as rejects), and how many were cut.
    const summary = stage.stats.summary();
    expect(summary).toMatchObject({ records: 5, truncated: 3, overMax: 5 });
    const written = kept.map((r) => r.meta!.tokens!.total).sort((a, b) => a - b);
    expect(summary.min).toBe(written[0]);
    expect(summary.median).toBeLessThanOrEqual(50);
    for (const record of kept) expect(record.meta?.tokens?.total).toBeLessThanOrEqual(50);
    expect(kept[0]!.meta?.tokens?.total).toBe(50);
    const completion = (kept[0]!.data as { completion: string }).completion;
    expect(long.startsWith(completion)).toBe(true);
    expect(n("Continue:") + n(completion)).toBe(50);
    expect(warnings.map((w) => [w.item.source.line, w.issue.code, w.issue.path])).toEqual([
      [1, "truncated", "completion"],
      [2, "truncated", "output"],
      [3, "truncated", "messages[1].content"],
    ]);
    expect(rejected.map((r) => [r.item.source.line, r.reason.code])).toEqual([
      [4, "too_many_tokens"],
      [5, "too_many_tokens"],
    ]);
    expect(rejected[0]!.reason.message).toMatch(/preference records cannot be truncated/);
    expect(rejected[1]!.reason.message).toMatch(/would not fit/);
  });

  it("annotates records when asked, under the given key", async () => {
    const { kept } = await runStage(countTokens({ ...opts, annotate: "_tokens" }), [records[1]]);
    expect(kept[0]!.data).toMatchObject({
      instruction: "Translate to German",
      _tokens: { total: expect.any(Number), trainable: n("Guten Morgen"), exact: false },
    });
    const fields = (kept[0]!.data as { _tokens: { fields: Record<string, number> } })._tokens.fields;
    expect(fields).toEqual({
      instruction: n("Translate to German"),
      input: n("Good morning"),
      output: n("Guten Morgen"),
    });
  });

  it("gives identical output on 1 and 2 threads", async () => {
    const many = Array.from({ length: 600 }, (_, i) => records[i % records.length]!);
    const one = await runStage(countTokens({ ...opts, maxTokens: 60, batchSize: 16 }), many);
    const two = await runStage(countTokens({ ...opts, threads: 2, maxTokens: 60, batchSize: 16 }), many);
    expect(two.kept).toEqual(one.kept);
    expect(two.rejected).toEqual(one.rejected);
  });

  it("works with any Tokenizer implementation and rejects chats its template cannot render", async () => {
    const fake: Tokenizer = {
      info: async () =>
        ({
          name: "fake",
          kind: "huggingface",
          engine: "fast",
          vocabSize: 10,
          chatAccounting: "chat-template",
          specialTokensInText: "special",
          sequenceOverhead: 2,
        }) as TokenizerInfo,
      count: async (texts) => Uint32Array.from(texts, (t) => t.split(" ").length),
      encode: async (texts) => texts.map((t) => Uint32Array.from(t.split(" "), (_, i) => i)),
      decode: async (ids) => ids.map((a) => "x ".repeat(a.length).trim()),
      countChats: async (chats: readonly ChatInput[]) =>
        chats.map(
          (c): ChatCount =>
            c.messages.length > 1 ? { total: 10, trainable: 4, exact: true } : { error: "roles must alternate" },
        ),
      close: async () => {},
    };
    const { kept, rejected } = await runStage(countTokens({ tokenizer: fake }), [
      {
        messages: [
          { role: "user", content: "a" },
          { role: "assistant", content: "b" },
        ],
      },
      { messages: [{ role: "user", content: "a" }] },
      { text: "three words here" },
    ]);
    expect(kept.map((r) => r.meta?.tokens)).toEqual([
      { total: 10, trainable: 4 },
      { total: 5, trainable: 3 },
    ]);
    expect(rejected[0]!.reason).toMatchObject({
      code: "chat_template_error",
      message: expect.stringContaining("roles must alternate"),
    });
  });

  it("fails the run with the tokenizer's error, even from a batch still waiting its turn", async () => {
    let calls = 0;
    const failing: Tokenizer = {
      info: async () => ({
        name: "f",
        kind: "openai",
        engine: "fast",
        vocabSize: 1,
        chatAccounting: "openai-estimate",
        specialTokensInText: "ordinary",
        sequenceOverhead: 0,
      }),
      count: async (texts) => {
        if (++calls === 2) throw new CurateError("CURATE_TOKENIZER", "tokenizer: worker lost");
        await new Promise((r) => setTimeout(r, 20));
        return new Uint32Array(texts.length);
      },
      encode: async () => [],
      decode: async () => [],
      countChats: async () => [],
      close: async () => {},
    };
    const texts = Array.from({ length: 6 }, (_, i) => ({ text: `t${i}` }));
    await expect(runStage(countTokens({ tokenizer: failing, batchSize: 1, threads: 2 }), texts)).rejects.toThrow(
      /worker lost/,
    );
  });

  it("checks its options before any data flows", () => {
    expect(() => countTokens({ tokenizer: "nope-tokenizer" })).toThrow(/unknown tokenizer/);
    expect(() => countTokens({ ...opts, maxTokens: 0 })).toThrow(/maxTokens/);
    expect(() => countTokens({ ...opts, minTokens: 10, maxTokens: 5 })).toThrow(/larger than maxTokens/);
    expect(() => countTokens({ ...opts, onOverflow: "truncate" })).toThrow(/needs --max-tokens/);
    expect(() => countTokens({ ...opts, onOverflow: "squash" as never })).toThrow(/drop, truncate, keep, fail/);
    expect(() => countTokens({ ...opts, annotate: "bad key" })).toThrow(/annotate/);
    expect(() => countTokens({ ...opts, device: "tpu" as never })).toThrow(/device.*cpu, gpu or auto/);
  });

  it("keeps a tokenizer the GPU kernel does not implement on the CPU with --device gpu, and says why", async () => {
    const notes: string[] = [];
    const stage = countTokens({ tokenizer: "p50k_base", device: "gpu", threads: 1, onDevice: (n) => notes.push(n) });
    const { kept } = await runStage(stage, [{ text: "hello world" }]);
    expect(kept).toHaveLength(1);
    expect(notes).toEqual([
      "device: cpu (p50k_base stays on the CPU: the GPU kernel implements o200k_base and cl100k_base)",
    ]);
  });
});

describe("countTokens with a Hugging Face chat template (llama3)", () => {
  it("counts the rendered conversation and the assistant turn", async () => {
    const { kept } = await runStage(countTokens({ tokenizer: "llama3", threads: 1 }), [
      {
        messages: [
          { role: "user", content: "What is 2+2?" },
          { role: "assistant", content: "4." },
        ],
      },
      { prompt: "2+2=", completion: "4" },
    ]);
    // <|begin_of_text|> <|start_header_id|> user <|end_header_id|> \n\n                 5
    // What| is| |2|+|2|?  (the space before a digit is a piece of its own)                  7
    // <|eot_id|> <|start_header_id|> assistant <|end_header_id|> \n\n                       5
    // 4|. <|eot_id|>  (trainable)                                                            3
    // <|start_header_id|> assistant <|end_header_id|> \n\n  (this template always adds it)  4  → 24
    expect(kept[0]!.meta?.tokens).toEqual({ total: 24, trainable: 3 });
    // plain sequence: "2+2=" (4 pieces: 2 + 2 =) + "4" + EOS (no BOS: this tokenizer.json adds none)
    expect(kept[1]!.meta?.tokens).toEqual({ total: 4 + 1 + 1, trainable: 1 });
  });
});
