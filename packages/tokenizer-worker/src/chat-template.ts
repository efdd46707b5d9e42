import type { FastRenderer } from "./fast-templates.js";
import { contentText } from "./openai.js";
import type { ChatCount, ChatInput, ChatMessage } from "./types.js";

/** A compiled chat template: variables in, text out. */
export type RenderTemplate = (items: Record<string, unknown>) => string;

/**
 * Compiles a template with `@huggingface/jinja` (passed in, so the library loads lazily). Rendering sets up the
 * globals itself rather than calling `Template.render`, whose built-in `strftime_now` returns today's date (counts
 * would change by the day) and whose `raise_exception` cannot be told apart from a template bug.
 */
export function compileTemplate(jinja: typeof import("@huggingface/jinja"), source: string): RenderTemplate {
  const parsed = new jinja.Template(source).parsed;
  return (items) => {
    const env = new jinja.Environment();
    for (const [name, value] of [
      ["false", false],
      ["true", true],
      ["none", null],
      ["False", false],
      ["True", true],
      ["None", null],
    ] as const) {
      env.set(name, value);
    }
    env.set("range", range);
    env.set("raise_exception", (message: unknown) => {
      throw new TemplateError(String(message));
    });
    env.set("strftime_now", (format: unknown) => strftime(String(format)));
    for (const [key, value] of Object.entries(items)) env.set(key, value);
    return new jinja.Interpreter(env).run(parsed).value as string;
  };
}

/** Python's `range`, as templates call it. */
function range(start: number, stop?: number, step = 1): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0) throw new TemplateError("range() step must not be zero");
  const out: number[] = [];
  if (step > 0) for (let i = from; i < to; i += step) out.push(i);
  else for (let i = from; i > to; i += step) out.push(i);
  return out;
}

type Config = Record<string, unknown>;

/** A token setting in `tokenizer_config.json`: a string, or an AddedToken object `{ content }`. */
export function tokenString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && typeof (value as Config).content === "string")
    return (value as Config).content as string;
  return undefined;
}

/**
 * The chat template source from `tokenizer_config.json` (a string, or a list of named templates where `default` and
 * `tool_use` are the ones transformers picks), or from a `chat_template.jinja` file beside it (newer transformers).
 */
export function templateSources(config: Config, jinjaFile: string | undefined): { default?: string; tools?: string } {
  const raw = config.chat_template;
  if (typeof raw === "string") return { default: raw };
  if (Array.isArray(raw)) {
    const named = new Map<string, string>();
    for (const entry of raw) {
      if (typeof entry === "object" && entry !== null && typeof entry.template === "string")
        named.set(String(entry.name), entry.template);
    }
    const result: { default?: string; tools?: string } = {};
    const first = named.get("default") ?? named.values().next().value;
    if (first !== undefined) result.default = first;
    const tools = named.get("tool_use");
    if (tools !== undefined) result.tools = tools;
    return result;
  }
  return jinjaFile === undefined ? {} : { default: jinjaFile };
}

// A fixed date: templates that print today's date (Llama 3.1's "Today Date") must not make counts change by the day.
const FIXED_DATE = new Date(Date.UTC(2024, 6, 26));
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const LONG_MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

function strftime(format: string): string {
  const d = FIXED_DATE;
  const pad = (n: number) => String(n).padStart(2, "0");
  return format.replace(/%([dbBmYyHMS%])/g, (_, f: string) => {
    switch (f) {
      case "d":
        return pad(d.getUTCDate());
      case "b":
        return MONTHS[d.getUTCMonth()]!;
      case "B":
        return LONG_MONTHS[d.getUTCMonth()]!;
      case "m":
        return pad(d.getUTCMonth() + 1);
      case "Y":
        return String(d.getUTCFullYear());
      case "y":
        return pad(d.getUTCFullYear() % 100);
      case "%":
        return "%";
      default:
        return "00";
    }
  });
}

/**
 * Renders conversations with a tokenizer's Jinja chat template and counts them, locating the assistant turns to
 * report trainable tokens.
 *
 * `total` is the token count of the whole conversation rendered with `add_generation_prompt: false`, tokenized as
 * the trainer tokenizes it (special-token strings recognised). For each assistant message i the template is also
 * rendered for the messages before it with `add_generation_prompt: true` (P). When the full rendering starts with
 * P, the turn starts there and ends after the first special token that follows (`<|eot_id|>`, `<|im_end|>`: what the
 * model learns to stop with); that span is tokenized on its own, which gives the same tokens as inside the whole
 * because special tokens delimit it. Otherwise (a template that renders the generation prompt differently from a
 * finished turn, or a turn with no special token after it) the turn counts as `tokens(Q) - tokens(P)`, with Q the
 * rendering of the messages up to and including it, and the count is marked `exact: false`.
 */
export class ChatTemplate {
  private readonly base: Record<string, unknown>;

  constructor(
    private readonly template: RenderTemplate,
    private readonly toolsTemplate: RenderTemplate | undefined,
    config: Config,
    /** `[start, end)` of the first special token in `text` at or after `from`, if any. */
    private readonly firstSpecial: (text: string, from: number) => readonly [number, number] | undefined,
    /** A hand-written equivalent of `template` (see fast-templates.ts), tried first. */
    private readonly fast?: FastRenderer,
  ) {
    const base: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
      if (key.endsWith("_token")) {
        const token = tokenString(value);
        if (token !== undefined) base[key] = token;
      }
    }
    base.date_string = strftime("%d %b %Y");
    this.base = base;
  }

  /** The conversation as the template renders it. */
  render(chat: ChatInput, messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    const tools = chat.tools !== undefined && chat.tools.length > 0 ? chat.tools : undefined;
    const forJinja = messages.map(forTemplate);
    if (this.fast !== undefined && tools === undefined) {
      const text = this.fast(forJinja, { addGenerationPrompt, vars: this.base });
      if (text !== undefined) return text;
    }
    const template = tools !== undefined && this.toolsTemplate !== undefined ? this.toolsTemplate : this.template;
    return template({
      ...this.base,
      messages: forJinja,
      ...(tools === undefined ? {} : { tools }),
      add_generation_prompt: addGenerationPrompt,
    });
  }

  /** Counts one conversation; a template error (`raise_exception`, a missing field) becomes `{ error }`. */
  count(chat: ChatInput, count: (text: string) => number): ChatCount {
    try {
      const messages = chat.messages;
      const full = this.render(chat, messages, false);
      const total = count(full);
      let trainable = 0;
      let exact = true;
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!;
        if (message.role !== "assistant" || message.weight === 0) continue;
        let before: string;
        try {
          before = this.render(chat, messages.slice(0, i), true);
        } catch {
          // Some templates cannot render a conversation that stops here (one that opens with the assistant).
          trainable += count(contentText(message.content));
          exact = false;
          continue;
        }
        const special = full.startsWith(before) ? this.firstSpecial(full, before.length) : undefined;
        if (special !== undefined) trainable += count(full.slice(before.length, special[1]));
        else {
          const upTo = this.render(chat, messages.slice(0, i + 1), false);
          trainable += Math.max(0, count(upTo) - count(before));
          exact = false;
        }
      }
      return { total, trainable, exact };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }
}

/** Raised by a template's `raise_exception` ("Conversation roles must alternate ..."). */
export class TemplateError extends Error {
  override name = "TemplateError";
}

/** A message as templates expect it: `content` as a string (text parts joined), other fields as given. */
function forTemplate(message: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { ...message };
  out.content = contentText(message.content);
  return out;
}
