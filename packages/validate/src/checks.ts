/**
 * The content rules: what a schema cannot say (empty text, who speaks last, tool-call bookkeeping, stray control
 * characters). They run on every record, valid shape or not, and read fields defensively, so that one pass reports
 * every problem; a field of the wrong type was already reported by the schema and is skipped here.
 */
import { describeValue, formatPath, type Issue } from "@curate/core";
import type { FormatName } from "@curate/formats";
import { CONTROL, isBlank, REPLACEMENT, SUSPECT } from "./chars.js";

type Rec = Record<string, unknown>;
type Path = readonly PropertyKey[];

const isRec = (value: unknown): value is Rec => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Collects issues; severities are settled later from the rule settings, so every issue starts as an error.
 * @example const out = new Issues(); out.add("missing_content", ["output"], "output is empty"); out.list;
 */
export class Issues {
  readonly list: Issue[] = [];

  add(code: string, path: Path, message: string, expected?: string, found?: string): void {
    this.list.push({
      code,
      severity: "error",
      path: formatPath(path),
      message,
      ...(expected === undefined ? {} : { expected }),
      ...(found === undefined ? {} : { found }),
    });
  }
}

/** Text of a content value, or undefined when it is not text-shaped (the schema reports that). */
function textOf(content: unknown): string | undefined {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return undefined;
  let text = "";
  for (const part of content) if (isRec(part) && typeof part.text === "string") text += part.text;
  return text;
}

