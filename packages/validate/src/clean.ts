/**
 * The clean path: one walk over a record that proves it has no issue, or none but unknown top-level keys, for the
 * common shapes of the common formats. It answers "clean", "clean but for these unknown keys" or "not sure":
 * anything it does not fully understand (tool calls, `history`, DPO, pairs, a rule that would fire) is "not
 * sure", and the record then takes the reference path (the format's zod schema, `checkContent`, `scanText`), which
 * finds and words every issue. Unknown keys are worded by the reference path's own mapping (`fromZodIssues`), so
 * rule results, messages and severities are the reference path's; this only skips work for records it would pass.
 *
 * Why by hand, next to zod: on the bench corpus (100k records) the reference path cost 3–5 µs a record of CPU
 * (zod's compiled validator ~0.6 µs, the content rules and the text scan, the issue lists, paths and array copies
 * made for every record, and their garbage collection), as much again as reading; a record with one unknown key
 * (`id`) ~22 µs, as the compiled validator fails and the runtime parser runs for the issue list. One pass that
 * reads each field once, tests each string once and allocates nothing for a clean record costs 1–2 µs, most of it
 * the control-character regex, which is the rule itself (~1 ns a character). clean.test.ts compares this with the
 * reference path on many seeded records.
 *
 * Invariant the stage relies on: when `cleanPath(format, record)` is not undefined, `detectFormat(record) ===
 * format` (every accepted key set holds its format's detecting key and none of another format's keys), so
 * detection can be skipped.
 */
import { type FormatName, formatNames, formats } from "@curate/formats";
import { isBlank, SUSPECT } from "./chars.js";

type Rec = Record<string, unknown>;

const hasOwn = Object.hasOwn;

/**
 * Every format's top-level keys. An unknown key of a record may be reported as `unknown_key` by the clean path
 * only when it is none of these: such keys change what `detectFormat` says, or are a format's own (`tools`,
 * `history`) and need the reference checks.
 */
const FORMAT_KEYS = new Set(formatNames.flatMap((name) => formats[name].keys));

/** True when every string in `value` (at any depth) is free of control characters and U+FFFD (what scanText checks). */
function isCleanValue(value: unknown): boolean {
  if (typeof value === "string") return !SUSPECT.test(value);
  if (typeof value !== "object" || value === null) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isCleanValue(value[i])) return false;
    return true;
  }
  for (const key in value) {
    if (!hasOwn(value, key) || !isCleanValue((value as Rec)[key])) return false;
  }
  return true;
}

// The unknown top-level keys of the record being checked, in `for...in` order (the order zod reports them in).
// One scratch list, emptied per record, so that a clean record allocates nothing.
const extra: string[] = [];

/** Notes `key` as an unknown key whose only issue is `unknown_key`; false when the reference path must decide. */
function allowExtra(record: Rec, key: string): boolean {
  if (FORMAT_KEYS.has(key) || key === "__proto__" || !isCleanValue(record[key])) return false;
  extra.push(key);
  return true;
}

/** Text that must be non-blank (content, output, completion) and free of control characters and U+FFFD. */
function isGoodContent(text: string): boolean {
  const c = text.charCodeAt(0);
  // A printable ASCII first character is not white space, so the blank test (a regex call) is skipped.
  if (!(c > 0x20 && c < 0x7f) && isBlank(text)) return false;
  return !SUSPECT.test(text);
}

/**
 * Content that is non-blank text: a string, or an array of `{ type: "text", text }` parts whose joined text is not
 * blank (the reference joins them), with every string free of control characters and U+FFFD.
 */
function isGoodMessageContent(content: unknown): boolean {
  if (typeof content === "string") return isGoodContent(content);
  if (!Array.isArray(content)) return false;
  let blank = true;
  for (let i = 0; i < content.length; i++) {
    const part: unknown = content[i];
    if (!isRecord(part)) return false;
    let text: unknown;
    let keys = 0;
    for (const key in part) {
      if (!hasOwn(part, key)) return false;
      if (key === "text") text = part[key];
      else if (key !== "type" || part[key] !== "text") return false;
      keys++;
    }
    if (keys !== 2 || typeof text !== "string" || SUSPECT.test(text)) return false;
    if (blank && !isBlank(text)) blank = false;
  }
  return !blank;
}

function isRecord(value: unknown): value is Rec {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `{ messages, parallel_tool_calls? }`: system/developer first only, user and assistant alternating, text content. */
function cleanChat(record: Rec): boolean {
  let messages: unknown;
  for (const key in record) {
    if (!hasOwn(record, key)) return false;
    if (key === "messages") messages = record[key];
    else if (key === "parallel_tool_calls") {
      if (typeof record[key] !== "boolean") return false;
    } else if (!allowExtra(record, key)) return false;
  }
  if (!Array.isArray(messages) || messages.length === 0) return false;
  let previous = ""; // the last user or assistant role
  let trainable = 0;
  let users = 0;
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    if (!isRecord(message)) return false;
    let role: unknown;
    let content: unknown;
    let weight: unknown;
    let weighted = false;
    for (const key in message) {
      if (!hasOwn(message, key)) return false;
      const value = message[key];
      if (key === "role") role = value;
      else if (key === "content") content = value;
      else if (key === "name") {
        if (typeof value !== "string" || SUSPECT.test(value)) return false;
      } else if (key === "weight") {
        weight = value;
        weighted = true;
      } else return false;
    }
    // Null content (tool calls) and missing content take the reference path.
    if (!isGoodMessageContent(content)) return false;
    if (role === "assistant") {
      if (previous === "assistant") return false;
      previous = role;
      if (!weighted || weight === 1) trainable++;
      else if (weight !== 0) return false;
    } else {
      // `weight` is defined for assistant messages only.
      if (weighted) return false;
      if (role === "user") {
        if (previous === "user") return false;
        previous = role;
        users++;
      } else if ((role !== "system" && role !== "developer") || i > 0) return false;
    }
  }
  // Every message after the first is a user or assistant one, so the last of those is the last message: the
  // conversation ends with the assistant's reply, and trains on at least one message.
  // A conversation without a user message takes the reference path (`missing_user_message`).
  return previous === "assistant" && trainable > 0 && users > 0;
}

