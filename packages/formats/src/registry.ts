import type { z } from "zod";
import { alpaca, chat, dpo, pairs, promptCompletion, sharegpt } from "./schemas.js";

/**
 * The formats curate knows.
 * @example formatNames.join(", "); // "chat, alpaca, prompt_completion, sharegpt, dpo, pairs"
 */
export const formatNames = ["chat", "alpaca", "prompt_completion", "sharegpt", "dpo", "pairs"] as const;
export type FormatName = (typeof formatNames)[number];

/** What curate knows about one format: its schema, a one-line description, and a valid example record. */
export interface FormatInfo {
  readonly name: FormatName;
  readonly schema: z.ZodType;
  readonly description: string;
  readonly example: Record<string, unknown>;
  /** Top-level keys; detection looks at these. */
  readonly keys: readonly string[];
}

/**
 * Every supported format by name.
 * @example formats.alpaca.schema.safeParse({ instruction: "Add 2 and 2", output: "4" }).success; // true
 */
export const formats: Record<FormatName, FormatInfo> = {
  chat: {
    name: "chat",
    schema: chat,
    description: "OpenAI chat: messages with roles system|developer|user|assistant|tool, tool calls, weight",
    keys: ["messages", "tools", "parallel_tool_calls"],
    example: {
      messages: [
        { role: "system", content: "You are a concise assistant." },
        { role: "user", content: "What is the capital of Peru?" },
        { role: "assistant", content: "Lima." },
      ],
    },
  },
  alpaca: {
    name: "alpaca",
    schema: alpaca,
    description: "Alpaca: instruction, optional input, output (plus optional system and history)",
    keys: ["instruction", "input", "output", "system", "history"],
    example: { instruction: "Translate to Spanish.", input: "Good morning", output: "Buenos días" },
  },
  prompt_completion: {
    name: "prompt_completion",
    schema: promptCompletion,
    description: "Prompt/completion: a prompt string and the completion to learn",
    keys: ["prompt", "completion"],
    example: { prompt: "Q: How many legs does a spider have?\nA:", completion: " Eight." },
  },
  sharegpt: {
    name: "sharegpt",
    schema: sharegpt,
    description: "ShareGPT: conversations of { from: human|gpt|system|tool|function_call|observation, value }",
    keys: ["conversations", "system", "tools"],
    example: {
      conversations: [
        { from: "human", value: "Name a prime number above 10." },
        { from: "gpt", value: "11." },
      ],
    },
  },
  dpo: {
    name: "dpo",
    schema: dpo,
    description: "OpenAI preference (DPO): input.messages, preferred_output, non_preferred_output",
    keys: ["input", "preferred_output", "non_preferred_output"],
    example: {
      input: { messages: [{ role: "user", content: "Summarise: the meeting moved to 3pm." }] },
      preferred_output: [{ role: "assistant", content: "The meeting is now at 3pm." }],
      non_preferred_output: [{ role: "assistant", content: "Meetings are important." }],
    },
  },
  pairs: {
    name: "pairs",
    schema: pairs,
    description: "Preference pairs: prompt, chosen, rejected (strings or message lists)",
    keys: ["prompt", "chosen", "rejected"],
    example: { prompt: "2 + 2 =", chosen: "4", rejected: "5" },
  },
};

/**
 * True when `name` is a known format.
 * @example isFormatName("chat"); // true
 */
export function isFormatName(name: unknown): name is FormatName {
  return typeof name === "string" && (formatNames as readonly string[]).includes(name);
}

const has = (record: object, key: string): boolean => Object.hasOwn(record, key);

/**
 * The format a record's top-level keys point to, without parsing it; `undefined` when no format fits. Fast enough
 * to run on every record: it looks at own keys only (never the prototype, so `constructor` is not a key).
 * @example detectFormat({ instruction: "Add 2 and 2", output: "4" }); // "alpaca"
 */
export function detectFormat(record: unknown): FormatName | undefined {
  if (typeof record !== "object" || record === null || Array.isArray(record)) return undefined;
  if (has(record, "messages")) return "chat";
  if (has(record, "conversations")) return "sharegpt";
  // DPO before alpaca: both have `input`, but only DPO has the two outputs.
  if (has(record, "preferred_output") || has(record, "non_preferred_output")) return "dpo";
  if (has(record, "chosen") || has(record, "rejected")) return "pairs";
  if (has(record, "instruction") || (has(record, "output") && !has(record, "completion"))) return "alpaca";
  if (has(record, "prompt") || has(record, "completion")) return "prompt_completion";
  return undefined;
}
