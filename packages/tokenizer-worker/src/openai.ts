import type { ChatCount, ChatInput, ChatMessage, OpenAiEncoding } from "./types.js";

/**
 * OpenAI model names → encoding, as the `tiktoken` package maps them (`model_to_encoding.json`), with prefixes for
 * dated snapshots and fine-tuned models (`ft:gpt-4o-mini-2024-07-18:org::id`).
 */
const modelPrefixes: readonly (readonly [string, OpenAiEncoding])[] = [
  ["gpt-5", "o200k_base"],
  ["gpt-4.5", "o200k_base"],
  ["gpt-4.1", "o200k_base"],
  ["gpt-4o", "o200k_base"],
  ["chatgpt-4o", "o200k_base"],
  ["o1", "o200k_base"],
  ["o3", "o200k_base"],
  ["o4-mini", "o200k_base"],
  ["gpt-4", "cl100k_base"],
  ["gpt-3.5-turbo", "cl100k_base"],
  ["gpt-35-turbo", "cl100k_base"],
  ["davinci-002", "cl100k_base"],
  ["babbage-002", "cl100k_base"],
  ["text-embedding-3", "cl100k_base"],
  ["text-embedding-ada-002", "cl100k_base"],
  ["text-davinci-003", "p50k_base"],
  ["text-davinci-002", "p50k_base"],
  ["code-davinci", "p50k_base"],
  ["code-cushman", "p50k_base"],
  ["text-davinci-001", "r50k_base"],
  ["text-curie-001", "r50k_base"],
  ["text-babbage-001", "r50k_base"],
  ["text-ada-001", "r50k_base"],
  ["davinci", "r50k_base"],
  ["curie", "r50k_base"],
  ["babbage", "r50k_base"],
  ["ada", "r50k_base"],
];

export const openAiEncodings: readonly OpenAiEncoding[] = ["o200k_base", "cl100k_base", "p50k_base", "r50k_base"];

/**
 * Model names under each prefix above. A name is an OpenAI model when it is one of these, or a prefix alone, followed
 * only by a snapshot suffix (`-2024-07-18`, `-0613`, `-preview`, `-latest`). Anything else, `gpt-4o-mni` included,
 * is unknown: matching any `gpt-4o-…` priced a typo of gpt-4o-mini as gpt-4o, eight times as much.
 */
const modelVariants: readonly string[] = [
  "gpt-5-mini",
  "gpt-5-nano",
  "gpt-5-chat",
  "gpt-5-pro",
  "gpt-5-codex",
  "gpt-4.1-mini",
  "gpt-4.1-nano",
  "gpt-4o-mini",
  "gpt-4o-audio",
  "gpt-4o-realtime",
  "gpt-4o-search",
  "gpt-4o-mini-audio",
  "gpt-4o-mini-realtime",
  "gpt-4o-mini-search",
  "o1-mini",
  "o1-pro",
  "o3-mini",
  "o3-pro",
  "o3-deep-research",
  "o4-mini-deep-research",
  "gpt-4-turbo",
  "gpt-4-32k",
  "gpt-4-vision",
  "gpt-3.5-turbo-16k",
  "gpt-3.5-turbo-instruct",
  "gpt-35-turbo-16k",
  "text-embedding-3-small",
  "text-embedding-3-large",
  "code-davinci-001",
  "code-davinci-002",
  "code-cushman-001",
  "code-cushman-002",
];

/** What may follow a model name: a dated or numbered snapshot, `-preview`, `-latest`, or nothing. */
const SNAPSHOT = /^(?:-\d{4}(?:-\d{2}-\d{2})?|-\d{4}-preview|-preview|-latest|-\d{2}k)*$/;

/** Every model name curate knows (prefixes and their variants), for `closestOpenAiModels`. */
export const openAiModelNames: readonly string[] = [...new Set([...modelPrefixes.map(([p]) => p), ...modelVariants])];

/**
 * The encoding of an OpenAI model name, or undefined for a name that is not an OpenAI model.
 * @example encodingForModel("gpt-4o-mini"); // "o200k_base"; encodingForModel("gpt-4o-mni"); // undefined
 */
export function encodingForModel(model: string): OpenAiEncoding | undefined {
  const name = model.startsWith("ft:") ? (model.split(":")[1] ?? "") : model;
  // The longest known name the model starts with, followed by nothing but a snapshot suffix.
  let base: string | undefined;
  for (const known of openAiModelNames) {
    if (
      name.startsWith(known) &&
      SNAPSHOT.test(name.slice(known.length)) &&
      (base === undefined || known.length > base.length)
    )
      base = known;
  }
  if (base === undefined) return undefined;
  // Longest prefix first, so "gpt-4o" wins over "gpt-4".
  let best: readonly [string, OpenAiEncoding] | undefined;
  for (const entry of modelPrefixes) {
    const [prefix] = entry;
    if ((base === prefix || base.startsWith(`${prefix}-`)) && (best === undefined || prefix.length > best[0].length))
      best = entry;
  }
  return best?.[1];
}