/** `{ instruction, input?, output, system? }` with string values; `history` takes the reference path. */
function cleanAlpaca(record: Rec): boolean {
  let required = 0;
  for (const key in record) {
    if (!hasOwn(record, key)) return false;
    const value = record[key];
    if (key === "instruction" || key === "output") {
      if (typeof value !== "string" || !isGoodContent(value)) return false;
      required++;
    } else if (key === "input" || key === "system") {
      if (typeof value !== "string" || SUSPECT.test(value)) return false;
    } else if (!allowExtra(record, key)) return false;
  }
  return required === 2;
}

/** `{ prompt, completion }`, both strings. */
function cleanPromptCompletion(record: Rec): boolean {
  let required = 0;
  for (const key in record) {
    if (!hasOwn(record, key)) return false;
    const value = record[key];
    if (key === "completion") {
      if (typeof value !== "string" || !isGoodContent(value)) return false;
      required++;
    } else if (key === "prompt") {
      if (typeof value !== "string" || SUSPECT.test(value)) return false;
      required++;
    } else if (!allowExtra(record, key)) return false;
  }
  return required === 2;
}

/** `{ conversations: [{ from, value }], system? }` of human, gpt and a first system turn. */
function cleanSharegpt(record: Rec): boolean {
  let turns: unknown;
  for (const key in record) {
    if (!hasOwn(record, key)) return false;
    const value = record[key];
    if (key === "conversations") turns = value;
    else if (key === "system" || key === "id") {
      // `id` is FastChat's conversation id, part of the format.
      if (typeof value !== "string" || SUSPECT.test(value)) return false;
    } else if (!allowExtra(record, key)) return false;
  }
  if (!Array.isArray(turns) || turns.length === 0) return false;
  let previous = "";
  let humans = 0;
  for (let i = 0; i < turns.length; i++) {
    const turn: unknown = turns[i];
    if (!isRecord(turn)) return false;
    let from: unknown;
    let value: unknown;
    let keys = 0;
    for (const key in turn) {
      if (!hasOwn(turn, key)) return false;
      if (key === "from") from = turn[key];
      else if (key === "value") value = turn[key];
      else return false;
      keys++;
    }
    if (keys !== 2 || typeof value !== "string" || !isGoodContent(value)) return false;
    if (from === "human" || from === "gpt") {
      if (previous === from) return false;
      previous = from;
      if (from === "human") humans++;
    } else if (from !== "system" || i > 0) return false;
  }
  // As in chat, the last human or gpt turn is the last turn.
  return previous === "gpt" && humans > 0;
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * True for the formats the clean path can answer for (chat, alpaca, prompt_completion, sharegpt).
 * @example hasCleanPath("dpo"); // false
 */
export function hasCleanPath(format: FormatName): boolean {
  return format === "chat" || format === "alpaca" || format === "prompt_completion" || format === "sharegpt";
}

function cleanAs(format: FormatName, record: Rec): boolean {
  switch (format) {
    case "chat":
      return cleanChat(record);
    case "alpaca":
      return cleanAlpaca(record);
    case "prompt_completion":
      return cleanPromptCompletion(record);
    case "sharegpt":
      return cleanSharegpt(record);
    default:
      return false;
  }
}

/**
 * The clean path's answer for `record` read as `format`: `undefined` when it cannot tell (the reference path
 * decides), else the record's unknown top-level keys, which are then its only issues (`unknown_key`, one per key);
 * an empty list means no issue at all. DPO and preference pairs always get `undefined`.
 * @example cleanPath("alpaca", { instruction: "Add 2 and 2", output: "4", id: 7 }); // ["id"]
 */
export function cleanPath(format: FormatName, record: unknown): readonly string[] | undefined {
  if (!isRecord(record)) return undefined;
  extra.length = 0;
  if (!cleanAs(format, record)) return undefined;
  return extra.length === 0 ? NONE : extra.slice();
}

/**
 * True when `record` read as `format` has no issue (no error and no warning) under the reference checks; false
 * when it has one or when the clean path cannot tell.
 * @example isCleanAs("alpaca", { instruction: "Add 2 and 2", output: "4" }); // true
 */
export function isCleanAs(format: FormatName, record: unknown): boolean {
  return cleanPath(format, record)?.length === 0;
}

/**
 * `{ ...meta, format }`, the same keys in the same order. On Node 20 the spread with a key added after it measured
 * ~2 µs a record (15% of validate's time on the bench corpus), Object.assign onto a literal and then setting the
 * key ~0.2 µs (`{ ...meta }` alone is fast too; it is the added key that is slow). Object.assign would call
 * the `__proto__` setter where spreading defines a key, so a meta with an own `__proto__` is spread.
 * @example withFormat({ bytes: 120 }, "chat"); // { bytes: 120, format: "chat" }
 */
export function withFormat(meta: Readonly<Record<string, unknown>>, format: string): Record<string, unknown> {
  if (Object.hasOwn(meta, "__proto__")) return { ...meta, format };
  const out: Record<string, unknown> = Object.assign({}, meta);
  out.format = format;
  return out;
}
