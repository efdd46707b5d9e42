/**
 * Conversion between formats. Chat is the hub: alpaca, prompt/completion and ShareGPT convert to chat and back,
 * and any two of them convert through chat; the preference formats (DPO, pairs) convert into each other.
 *
 * Nothing is lost silently: a field that has no place in the target format (a tool call going to alpaca, an `id`
 * key the target does not define) makes the conversion fail with an issue naming the field, unless the caller
 * chose to keep (`extra: "keep"`) or drop (`extra: "drop"`) keys that are not part of the source format.
 */
import { formatPath, type Issue } from "@curate/core";
import { type FormatName, formats } from "./registry.js";
import { contentText } from "./text.js";

type Rec = Record<string, unknown>;

/** What to do with keys the source format does not define (`id`, `source`, ...). */
export type ExtraKeys = "error" | "keep" | "drop";

export interface ConvertOptions {
  /** Keys that are not part of the source format: an error (default), copied to the target record, or dropped. */
  readonly extra?: ExtraKeys;
}

/** A conversion's outcome: the converted record, or the issues that prevent a lossless conversion. */
export type ConvertResult =
  | { readonly ok: true; readonly record: Rec }
  | { readonly ok: false; readonly issues: Issue[] };

/** Direct conversions; others go through chat. */
const direct: Record<string, true> = {
  "alpaca>chat": true,
  "prompt_completion>chat": true,
  "sharegpt>chat": true,
  "chat>alpaca": true,
  "chat>prompt_completion": true,
  "chat>sharegpt": true,
  "dpo>pairs": true,
  "pairs>dpo": true,
};
const viaChat = new Set<FormatName>(["chat", "alpaca", "prompt_completion", "sharegpt"]);

/**
 * True when records of `from` can be converted to `to` (possibly failing for records that use a feature the
 * target cannot hold).
 * @example canConvert("alpaca", "chat"); // true
 */
export function canConvert(from: FormatName, to: FormatName): boolean {
  return from === to || direct[`${from}>${to}`] === true || (viaChat.has(from) && viaChat.has(to));
}

const isRec = (value: unknown): value is Rec => typeof value === "object" && value !== null && !Array.isArray(value);

/** Collects issues and leftover keys while one record is converted. */
class Mapping {
  readonly issues: Issue[] = [];
  constructor(
    readonly from: FormatName,
    readonly to: FormatName,
    readonly extra: ExtraKeys,
  ) {}

  lost(path: readonly PropertyKey[], what: string): void {
    // "a tool message at position 2 (alpaca holds …)" reads better with the verdict before the explanation.
    const open = what.indexOf(" (");
    const message =
      open === -1
        ? `${what} has no place in the ${this.to} format`
        : `${what.slice(0, open)} has no place in the ${this.to} format${what.slice(open)}`;
    this.issues.push({ code: "unmapped_field", severity: "error", path: formatPath(path), message });
  }

  /**
   * Handles the keys of `source` that the mapping did not use: an error, copied into `target`, or dropped. With no
   * `target` (the target format has no object to hold them), keeping is impossible and only "drop" lets them go.
   */
  leftovers(source: Rec, used: readonly string[], path: readonly PropertyKey[], target: Rec | undefined): void {
    for (const key of Object.keys(source)) {
      if (used.includes(key)) continue;
      if (this.extra === "drop") continue;
      if (this.extra === "keep" && target !== undefined && !Object.hasOwn(target, key)) {
        // defineProperty, not `=`: assigning `__proto__` sets the prototype, and the field vanished from the output.
        Object.defineProperty(target, key, {
          value: source[key],
          enumerable: true,
          writable: true,
          configurable: true,
        });
        continue;
      }
      this.issues.push({
        code: "unmapped_field",
        severity: "error",
        path: formatPath([...path, key]),
        message:
          this.extra === "keep"
            ? target === undefined
              ? `"${key}" has no place in the ${this.to} format, which has nowhere to keep it (drop it with --extra drop)`
              : `"${key}" would overwrite the ${this.to} field of the same name`
            : `"${key}" has no place in the ${this.to} format (keep it with --extra keep, or drop it with --extra drop)`,
      });
    }
  }