/** Levenshtein distance, two rows. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known OpenAI model names closest to `name` (edit distance), nearest first, for "did you mean" messages.
 * @example closestOpenAiModels("gpt-4o-mni"); // ["gpt-4o-mini", ...]
 */
export function closestOpenAiModels(name: string, count = 3): string[] {
  const bare = name.startsWith("ft:") ? (name.split(":")[1] ?? "") : name;
  return openAiModelNames
    .map((known) => ({ known, distance: editDistance(bare.toLowerCase(), known) }))
    .sort((a, b) => a.distance - b.distance || a.known.localeCompare(b.known))
    .slice(0, count)
    .map((entry) => entry.known);
}

/** Text of a message `content`: a string, or the text parts of a content array (images cannot be counted). */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    let text = "";
    for (const part of content) {
      if (typeof part === "string") text += part;
      else if (isRecord(part) && typeof part.text === "string") text += part.text;
    }
    return text;
  }
  return "";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  return JSON.stringify(value);
}

/** The tool calls of an assistant message as `[name, arguments]` pairs (`tool_calls` or legacy `function_call`). */
export function toolCalls(message: ChatMessage): [string, string][] {
  const calls: [string, string][] = [];
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      const fn = isRecord(call) && isRecord(call.function) ? call.function : isRecord(call) ? call : {};
      calls.push([str(fn.name), str(fn.arguments)]);
    }
  }
  if (isRecord(message.function_call))
    calls.push([str(message.function_call.name), str(message.function_call.arguments)]);
  return calls;
}

/**
 * Tokens of a conversation by the accounting OpenAI documents in its cookbook ("How to count tokens with tiktoken"):
 * 3 tokens per message, the tokens of its role, content and name, 1 more per name, and 3 to prime the reply. Tool
 * definitions follow the cookbook's `num_tokens_for_tools` (7 tokens per function for o200k models, 10 for older
 * ones; 3 per property list and property, 3 per enum item, -3 per enum, 12 at the end). Tool calls, which the cookbook
 * does not cover, count their name and arguments plus 3 each. OpenAI calls all of this an estimate, and so does
 * curate (`exact: false`). `trainable` is the assistant messages' content and tool calls, without the framing
 * tokens, skipping messages with `weight: 0`.
 * @example openAiChatCount({ messages: [{ role: "user", content: "hi" }] }, (s) => enc.count(s), "o200k_base");
 */
export function openAiChatCount(chat: ChatInput, count: (text: string) => number, encoding: OpenAiEncoding): ChatCount {
  let total = 3; // every reply is primed with <|start|>assistant<|message|>
  let trainable = 0;
  for (const message of chat.messages) {
    if (!isRecord(message)) continue;
    let own = count(contentText(message.content));
    for (const [name, args] of toolCalls(message)) own += count(name) + count(args) + 3;
    total += 3 + count(str(message.role)) + own;
    if (typeof message.name === "string") total += count(message.name) + 1;
    if (message.role === "assistant" && message.weight !== 0) trainable += own;
  }
  total += toolsTokens(chat.tools ?? [], count, encoding);
  return { total, trainable, exact: false };
}

/** The cookbook's `num_tokens_for_tools`, guarded so that any shape of tool definition counts instead of crashing. */
function toolsTokens(tools: readonly unknown[], count: (text: string) => number, encoding: OpenAiEncoding): number {
  if (tools.length === 0) return 0;
  const funcInit = encoding === "o200k_base" ? 7 : 10;
  const propInit = 3;
  const propKey = 3;
  const enumInit = -3;
  const enumItem = 3;
  const funcEnd = 12;
  let total = 0;
  for (const tool of tools) {
    const fn = isRecord(tool) && isRecord(tool.function) ? tool.function : isRecord(tool) ? tool : {};
    total += funcInit;
    total += count(`${str(fn.name)}:${trimDot(str(fn.description))}`);
    const parameters = isRecord(fn.parameters) ? fn.parameters : {};
    const properties = isRecord(parameters.properties) ? parameters.properties : {};
    const keys = Object.keys(properties);
    if (keys.length > 0) {
      total += propInit;
      for (const key of keys) {
        total += propKey;
        const property = isRecord(properties[key]) ? (properties[key] as Record<string, unknown>) : {};
        if (Array.isArray(property.enum)) {
          total += enumInit;
          for (const item of property.enum) total += enumItem + count(str(item));
        }
        total += count(`${key}:${str(property.type)}:${trimDot(str(property.description))}`);
      }
    }
  }
  return total + funcEnd;
}

function trimDot(text: string): string {
  return text.endsWith(".") ? text.slice(0, -1) : text;
}
