import { convert } from "@curate/formats";
import type { ChatInput, ChatMessage } from "@curate/tokenizer-worker";

/**
 * What to count for one record. Chat-like records become conversations (counted with the tokenizer's chat template,
 * or OpenAI's message accounting); plain-text records become sequences of named text parts.
 *
 * Renderings, by shape (documented in the README):
 * - `chat` (`messages`, optional `tools`/`functions`) and `sharegpt` (`conversations` of `{ from, value }`; human →
 *   user, gpt → assistant, observation → tool): the conversation as is.
 * - `alpaca` (`instruction`, `input`, `output`, optional `system`): a conversation of [system], user = instruction +
 *   "\n\n" + input (when input is not empty), assistant = output. Fields: each of those strings alone.
 * - `prompt_completion` with strings: one plain sequence, prompt then completion; trainable = completion. With message
 *   lists (TRL's conversational form): the conversation prompt + completion.
 * - `text` (`{ text }`): one plain sequence, all trainable.
 * - `preference` (`prompt`/`chosen`/`rejected`, strings or messages; or OpenAI DPO `input`/`preferred_output`/
 *   `non_preferred_output`): two sequences, prompt + chosen and prompt + rejected; the record's total is the longer
 *   one (what must fit the context), its trainable that sequence's answer. Fields: prompt, chosen, rejected.
 */
export type Shape = "chat" | "sharegpt" | "alpaca" | "prompt_completion" | "text" | "preference";

/** A plain-text sequence: parts counted one by one, then summed with the tokenizer's sequence overhead. */
export interface TextSequence {
  readonly parts: readonly { readonly field: string; readonly text: string; readonly trainable: boolean }[];
}

export type Sequence = { readonly chat: ChatInput } | { readonly text: TextSequence };

export interface Plan {
  readonly shape: Shape;
  /** One sequence, or two for preference records (chosen, rejected). */
  readonly sequences: readonly Sequence[];
  /** Raw strings counted alone, reported per field (`instruction`, `output`, `prompt`, ...). */
  readonly fields: readonly { readonly field: string; readonly text: string }[];
  /** Where `truncate` may cut: the path of the last trainable text, if the shape allows cutting. */
  readonly truncatable?: TruncationTarget;
}

/** The text `truncate` shortens: a top-level string field, or the content of the last message. */
export type TruncationTarget =
  | { readonly kind: "field"; readonly field: string }
  | { readonly kind: "lastMessage"; readonly key: "messages" | "conversations" };

type Rec = Record<string, unknown>;