  result(record: Rec): ConvertResult {
    return this.issues.length === 0 ? { ok: true, record } : { ok: false, issues: this.issues };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// To chat

function alpacaToChat(record: Rec, m: Mapping): Rec {
  const messages: Rec[] = [];
  if (typeof record.system === "string" && record.system !== "")
    messages.push({ role: "system", content: record.system });
  if (Array.isArray(record.history)) {
    for (const pair of record.history) {
      if (Array.isArray(pair))
        messages.push({ role: "user", content: pair[0] }, { role: "assistant", content: pair[1] });
    }
  }
  const input = typeof record.input === "string" ? record.input : "";
  // The usual join (as Alpaca's own prompt and LLaMA-Factory do): the user turn is the instruction, then the input.
  messages.push({
    role: "user",
    content: input === "" ? record.instruction : `${String(record.instruction)}\n\n${input}`,
  });
  messages.push({ role: "assistant", content: record.output });
  const out: Rec = { messages };
  m.leftovers(record, ["instruction", "input", "output", "system", "history"], [], out);
  return out;
}

function promptCompletionToChat(record: Rec, m: Mapping): Rec {
  const out: Rec = {
    messages: [
      { role: "user", content: record.prompt },
      { role: "assistant", content: record.completion },
    ],
  };
  m.leftovers(record, ["prompt", "completion"], [], out);
  return out;
}

const sharegptToChatRole: Record<string, string> = { human: "user", gpt: "assistant", system: "system" };
const chatToSharegptRole: Record<string, string> = { user: "human", assistant: "gpt", system: "system" };

/**
 * A LLaMA-Factory `function_call` value (`{"name", "arguments"}`, or a list of them for parallel calls) as chat tool
 * calls with ids `call_<n>`, numbered through the record; undefined when it is not such JSON.
 */
function sharegptToolCalls(value: unknown, next: () => string): Rec[] | undefined {
  if (typeof value !== "string") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const calls: Rec[] = [];
  for (const call of list) {
    if (!isRec(call) || typeof call.name !== "string") return undefined;
    const args = call.arguments ?? {};
    calls.push({
      id: next(),
      type: "function",
      function: { name: call.name, arguments: typeof args === "string" ? args : JSON.stringify(args) },
    });
  }
  return calls.length > 0 ? calls : undefined;
}

/** LLaMA-Factory's `tools` (a JSON string of `{ name, description, parameters }`) as chat `tools`. */
function sharegptTools(value: unknown): Rec[] | undefined {
  let parsed: unknown = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(parsed)) return undefined;
  const tools: Rec[] = [];
  for (const tool of parsed) {
    if (isRec(tool) && tool.type === "function" && isRec(tool.function)) tools.push(tool);
    else if (isRec(tool) && typeof tool.name === "string") tools.push({ type: "function", function: tool });
    else return undefined;
  }
  return tools;
}

function sharegptToChat(record: Rec, m: Mapping): Rec {
  const messages: Rec[] = [];
  if (typeof record.system === "string" && record.system !== "")
    messages.push({ role: "system", content: record.system });
  const turns = Array.isArray(record.conversations) ? record.conversations : [];
  // Tool calls get ids call_0, call_1, ... in order: ShareGPT has none, and chat pairs each result with its call.
  let calls = 0;
  const pending: string[] = [];
  for (const [i, turn] of turns.entries()) {
    if (!isRec(turn)) continue;
    if (turn.from === "function_call") {
      const toolCalls = sharegptToolCalls(turn.value, () => `call_${calls++}`);
      if (toolCalls === undefined) {
        m.lost(["conversations", i, "value"], 'a function_call that is not JSON {"name", "arguments"}');
        continue;
      }
      for (const call of toolCalls) pending.push(String(call.id));
      const message: Rec = { role: "assistant", content: null, tool_calls: toolCalls };
      m.leftovers(turn, ["from", "value"], ["conversations", i], message);
      messages.push(message);
      continue;
    }
    if (turn.from === "observation" || turn.from === "tool") {
      const id = pending.shift();
      if (id === undefined) {
        m.lost(["conversations", i, "from"], `an "${String(turn.from)}" turn that answers no function_call`);
        continue;
      }
      const message: Rec = { role: "tool", tool_call_id: id, content: turn.value };
      m.leftovers(turn, ["from", "value"], ["conversations", i], message);
      messages.push(message);
      continue;
    }
    const role = sharegptToChatRole[String(turn.from)];
    if (role === undefined) {
      m.lost(["conversations", i, "from"], `a "${String(turn.from)}" turn`);
      continue;
    }
    const message: Rec = { role, content: turn.value };
    m.leftovers(turn, ["from", "value"], ["conversations", i], message);
    messages.push(message);
  }
  const out: Rec = { messages };
  if (record.tools !== undefined) {
    const tools = sharegptTools(record.tools);
    if (tools === undefined) m.lost(["tools"], "tools that are not a JSON list of { name, description, parameters }");
    else if (tools.length > 0) out.tools = tools;
  }
  m.leftovers(record, ["conversations", "system", "tools"], [], out);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// From chat

/** A chat message's text, or an issue when it carries something plain text cannot hold. */
function plainMessage(message: Rec, i: number, m: Mapping, keys: readonly string[] = ["role", "content"]): string {
  for (const key of ["name", "tool_calls", "tool_call_id"]) {
    if (Object.hasOwn(message, key)) m.lost(["messages", i, key], `"${key}"`);
  }
  if (Object.hasOwn(message, "weight") && message.weight !== 1) {
    // weight 1 is what every trainer assumes; weight 0 (do not train on this turn) cannot be expressed.
    m.lost(["messages", i, "weight"], "weight 0 (a message excluded from training)");
  }
  // The target has no message objects to carry such a key over to, so only "drop" lets it go.
  m.leftovers(message, [...keys, "name", "tool_calls", "tool_call_id", "weight"], ["messages", i], undefined);
  return contentText(message.content);
}

/** Splits chat messages into an optional leading system prompt and strictly alternating user/assistant pairs. */
function chatTurns(record: Rec, m: Mapping): { system?: string; pairs: [string, string][] } {
  const messages = Array.isArray(record.messages) ? record.messages.filter(isRec) : [];
  for (const key of ["tools", "parallel_tool_calls"]) if (Object.hasOwn(record, key)) m.lost([key], `"${key}"`);
  let start = 0;
  let system: string | undefined;
  if (messages[0]?.role === "system") {
    system = plainMessage(messages[0], 0, m);
    start = 1;
  }
  const pairs: [string, string][] = [];
  let i = start;
  while (i < messages.length) {
    const user = messages[i]!;
    const assistant = messages[i + 1];
    if (user.role === "user" && assistant?.role === "assistant") {
      pairs.push([plainMessage(user, i, m), plainMessage(assistant, i + 1, m)]);
      i += 2;
      continue;
    }
    if (user.role === "user") m.lost(["messages", i], "a user message without an assistant reply after it");
    else if (user.role === "assistant")
      m.lost(["messages", i, "role"], "an assistant message without a user message before it");
    else {
      m.lost(
        ["messages", i, "role"],
        `a ${String(user.role)} message at position ${i} (${m.to} holds an optional first system message, then user/assistant pairs)`,
      );
    }
    if (user.role === "user" || user.role === "assistant" || user.role === "system") plainMessage(user, i, m);
    i++;
  }
  if (pairs.length === 0 && m.issues.length === 0) m.lost(["messages"], "a conversation without a user/assistant pair");
  return system === undefined ? { pairs } : { system, pairs };
}

function chatToAlpaca(record: Rec, m: Mapping): Rec {
  const { system, pairs } = chatTurns(record, m);
  const last = pairs.at(-1) ?? ["", ""];
  const out: Rec = { instruction: last[0], output: last[1] };
  if (system !== undefined) out.system = system;
  if (pairs.length > 1) out.history = pairs.slice(0, -1);
  m.leftovers(record, ["messages", "tools", "parallel_tool_calls"], [], out);
  return out;
}

function chatToPromptCompletion(record: Rec, m: Mapping): Rec {
  const { system, pairs } = chatTurns(record, m);
  if (system !== undefined) m.lost(["messages", 0], "a system message");
  if (pairs.length > 1) m.lost(["messages"], `a conversation of ${pairs.length} turns (prompt/completion holds one)`);
  const [prompt, completion] = pairs[0] ?? ["", ""];
  const out: Rec = { prompt, completion };
  m.leftovers(record, ["messages", "tools", "parallel_tool_calls"], [], out);
  return out;
}

/** A chat tool call's arguments as ShareGPT writes them: the parsed JSON object when it parses, else the string. */
function parsedArguments(args: unknown): unknown {
  if (typeof args !== "string") return args;
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

function chatToSharegpt(record: Rec, m: Mapping): Rec {
  if (Object.hasOwn(record, "parallel_tool_calls")) m.lost(["parallel_tool_calls"], '"parallel_tool_calls"');
  const messages = Array.isArray(record.messages) ? record.messages : [];
  const conversations: Rec[] = [];
  // ShareGPT pairs calls and results by order and has no ids: an id that `sharegpt → chat` would not give back
  // (call_0, call_1, ... in order) is lost, unless ids may go (`--extra drop`).
  let calls = 0;
  const pending: string[] = [];
  for (const [i, message] of messages.entries()) {
    if (!isRec(message)) continue;
    if (message.role === "assistant" && Array.isArray(message.tool_calls) && message.tool_calls.length > 0) {
      if (contentText(message.content).trim() !== "") m.lost(["messages", i, "content"], "text beside tool calls");
      if (Object.hasOwn(message, "name")) m.lost(["messages", i, "name"], '"name"');
      if (Object.hasOwn(message, "weight") && message.weight !== 1)
        m.lost(["messages", i, "weight"], "weight 0 (a message excluded from training)");
      m.leftovers(message, ["role", "content", "tool_calls", "name", "weight"], ["messages", i], undefined);
      const list = message.tool_calls.map((call: unknown, k: number) => {
        const c = isRec(call) ? call : {};
        const fn = isRec(c.function) ? c.function : {};
        const id = String(c.id);
        if (id !== `call_${calls}` && m.extra !== "drop")
          m.lost(
            ["messages", i, "tool_calls", k, "id"],
            `the tool call id "${id}" (ShareGPT pairs calls and results by order; drop ids with --extra drop)`,
          );
        calls++;
        pending.push(id);
        return { name: fn.name, arguments: parsedArguments(fn.arguments) };
      });
      conversations.push({ from: "function_call", value: JSON.stringify(list.length === 1 ? list[0] : list) });
      continue;
    }
    if (message.role === "tool") {
      const expected = pending.shift();
      if (message.tool_call_id !== expected)
        m.lost(["messages", i, "tool_call_id"], "a tool result out of its call's order (ShareGPT pairs them by order)");
      m.leftovers(message, ["role", "content", "tool_call_id"], ["messages", i], undefined);
      conversations.push({ from: "observation", value: contentText(message.content) });
      continue;
    }
    const from = chatToSharegptRole[String(message.role)];
    if (from === undefined) m.lost(["messages", i, "role"], `a "${String(message.role)}" message`);
    else conversations.push({ from, value: plainMessage(message, i, m) });
  }
  const out: Rec = { conversations };
  if (Array.isArray(record.tools)) {
    // LLaMA-Factory's form: a JSON string of the function definitions.
    const functions = record.tools.map((tool: unknown, k: number) => {
      if (isRec(tool) && tool.type === "function" && isRec(tool.function)) return tool.function;
      m.lost(["tools", k], "a tool that is not a function");
      return undefined;
    });
    out.tools = JSON.stringify(functions);
  } else if (Object.hasOwn(record, "tools")) m.lost(["tools"], '"tools" that is not a list');
  m.leftovers(record, ["messages", "tools", "parallel_tool_calls"], [], out);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Preference formats

function dpoToPairs(record: Rec, m: Mapping): Rec {
  const input = isRec(record.input) ? record.input : {};
  const out: Rec = { prompt: input.messages, chosen: record.preferred_output, rejected: record.non_preferred_output };
  for (const key of ["tools", "parallel_tool_calls"]) if (Object.hasOwn(input, key)) m.lost(["input", key], `"${key}"`);
  m.leftovers(input, ["messages", "tools", "parallel_tool_calls"], ["input"], undefined);
  m.leftovers(record, ["input", "preferred_output", "non_preferred_output"], [], out);
  return out;
}

function pairSideToOutput(value: unknown, key: string, m: Mapping): unknown {
  if (typeof value === "string") return [{ role: "assistant", content: value }];
  if (Array.isArray(value)) {
    value.forEach((message, i) => {
      if (isRec(message) && message.role !== "assistant") {
        m.lost([key, i, "role"], `a "${String(message.role)}" message (DPO outputs hold assistant messages only)`);
      }
    });
  }
  return value;
}

function pairsToDpo(record: Rec, m: Mapping): Rec {
  if (!Object.hasOwn(record, "prompt")) {
    m.lost([], "a pair without a separate prompt (the DPO format needs input.messages)");
  }
  const prompt = typeof record.prompt === "string" ? [{ role: "user", content: record.prompt }] : record.prompt;
  const out: Rec = {
    input: { messages: prompt },
    preferred_output: pairSideToOutput(record.chosen, "chosen", m),
    non_preferred_output: pairSideToOutput(record.rejected, "rejected", m),
  };
  m.leftovers(record, ["prompt", "chosen", "rejected"], [], out);
  return out;
}

const converters: Record<string, (record: Rec, m: Mapping) => Rec> = {
  "alpaca>chat": alpacaToChat,
  "prompt_completion>chat": promptCompletionToChat,
  "sharegpt>chat": sharegptToChat,
  "chat>alpaca": chatToAlpaca,
  "chat>prompt_completion": chatToPromptCompletion,
  "chat>sharegpt": chatToSharegpt,
  "dpo>pairs": dpoToPairs,
  "pairs>dpo": pairsToDpo,
};

/**
 * Converts one record (already valid for `from`) to `to`. Bad data is a value: a record that cannot be converted
 * without losing a field gives `{ ok: false, issues }` with one `unmapped_field` issue per field, never an exception.
 * @example convert({ instruction: "Add 2 and 2", output: "4" }, "alpaca", "chat");
 * // { ok: true, record: { messages: [{ role: "user", content: "Add 2 and 2" }, { role: "assistant", content: "4" }] } }
 */
export function convert(
  record: unknown,
  from: FormatName,
  to: FormatName,
  options: ConvertOptions = {},
): ConvertResult {
  const extra = options.extra ?? "error";
  if (!isRec(record)) {
    return {
      ok: false,
      issues: [
        {
          code: "data_type",
          severity: "error",
          path: "",
          message: "expected a JSON object",
          expected: "a JSON object",
        },
      ],
    };
  }
  if (from === to) return { ok: true, record };
  if (!canConvert(from, to)) {
    return {
      ok: false,
      issues: [
        {
          code: "unsupported_conversion",
          severity: "error",
          path: "",
          message: `cannot convert ${from} to ${to}: ${formats[from].description.split(":")[0]} and ${formats[to].description.split(":")[0]} records hold different things`,
        },
      ],
    };
  }
  const step = converters[`${from}>${to}`];
  if (step) {
    const m = new Mapping(from, to, extra);
    const out = step(record, m);
    return m.result(out);
  }
  // Two hops through chat. Leftover keys are handled on the first hop; the second sees only what it made.
  const first = convert(record, from, "chat", options);
  if (!first.ok) return first;
  const second = new Mapping("chat", to, extra);
  const out = converters[`chat>${to}`]!(first.record, second);
  return second.result(out);
}
