import { get_encoding } from "tiktoken";
import { describe, expect, it } from "vitest";
import { loadBackend } from "./backend.js";
import { resolveTokenizer } from "./resolve.js";
import type { ChatCount, ChatInput } from "./types.js";

const o200k = get_encoding("o200k_base");
const n = (text: string) => o200k.encode_ordinary(text).length;

function counted(result: ChatCount | undefined): { total: number; trainable: number; exact: boolean } {
  if (result === undefined || "error" in result) throw new Error(`expected a count, got ${JSON.stringify(result)}`);
  return result;
}

describe("OpenAI accounting (gpt-4o-mini, o200k_base)", async () => {
  const backend = await loadBackend(resolveTokenizer("gpt-4o-mini"));

  it("counts 3 per message, role + content (+ name + 1), and 3 to prime the reply", () => {
    const chat: ChatInput = {
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", name: "alice", content: "Hello!" },
        { role: "assistant", content: "Hi there." },
      ],
    };
    // Worked by hand from o200k pieces:
    //   system:    3 + "system"(1) + "You| are| a| helpful| assistant|."(6)  = 10
    //   user:      3 + "user"(1) + "Hello|!"(2) + "alice"(1) + 1 for the name = 8
    //   assistant: 3 + "assistant"(1) + "Hi| there|."(3)                   = 7
    //   reply priming                                                       = 3   → 28
    expect([n("system"), n("You are a helpful assistant."), n("user"), n("Hello!"), n("alice")]).toEqual([
      1, 6, 1, 2, 1,
    ]);
    expect([n("assistant"), n("Hi there.")]).toEqual([1, 3]);
    const [result] = backend.countChats([chat]);
    expect(result).toEqual({ total: 28, trainable: 3, exact: false });
  });

  it("counts tool definitions by the cookbook formula and tool calls by name + arguments", () => {
    const tools = [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Get the weather.",
          parameters: {
            type: "object",
            properties: {
              city: { type: "string", description: "City name." },
              unit: { type: "string", enum: ["c", "f"], description: "Unit" },
            },
          },
        },
      },
    ];
    const messages = [
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
      },
    ];
    const base = counted(backend.countChats([{ messages }])[0]);
    const withTools = counted(backend.countChats([{ messages, tools }])[0]);
    const toolTokens =
      7 +
      n("get_weather:Get the weather") +
      3 +
      (3 + n("city:string:City name")) +
      (3 - 3 + 3 + n("c") + 3 + n("f") + n("unit:string:Unit")) +
      12;
    expect(withTools.total - base.total).toBe(toolTokens);
    const call = n("get_weather") + n('{"city":"Paris"}') + 3;
    expect(base.total).toBe(3 + n("user") + n("Weather in Paris?") + 3 + n("assistant") + call + 3);
    expect(base.trainable).toBe(call);
  });

  it("never crashes on odd shapes, and skips weight-0 assistant messages from trainable", () => {
    const odd = [
      { messages: [] },
      {
        messages: [
          { role: "user", content: [{ type: "text", text: "part one " }, { type: "image_url", image_url: {} }, "two"] },
        ],
      },
      {
        messages: [
          { role: "assistant", content: "kept", weight: 1 },
          { role: "assistant", content: "skipped", weight: 0 },
        ],
      },
      {
        messages: [{ role: "assistant", tool_calls: "not a list", function_call: { name: "f", arguments: { a: 1 } } }],
      },
      {
        messages: [{ role: "user", content: 42 }],
        tools: [null, "x", { function: { parameters: { properties: { p: null } } } }],
      },
    ] as unknown as ChatInput[];
    const results = backend.countChats(odd).map(counted);
    expect(results[0]!.total).toBe(3);
    expect(results[1]!.total).toBe(3 + 1 + n("part one two") + 3);
    expect(results[2]!.trainable).toBe(n("kept"));
    expect(results[3]!.trainable).toBe(n("f") + n('{"a":1}') + 3);
    expect(results[4]!.total).toBeGreaterThan(3);
  });

  it("counts literal special-token strings as text and decodes what it encodes", () => {
    const [ids] = backend.encode(["<|endoftext|> hi"]);
    expect(Array.from(ids!)).toEqual(Array.from(o200k.encode_ordinary("<|endoftext|> hi")));
    expect(backend.decode([ids!])).toEqual(["<|endoftext|> hi"]);
    expect(backend.info).toMatchObject({ name: "o200k_base", model: "gpt-4o-mini", specialTokensInText: "ordinary" });
  });

  it("gives the same counts with the reference engine (tiktoken itself)", async () => {
    const reference = await loadBackend(resolveTokenizer("gpt-4o-mini", { engine: "reference" }));
    const texts = ["Hello world", "日本語 🙂 <|endoftext|>", "  \r\n x"];
    expect(Array.from(reference.count(texts))).toEqual(Array.from(backend.count(texts)));
    expect(reference.info.engine).toBe("reference");
  });
});

describe("chat templates (llama3, qwen3)", async () => {
  const llama = await loadBackend(resolveTokenizer("llama3"));
  const qwen = await loadBackend(resolveTokenizer("qwen3"));
  const count = (backend: typeof llama, text: string) => backend.count([text])[0]!;

  it("renders Llama 3's template and counts the assistant turn up to <|eot_id|>", () => {
    const chat = {
      messages: [
        { role: "user", content: "What is 2+2?" },
        { role: "assistant", content: "4." },
      ],
    };
    const rendered =
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>" +
      "<|start_header_id|>assistant<|end_header_id|>\n\n4.<|eot_id|>" +
      // This template always appends the generation prompt, even when asked not to.
      "<|start_header_id|>assistant<|end_header_id|>\n\n";
    const result = counted(llama.countChats([chat])[0]);
    expect(result.total).toBe(count(llama, rendered));
    // "4" "." "<|eot_id|>"
    expect(result.trainable).toBe(3);
    expect(result.exact).toBe(true);
    expect(llama.info).toMatchObject({ chatAccounting: "chat-template", specialTokensInText: "special" });
  });

  it("counts every assistant turn of a multi-turn Qwen 3 chat, reasoning included where the template keeps it", () => {
    const chat = {
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "2+2?" },
        { role: "assistant", content: "4" },
        { role: "user", content: "3+3?" },
        { role: "assistant", content: "<think>add</think>6" },
      ],
    };
    const result = counted(qwen.countChats([chat])[0]);
    const rendered =
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n" +
      "<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n<think>\nadd\n</think>\n\n6<|im_end|>\n";
    expect(result.total).toBe(count(qwen, rendered));
    expect(result.trainable).toBe(count(qwen, "4<|im_end|>") + count(qwen, "<think>\nadd\n</think>\n\n6<|im_end|>"));
    expect(result.exact).toBe(true);
  });

  it("renders tool definitions with the template and reports template errors instead of throwing", () => {
    const tools = [
      { type: "function", function: { name: "f", description: "d", parameters: { type: "object", properties: {} } } },
    ];
    const messages = [
      { role: "user", content: "hi" },
      { role: "assistant", content: "yo" },
    ];
    const plain = counted(qwen.countChats([{ messages }])[0]);
    const withTools = counted(qwen.countChats([{ messages, tools }])[0]);
    expect(withTools.total).toBeGreaterThan(plain.total + 50);
    // Qwen's template reads `messages[0].role`: fine on an empty list? It renders nothing; a non-list is an error.
    const [broken] = qwen.countChats([{ messages: "nope" } as unknown as ChatInput]);
    expect(broken).toHaveProperty("error");
  });
});
