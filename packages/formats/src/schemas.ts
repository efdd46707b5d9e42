/**
 * The zod schemas of every format curate reads. They are the single source of truth: the TypeScript types are
 * inferred from them, `schemas/*.schema.json` is generated from them, and `validate` checks records against
 * compiled copies of them.
 *
 * Objects are strict (`additionalProperties: false` in JSON Schema) so that a key the format does not define is
 * seen; `validate` reports such keys as warnings unless `strict` is set, and never strips them from the record.
 */
import { z } from "zod";

/**
 * One `{ type: "text", text }` part of a message whose content is an array.
 * @example textPart.parse({ type: "text", text: "Summarise this:" });
 */
export const textPart = z
  .strictObject({
    type: z.literal("text"),
    text: z.string(),
  })
  .meta({ id: "TextPart" });

/**
 * Message content: a string, or an array of text parts.
 * @example messageContent.safeParse([{ type: "text", text: "Hi" }]).success; // true
 */
export const messageContent = z
  .union([z.string(), z.array(textPart)])
  .meta({ id: "MessageContent", description: "A string, or an array of text parts" });

/**
 * One function call an assistant message makes; `arguments` is a JSON string, as the OpenAI API sends it.
 * @example toolCall.parse({ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } });
 */
export const toolCall = z
  .strictObject({
    id: z.string(),
    type: z.literal("function"),
    function: z.strictObject({
      name: z.string(),
      arguments: z.string().meta({ description: "The call's arguments as a JSON-encoded string" }),
    }),
  })
  .meta({ id: "ToolCall" });

const name = z.string().meta({ description: "The participant's name" });

/**
 * Messages by role. An assistant message may hold only `tool_calls`, and `weight: 0` leaves it out of training.
 * @example assistantMessage.parse({ role: "assistant", content: "Lima.", weight: 1 });
 */
export const systemMessage = z
  .strictObject({ role: z.literal("system"), content: messageContent, name: name.optional() })
  .meta({ id: "SystemMessage" });
/** @example developerMessage.parse({ role: "developer", content: "Answer in French." }); */
export const developerMessage = z
  .strictObject({ role: z.literal("developer"), content: messageContent, name: name.optional() })
  .meta({ id: "DeveloperMessage" });
/** @example userMessage.parse({ role: "user", content: "Hi", name: "kari" }); */
export const userMessage = z
  .strictObject({ role: z.literal("user"), content: messageContent, name: name.optional() })
  .meta({ id: "UserMessage" });
/** @example assistantMessage.parse({ role: "assistant", content: null, tool_calls: [] }); */
export const assistantMessage = z
  .strictObject({
    role: z.literal("assistant"),
    // Optional because an assistant turn may consist only of tool calls; `validate` checks that one of them is there.
    content: messageContent.nullable().optional(),
    name: name.optional(),
    tool_calls: z.array(toolCall).optional(),
    weight: z
      .literal([0, 1])
      .optional()
      .meta({ description: "0 excludes this message from training; 1 (default) trains on it" }),
  })
  .meta({ id: "AssistantMessage" });
/** @example toolMessage.parse({ role: "tool", tool_call_id: "call_1", content: "19 °C" }); */
export const toolMessage = z
  .strictObject({
    role: z.literal("tool"),
    content: messageContent,
    tool_call_id: z.string().meta({ description: "The `id` of the assistant tool call this message answers" }),
  })
  .meta({ id: "ToolMessage" });

/**
 * One message of an OpenAI chat record, told apart by its `role`.
 * @example chatMessage.parse({ role: "tool", tool_call_id: "call_1", content: "19 °C" });
 */
export const chatMessage = z
  .discriminatedUnion("role", [systemMessage, developerMessage, userMessage, assistantMessage, toolMessage])
  .meta({ id: "ChatMessage" });

/**
 * A function the model may call, as declared in the record's `tools`.
 * @example toolDefinition.parse({ type: "function", function: { name: "get_weather", parameters: { type: "object" } } });
 */
export const toolDefinition = z
  .strictObject({
    type: z.literal("function"),
    function: z.strictObject({
      name: z.string(),
      description: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional().meta({ description: "JSON Schema of the arguments" }),
      strict: z.boolean().optional(),
    }),
  })
  .meta({ id: "ToolDefinition" });

/**
 * OpenAI chat fine-tuning format: `{ messages, tools?, parallel_tool_calls? }`.
 * @example chat.parse({ messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }] });
 */
export const chat = z
  .strictObject({
    messages: z.array(chatMessage).min(1),
    tools: z.array(toolDefinition).optional(),
    parallel_tool_calls: z.boolean().optional(),
  })
  .meta({
    title: "chat",
    description: "OpenAI chat fine-tuning record: a conversation whose assistant messages are trained on.",
  });

/**
 * Alpaca instruction format: `{ instruction, input?, output, system?, history? }`.
 * @example alpaca.parse({ instruction: "Translate to Spanish.", input: "Good morning", output: "Buenos días" });
 */