function checkText(value: unknown, path: Path, what: string, out: Issues): void {
  const text = textOf(value);
  if (text !== undefined && isBlank(text)) {
    out.add(
      "missing_content",
      path,
      // The path is printed before the message: "output is empty", never "output output is empty".
      `${what === String(path.at(-1)) ? "" : `${what} `}is ${text === "" ? "empty" : "whitespace only"}`,
      "non-empty text",
      describeValue(value),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Chat messages (chat, dpo input and outputs, pairs message lists)

export interface ConversationOptions {
  /** The list is what the model learns (SFT conversation, a preferred answer): it needs an assistant reply, last. */
  readonly trained: boolean;
  /** Declared tools, for `undeclared_tool`. */
  readonly tools?: unknown;
}

function toolNames(tools: unknown): Set<string> | undefined {
  if (!Array.isArray(tools)) return undefined;
  const names = new Set<string>();
  for (const tool of tools)
    if (isRec(tool) && isRec(tool.function) && typeof tool.function.name === "string") names.add(tool.function.name);
  return names;
}

/**
 * Checks a list of chat messages at `base` (`["messages"]`, `["input", "messages"]`, `["chosen"]`).
 * @example const out = new Issues(); checkMessages(record.messages, ["messages"], { trained: true }, out);
 */
export function checkMessages(messages: unknown, base: Path, options: ConversationOptions, out: Issues): void {
  if (!Array.isArray(messages)) return;
  // Paths are built only for issues: this loop runs for every message of every record.
  const at = (i: number, ...rest: PropertyKey[]): PropertyKey[] => [...base, i, ...rest];
  let declared: Set<string> | undefined | null = null; // null: not looked at yet
  let calls: Map<string, { path: Path; answered: boolean }> | undefined;
  let previousRole: string | undefined;
  let previousIndex = -1;
  let assistants = 0;
  let trainable = 0;

  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (!isRec(message)) continue;
    const role = message.role;
    const toolCalls = message.tool_calls;
    const hasCalls = Array.isArray(toolCalls) && toolCalls.length > 0;
    const content = message.content;

    if (role === "assistant") {
      assistants++;
      if (message.weight !== 0) trainable++;
      // An assistant message may be tool calls alone; every other message needs text.
      if (!hasCalls) {
        if (content === null) {
          out.add(
            "missing_content",
            at(i, "content"),
            "assistant message has no content and no tool calls",
            "non-empty text",
            "null",
          );
        } else if (content === undefined) {
          out.add(
            "message_missing_key",
            at(i, "content"),
            "assistant message has neither content nor tool_calls",
            'key "content"',
            describeValue(undefined),
          );
        } else if (typeof content === "string" ? isBlank(content) : Array.isArray(content)) {
          checkText(content, at(i, "content"), "assistant message content", out);
        }
      }
    } else if (typeof role === "string") {
      if (typeof content === "string" ? isBlank(content) : Array.isArray(content)) {
        checkText(content, at(i, "content"), `${role} message content`, out);
      }
    }

    if ((role === "system" || role === "developer") && i > 0) {
      out.add(
        "system_not_first",
        at(i, "role"),
        `${role} message at position ${i}; put it first`,
        "position 0",
        String(i),
      );
    }

    if (role === "user" || role === "assistant") {
      if (previousRole === role) {
        out.add(
          "non_alternating_turns",
          at(i, "role"),
          `two ${role} messages in a row (${formatPath(at(previousIndex))} and ${formatPath(at(i))})`,
        );
      }
      previousRole = role;
      previousIndex = i;
    } else if (role === "tool") {
      previousRole = role;
      previousIndex = i;
    }

    if (role === "assistant" && Array.isArray(toolCalls)) {
      if (declared === null) declared = toolNames(options.tools);
      calls ??= new Map();
      for (let k = 0; k < toolCalls.length; k++) {
        const call = toolCalls[k];
        if (!isRec(call)) continue;
        if (typeof call.id === "string") {
          if (calls.has(call.id)) {
            out.add(
              "duplicate_tool_call_id",
              at(i, "tool_calls", k, "id"),
              `tool call id "${call.id}" is used twice`,
              "a unique id",
              JSON.stringify(call.id),
            );
          } else {
            calls.set(call.id, { path: at(i, "tool_calls", k, "id"), answered: false });
          }
        }
        const fn = call.function;
        if (!isRec(fn)) continue;
        if (typeof fn.arguments === "string") {
          try {
            JSON.parse(fn.arguments);
          } catch (error) {
            out.add(
              "invalid_tool_arguments",
              at(i, "tool_calls", k, "function", "arguments"),
              `arguments are not valid JSON (${(error as Error).message})`,
              "a JSON string",
              describeValue(fn.arguments),
            );
          }
        }
        if (declared && typeof fn.name === "string" && !declared.has(fn.name)) {
          out.add(
            "undeclared_tool",
            at(i, "tool_calls", k, "function", "name"),
            `calls "${fn.name}", which \`tools\` does not declare`,
            `one of ${[...declared].join("|") || "(no tools)"}`,
            JSON.stringify(fn.name),
          );
        }
      }
    }

    if (role === "tool" && typeof message.tool_call_id === "string") {
      const call = calls?.get(message.tool_call_id);
      if (call) call.answered = true;
      else {
        out.add(
          "unmatched_tool_call_id",
          at(i, "tool_call_id"),
          `no earlier assistant tool call has id "${message.tool_call_id}"`,
          calls && calls.size > 0
            ? `one of ${[...calls.keys()].join("|")}`
            : "an id from an earlier assistant tool call",
          JSON.stringify(message.tool_call_id),
        );
      }
    }
  }

  if (calls) {
    for (const [id, call] of calls) {
      if (!call.answered) out.add("missing_tool_response", call.path, `no tool message answers tool call "${id}"`);
    }
  }

  if (!options.trained || messages.length === 0) return;
  if (assistants === 0) {
    out.add(
      "example_missing_assistant_message",
      base,
      "no assistant message to learn from",
      "at least one assistant message",
      "none",
    );
    return;
  }
  const last = messages.at(-1);
  if (isRec(last) && last.role !== "assistant") {
    out.add(
      "last_message_not_assistant",
      at(messages.length - 1, "role"),
      "the conversation must end with the assistant's reply",
      '"assistant"',
      describeValue(last.role),
    );
  }
  if (trainable === 0) {
    out.add(
      "no_trainable_message",
      base,
      "every assistant message has weight 0, so nothing is trained on",
      "an assistant message with weight 1",
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Per format

function checkChat(record: Rec, out: Issues): void {
  checkMessages(record.messages, ["messages"], { trained: true, tools: record.tools }, out);
  checkHasUser(record.messages, "role", "user", ["messages"], out);
}

const CHAT_ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);
const SHAREGPT_ROLES = new Set(["human", "gpt", "system", "tool", "function_call", "observation"]);

/** `missing_user_message`: a conversation with turns but none from the user; the answer replies to nothing. */
function checkHasUser(turns: unknown, key: "role" | "from", user: string, path: Path, out: Issues): void {
  if (!Array.isArray(turns) || turns.length === 0) return;
  // Only for conversations whose roles are all known and that have an answer: a bad role or a missing assistant is
  // already an error that says more.
  const known = key === "role" ? CHAT_ROLES : SHAREGPT_ROLES;
  const assistant = key === "role" ? "assistant" : "gpt";
  let answered = false;
  for (const turn of turns) {
    if (!isRec(turn) || !known.has(turn[key] as string)) return;
    if (turn[key] === user) return;
    if (turn[key] === assistant) answered = true;
  }
  if (!answered) return;
  out.add(
    "missing_user_message",
    path,
    `no ${user} message: the assistant answers nothing`,
    `at least one ${user} message`,
    "none",
  );
}

function checkAlpaca(record: Rec, out: Issues): void {
  checkText(record.instruction, ["instruction"], "instruction", out);
  checkText(record.output, ["output"], "output", out);
  if (Array.isArray(record.history)) {
    record.history.forEach((pair, i) => {
      if (!Array.isArray(pair)) return;
      checkText(pair[0], ["history", i, 0], "history instruction", out);
      checkText(pair[1], ["history", i, 1], "history response", out);
    });
  }
}

function checkPromptCompletion(record: Rec, out: Issues): void {
  checkText(record.completion, ["completion"], "completion", out);
}

/** ShareGPT speakers as chat roles; `function_call` is an assistant turn that calls a tool. */
const sharegptRole: Record<string, "user" | "assistant" | "tool" | "system"> = {
  human: "user",
  gpt: "assistant",
  function_call: "assistant",
  observation: "tool",
  tool: "tool",
  system: "system",
};

function checkSharegpt(record: Rec, out: Issues): void {
  const turns = record.conversations;
  if (!Array.isArray(turns)) return;
  checkHasUser(turns, "from", "human", ["conversations"], out);
  let previous: { role: string; index: number } | undefined;
  let pendingCalls = 0;
  let lastCall: Path | undefined;
  let gpt = 0;
  turns.forEach((turn, i) => {
    if (!isRec(turn) || typeof turn.from !== "string") return;
    const at = ["conversations", i];
    const role = sharegptRole[turn.from];
    checkText(turn.value, [...at, "value"], `${turn.from} turn`, out);
    if (turn.from === "gpt") gpt++;
    if (role === "system" && i > 0) {
      out.add(
        "system_not_first",
        [...at, "from"],
        `system turn at position ${i}; put it first`,
        "position 0",
        String(i),
      );
    }
    if (role === "user" || role === "assistant") {
      // An assistant's function_call followed by its own answer is one turn, not two in a row.
      if (previous?.role === role && !(role === "assistant" && turns[previous.index]?.from === "function_call")) {
        out.add(
          "non_alternating_turns",
          [...at, "from"],
          `two ${role === "user" ? "human" : "gpt"} turns in a row (conversations[${previous.index}] and conversations[${i}])`,
        );
      }
      previous = { role, index: i };
    } else if (role === "tool") {
      previous = { role, index: i };
    }
    if (turn.from === "function_call") {
      pendingCalls++;
      lastCall = [...at, "value"];
      if (typeof turn.value === "string") {
        try {
          JSON.parse(turn.value);
        } catch (error) {
          out.add(
            "invalid_tool_arguments",
            [...at, "value"],
            `function_call is not valid JSON (${(error as Error).message})`,
            "a JSON string",
            describeValue(turn.value),
          );
        }
      }
    }
    if (role === "tool") {
      if (pendingCalls === 0) {
        out.add(
          "unmatched_tool_call_id",
          [...at, "from"],
          `${turn.from} turn with no function_call before it`,
          "a function_call turn first",
        );
      } else pendingCalls--;
    }
  });
  if (pendingCalls > 0 && lastCall)
    out.add("missing_tool_response", lastCall, "no observation answers this function_call");
  if (turns.length === 0) return;
  if (gpt === 0) {
    out.add(
      "example_missing_assistant_message",
      ["conversations"],
      "no gpt turn to learn from",
      "at least one gpt turn",
      "none",
    );
    return;
  }
  const last = turns.at(-1);
  if (isRec(last) && last.from !== "gpt") {
    out.add(
      "last_message_not_assistant",
      ["conversations", turns.length - 1, "from"],
      "the conversation must end with a gpt turn",
      '"gpt"',
      describeValue(last.from),
    );
  }
}

/** Order-independent equality of two JSON values, for `identical_preference`. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  if (isRec(a) && isRec(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
  }
  return false;
}

function checkDpo(record: Rec, out: Issues): void {
  const input = isRec(record.input) ? record.input : undefined;
  if (input) checkMessages(input.messages, ["input", "messages"], { trained: false, tools: input.tools }, out);
  checkMessages(record.preferred_output, ["preferred_output"], { trained: true }, out);
  checkMessages(record.non_preferred_output, ["non_preferred_output"], { trained: true }, out);
  if (record.preferred_output !== undefined && sameJson(record.preferred_output, record.non_preferred_output)) {
    out.add(
      "identical_preference",
      ["non_preferred_output"],
      "the non-preferred output is the same as the preferred one",
    );
  }
}

function checkPairSide(value: unknown, key: string, trained: boolean, out: Issues): void {
  if (Array.isArray(value)) checkMessages(value, [key], { trained }, out);
  else if (trained) checkText(value, [key], key, out);
}

function checkPairs(record: Rec, out: Issues): void {
  checkPairSide(record.prompt, "prompt", false, out);
  checkPairSide(record.chosen, "chosen", true, out);
  checkPairSide(record.rejected, "rejected", true, out);
  if (record.chosen !== undefined && sameJson(record.chosen, record.rejected)) {
    out.add("identical_preference", ["rejected"], "the rejected answer is the same as the chosen one");
  }
}

const byFormat: Record<FormatName, (record: Rec, out: Issues) => void> = {
  chat: checkChat,
  alpaca: checkAlpaca,
  prompt_completion: checkPromptCompletion,
  sharegpt: checkSharegpt,
  dpo: checkDpo,
  pairs: checkPairs,
};

/**
 * Runs the content rules of `format` on a record (an object; the shape may be wrong).
 * @example const out = new Issues(); checkContent("alpaca", { instruction: " ", output: "4" }, out); // missing_content
 */
export function checkContent(format: FormatName, record: Rec, out: Issues): void {
  byFormat[format](record, out);
}

// ---------------------------------------------------------------------------------------------------------------
// Text hygiene, for every string in the record

function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

function scanString(text: string, path: readonly PropertyKey[], out: Issues): void {
  if (!SUSPECT.test(text)) return;
  const control = CONTROL.exec(text);
  if (control) {
    out.add(
      "control_characters",
      [...path],
      `text contains control character ${codePoint(control[0])} at offset ${control.index}`,
      "printable text",
      codePoint(control[0]),
    );
  }
  const bad = text.indexOf(REPLACEMENT);
  if (bad !== -1) {
    out.add(
      "replacement_character",
      [...path],
      `text contains U+FFFD at offset ${bad}: it was decoded with the wrong encoding somewhere upstream`,
      "text without U+FFFD",
      describeValue(text.slice(Math.max(0, bad - 20), bad + 20)),
    );
  }
}

/**
 * Reports control characters and U+FFFD in every string of `value`, one issue per string and kind. `path` is a
 * scratch array (pushed and popped while walking; copied only for an issue).
 * @example const out = new Issues(); scanText({ output: "caf\uFFFD" }, [], out); // replacement_character at "output"
 */
export function scanText(value: unknown, path: PropertyKey[], out: Issues): void {
  if (typeof value === "string") {
    scanString(value, path, out);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === "string") {
        if (SUSPECT.test(item)) {
          path.push(i);
          scanString(item, path, out);
          path.pop();
        }
      } else if (typeof item === "object" && item !== null) {
        path.push(i);
        scanText(item, path, out);
        path.pop();
      }
    }
  } else if (typeof value === "object" && value !== null) {
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const item = (value as Rec)[key];
      if (typeof item === "string") {
        if (SUSPECT.test(item)) {
          path.push(key);
          scanString(item, path, out);
          path.pop();
        }
      } else if (typeof item === "object" && item !== null) {
        path.push(key);
        scanText(item, path, out);
        path.pop();
      }
    }
  }
}