function isRec(value: unknown): value is Rec {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const shareGptRoles: Record<string, string> = {
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  model: "assistant",
  chatgpt: "assistant",
  bing: "assistant",
  bard: "assistant",
  system: "system",
  function_call: "assistant",
  observation: "tool",
  tool: "tool",
  function: "tool",
};

function messagesOf(value: unknown): ChatMessage[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter(isRec).map((m) => ({ ...m, role: typeof m.role === "string" ? m.role : String(m.role ?? "") }));
}

function toolsOf(record: Rec): unknown[] | undefined {
  if (Array.isArray(record.tools)) return record.tools;
  // Legacy `functions`: the same definitions without the `{ type, function }` wrapper.
  if (Array.isArray(record.functions)) return record.functions.map((f) => ({ type: "function", function: f }));
  return undefined;
}

function chat(messages: ChatMessage[], tools: unknown[] | undefined): ChatInput {
  return tools === undefined ? { messages } : { messages, tools };
}

/** A preference answer: a string, one message, or a list of messages → assistant messages. */
function answer(value: unknown): ChatMessage[] {
  if (typeof value === "string") return [{ role: "assistant", content: value }];
  if (isRec(value)) return [{ ...value, role: typeof value.role === "string" ? value.role : "assistant" }];
  return messagesOf(value) ?? [];
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/**
 * How to count `record`, or undefined when it has none of the shapes above.
 * @example planFor({ instruction: "Add 2 and 2", output: "4" })?.shape; // "alpaca"
 */
export function planFor(record: unknown): Plan | undefined {
  if (!isRec(record)) return undefined;
  const tools = toolsOf(record);

  const messages = messagesOf(record.messages);
  if (messages !== undefined) {
    return {
      shape: "chat",
      sequences: [{ chat: chat(messages, tools) }],
      fields: [],
      ...(lastIsAssistantText(messages) ? { truncatable: { kind: "lastMessage", key: "messages" } } : {}),
    };
  }

  if (Array.isArray(record.conversations)) {
    const turns = record.conversations.filter(isRec).map(
      (turn): ChatMessage => ({
        role: shareGptRoles[String(turn.from ?? turn.role ?? "").toLowerCase()] ?? String(turn.from ?? turn.role ?? ""),
        content: turn.value ?? turn.content,
      }),
    );
    const system =
      typeof record.system === "string" && record.system !== "" ? [{ role: "system", content: record.system }] : [];
    return {
      shape: "sharegpt",
      sequences: [{ chat: chat([...system, ...turns], tools) }],
      fields: [],
      ...(lastIsAssistantText(turns) && system.length === 0
        ? { truncatable: { kind: "lastMessage", key: "conversations" } }
        : {}),
    };
  }

  // OpenAI DPO: { input: { messages, tools }, preferred_output: [...], non_preferred_output: [...] }
  if (isRec(record.input) && ("preferred_output" in record || "non_preferred_output" in record)) {
    const prompt = messagesOf(record.input.messages) ?? [];
    const dpoTools = toolsOf(record.input);
    return {
      shape: "preference",
      sequences: [
        { chat: chat([...prompt, ...answer(record.preferred_output)], dpoTools) },
        { chat: chat([...prompt, ...answer(record.non_preferred_output)], dpoTools) },
      ],
      fields: [],
    };
  }

  if ("chosen" in record && "rejected" in record) {
    const { prompt, chosen, rejected } = record;
    if (
      typeof chosen === "string" &&
      typeof rejected === "string" &&
      (prompt === undefined || typeof prompt === "string")
    ) {
      const p = str(prompt);
      const sequence = (text: string): Sequence => ({
        text: {
          parts: [
            { field: "prompt", text: p, trainable: false },
            { field: "answer", text, trainable: true },
          ],
        },
      });
      return {
        shape: "preference",
        sequences: [sequence(chosen), sequence(rejected)],
        fields: [
          { field: "prompt", text: p },
          { field: "chosen", text: chosen },
          { field: "rejected", text: rejected },
        ],
      };
    }
    const promptMessages =
      typeof prompt === "string" ? [{ role: "user", content: prompt }] : (messagesOf(prompt) ?? []);
    return {
      shape: "preference",
      sequences: [
        { chat: chat([...promptMessages, ...answer(chosen)], tools) },
        { chat: chat([...promptMessages, ...answer(rejected)], tools) },
      ],
      fields: [],
    };
  }

  if (typeof record.instruction === "string" && ("output" in record || "response" in record)) {
    const outputKey = "output" in record ? "output" : "response";
    const output = str(record[outputKey]);
    const input = str(record.input);
    const system = str(record.system);
    const user = input === "" ? record.instruction : `${record.instruction}\n\n${input}`;
    // The conversation @curate/formats converts the record to (with `history` turns), so that `--max-tokens` filters
    // on what `--to chat` writes; a record that does not convert (odd history) is counted as its last turn.
    const converted = outputKey === "output" ? convert(record, "alpaca", "chat", { extra: "drop" }) : undefined;
    const messages: ChatMessage[] =
      converted?.ok === true && Array.isArray(converted.record.messages)
        ? (converted.record.messages as ChatMessage[])
        : [
            ...(system === "" ? [] : [{ role: "system", content: system }]),
            { role: "user", content: user },
            { role: "assistant", content: output },
          ];
    return {
      shape: "alpaca",
      sequences: [{ chat: { messages } }],
      fields: [
        ...(system === "" ? [] : [{ field: "system", text: system }]),
        { field: "instruction", text: record.instruction },
        { field: "input", text: input },
        { field: outputKey, text: output },
      ],
      truncatable: { kind: "field", field: outputKey },
    };
  }

  if ("prompt" in record && "completion" in record) {
    const { prompt, completion } = record;
    if (typeof prompt === "string" && typeof completion === "string") {
      return {
        shape: "prompt_completion",
        sequences: [
          {
            text: {
              parts: [
                { field: "prompt", text: prompt, trainable: false },
                { field: "completion", text: completion, trainable: true },
              ],
            },
          },
        ],
        fields: [
          { field: "prompt", text: prompt },
          { field: "completion", text: completion },
        ],
        truncatable: { kind: "field", field: "completion" },
      };
    }
    const promptMessages =
      typeof prompt === "string" ? [{ role: "user", content: prompt }] : (messagesOf(prompt) ?? []);
    return {
      shape: "prompt_completion",
      sequences: [{ chat: chat([...promptMessages, ...answer(completion)], tools) }],
      fields: [],
    };
  }

  if (typeof record.text === "string") {
    return {
      shape: "text",
      sequences: [{ text: { parts: [{ field: "text", text: record.text, trainable: true }] } }],
      fields: [{ field: "text", text: record.text }],
      truncatable: { kind: "field", field: "text" },
    };
  }
  return undefined;
}

function lastIsAssistantText(messages: readonly ChatMessage[]): boolean {
  const last = messages.at(-1);
  return (
    last !== undefined && last.role === "assistant" && typeof last.content === "string" && last.tool_calls === undefined
  );
}