export const alpaca = z
  .strictObject({
    instruction: z.string(),
    input: z.string().optional().meta({ description: "Context for the instruction; often empty" }),
    output: z.string(),
    system: z.string().optional(),
    history: z
      .array(z.tuple([z.string(), z.string()]))
      .optional()
      .meta({ description: "Earlier turns as [instruction, response] pairs, oldest first" }),
  })
  .meta({ title: "alpaca", description: "Alpaca instruction record: the model learns to write `output`." });

/**
 * Prompt/completion format: `{ prompt, completion }`.
 * @example promptCompletion.parse({ prompt: "Q: Capital of Peru?\nA:", completion: " Lima" });
 */
export const promptCompletion = z
  .strictObject({ prompt: z.string(), completion: z.string() })
  .meta({ title: "prompt_completion", description: "Plain prompt/completion record: the model learns `completion`." });

/**
 * ShareGPT speakers. `function_call` and `observation` are a tool call and its result.
 * @example sharegptRoles.includes("gpt"); // true
 */
export const sharegptRoles = ["human", "gpt", "system", "tool", "function_call", "observation"] as const;

/**
 * ShareGPT format: `{ conversations: [{ from, value }], system? }`.
 * @example sharegpt.parse({ conversations: [{ from: "human", value: "Hi" }, { from: "gpt", value: "Hello!" }] });
 */
export const sharegpt = z
  .strictObject({
    conversations: z.array(z.strictObject({ from: z.enum(sharegptRoles), value: z.string() })).min(1),
    system: z.string().optional().meta({ description: "System prompt, as LLaMA-Factory's ShareGPT variant stores it" }),
    tools: z.string().optional().meta({
      description:
        "LLaMA-Factory: the functions the model may call, a JSON-encoded list of { name, description, parameters }",
    }),
    id: z.string().optional().meta({ description: "FastChat: the conversation's id" }),
  })
  .meta({
    title: "sharegpt",
    description: "ShareGPT conversation: turns `{ from, value }`; `gpt` turns are trained on.",
  });

/**
 * OpenAI preference (DPO) format: `{ input: { messages, ... }, preferred_output, non_preferred_output }`.
 * @example dpo.parse({ input: { messages: [{ role: "user", content: "2+2?" }] }, preferred_output: [{ role: "assistant", content: "4" }], non_preferred_output: [{ role: "assistant", content: "5" }] });
 */
export const dpo = z
  .strictObject({
    input: z.strictObject({
      messages: z.array(chatMessage).min(1),
      tools: z.array(toolDefinition).optional(),
      parallel_tool_calls: z.boolean().optional(),
    }),
    preferred_output: z.array(assistantMessage).min(1),
    non_preferred_output: z.array(assistantMessage).min(1),
  })
  .meta({
    title: "dpo",
    description: "OpenAI preference fine-tuning record: a prompt, a preferred and a non-preferred answer.",
  });

/**
 * A side of a preference pair: plain text, or a list of chat messages.
 * @example pairSide.safeParse([{ role: "assistant", content: "4" }]).success; // true
 */
export const pairSide = z
  .union([z.string(), z.array(chatMessage).min(1)])
  .meta({ id: "PairSide", description: "Plain text, or a list of chat messages" });

/**
 * Preference pairs in the common `{ prompt?, chosen, rejected }` form (TRL, Anthropic HH), strings or messages.
 * @example pairs.parse({ prompt: "2 + 2 =", chosen: "4", rejected: "5" });
 */
export const pairs = z
  .strictObject({
    prompt: pairSide.optional().meta({ description: "Omitted when chosen and rejected hold the whole conversation" }),
    chosen: pairSide,
    rejected: pairSide,
  })
  .meta({ title: "pairs", description: "Preference pair: a prompt and a chosen and a rejected answer." });

export type TextPart = z.infer<typeof textPart>;
export type MessageContent = z.infer<typeof messageContent>;
export type ToolCall = z.infer<typeof toolCall>;
export type ChatMessage = z.infer<typeof chatMessage>;
export type AssistantMessage = z.infer<typeof assistantMessage>;
export type ToolDefinition = z.infer<typeof toolDefinition>;
export type ChatRecord = z.infer<typeof chat>;
export type AlpacaRecord = z.infer<typeof alpaca>;
export type PromptCompletionRecord = z.infer<typeof promptCompletion>;
export type SharegptRecord = z.infer<typeof sharegpt>;
export type SharegptRole = (typeof sharegptRoles)[number];
export type DpoRecord = z.infer<typeof dpo>;
export type PairsRecord = z.infer<typeof pairs>;

/**
 * Chat roles, in the order the OpenAI docs list them.
 * @example chatRoles.join("|"); // "system|developer|user|assistant|tool"
 */
export const chatRoles = ["system", "developer", "user", "assistant", "tool"] as const;
export type ChatRole = (typeof chatRoles)[number];
