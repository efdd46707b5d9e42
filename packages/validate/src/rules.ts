/**
 * Every problem `validate` reports, with its stable code and default severity. The defaults follow one principle:
 * an error when a trainer would refuse the record or it teaches nothing; a warning for conventions and style.
 */
import { UsageError } from "@curate/core";

/** A rule's setting: reject the record (`error`), keep it with a warning (`warn`), or do not check (`off`). */
export type RuleSetting = "error" | "warn" | "off";

export interface RuleInfo {
  readonly code: string;
  readonly severity: RuleSetting;
  /** Formats the rule applies to. */
  readonly formats: string;
  readonly description: string;
}

/**
 * The rule table, in the order the README lists it. The cookbook's format checks keep their names (`data_type`,
 * `missing_messages_list`, `message_missing_key`, `message_unrecognized_key`, `unrecognized_role`,
 * `missing_content`, `example_missing_assistant_message`).
 * @example rules.find((r) => r.code === "system_not_first")?.severity; // "warn"
 */
export const rules = [
  // Shape: what the format's schema (or the user's) says.
  { code: "data_type", severity: "error", formats: "all", description: "The record is not a JSON object." },
  {
    code: "unknown_format",
    severity: "error",
    formats: "auto",
    description: "The record's keys fit none of the formats (with --format auto).",
  },
  {
    code: "format_mismatch",
    severity: "error",
    formats: "all",
    description: "The record's keys fit another format than its file's (auto) or the one given with --format.",
  },
  {
    code: "missing_messages_list",
    severity: "error",
    formats: "chat, sharegpt, dpo",
    description: "`messages` (ShareGPT: `conversations`) is missing or empty.",
  },
  {
    code: "missing_field",
    severity: "error",
    formats: "all",
    description: "A required field is missing (alpaca `output`, pairs `chosen`, a tool call's `id`, ...).",
  },
  {
    code: "message_missing_key",
    severity: "error",
    formats: "chat, sharegpt, dpo, pairs",
    description: "A message has no `role` or `content` (ShareGPT: `from` or `value`).",
  },
  {
    code: "unrecognized_role",
    severity: "error",
    formats: "chat, sharegpt, dpo, pairs",
    description: "A role outside the format's (chat: system|developer|user|assistant|tool).",
  },
  {
    code: "invalid_type",
    severity: "error",
    formats: "all",
    description: "A field has the wrong JSON type (content a number, history not a list, ...).",
  },
  {
    code: "invalid_value",
    severity: "error",
    formats: "all",
    description: 'A value the format does not allow (`weight: 2`, a content part of type "image", ...).',
  },
  {
    code: "message_unrecognized_key",
    severity: "warn",
    formats: "chat, sharegpt, dpo, pairs",
    description: "A message has a key its role does not define (an error with --strict).",
  },
  {
    code: "unknown_key",
    severity: "warn",
    formats: "all",
    description: "A key the format does not define, such as `id` (an error with --strict).",
  },
  {
    code: "schema_mismatch",
    severity: "error",
    formats: "--schema",
    description: "The record fails the user's schema in a way the codes above do not name.",
  },
  // Content: what a trainer needs to learn something.
  {
    code: "missing_content",
    severity: "error",
    formats: "all",
    description:
      "Empty or whitespace-only text where the format needs some: a message, alpaca instruction/output, completion, chosen/rejected.",
  },
  {
    code: "example_missing_assistant_message",
    severity: "error",
    formats: "chat, sharegpt, dpo, pairs",
    description: "No assistant (ShareGPT: gpt) message to learn from.",
  },
  {
    code: "last_message_not_assistant",
    severity: "error",
    formats: "chat, sharegpt, pairs",
    description: "The conversation does not end with an assistant message.",
  },
  {
    code: "no_trainable_message",
    severity: "error",
    formats: "chat",
    description: "Every assistant message has `weight: 0`, so nothing is trained on.",
  },
  {
    code: "identical_preference",
    severity: "error",
    formats: "dpo, pairs",
    description: "The preferred and non-preferred answers are the same.",
  },
  {
    code: "unmatched_tool_call_id",
    severity: "error",
    formats: "chat, sharegpt, dpo, pairs",
    description:
      "A `tool` message whose `tool_call_id` no earlier assistant tool call has (ShareGPT: an observation with no function_call before it).",
  },
  {
    code: "invalid_tool_arguments",
    severity: "error",
    formats: "chat, sharegpt, dpo, pairs",
    description: "A tool call's `function.arguments` (ShareGPT: a function_call's value) is not valid JSON.",
  },
  {
    code: "missing_tool_response",
    severity: "warn",
    formats: "chat, sharegpt, dpo, pairs",
    description: "A tool call that no later `tool` message answers.",
  },
  {
    code: "duplicate_tool_call_id",
    severity: "warn",
    formats: "chat, dpo, pairs",
    description: "Two tool calls in one conversation share an `id`.",
  },
  {
    code: "undeclared_tool",
    severity: "warn",
    formats: "chat, dpo",
    description: "A tool call names a function that the record's `tools` does not declare.",
  },
  // Conventions and style.
  {
    code: "system_not_first",
    severity: "warn",
    formats: "chat, sharegpt, dpo, pairs",
    description: "A system (or developer) message anywhere but first.",
  },
  {
    code: "non_alternating_turns",
    severity: "warn",
    formats: "chat, sharegpt, dpo, pairs",
    description: "Two user or two assistant messages in a row.",
  },
  {
    code: "missing_user_message",
    severity: "warn",
    formats: "chat, sharegpt",
    description:
      "No user (ShareGPT: human) message: the model learns to answer nothing (the OpenAI cookbook counts these).",
  },
  {
    code: "control_characters",
    severity: "warn",
    formats: "all",
    description: "Text contains control characters (other than tab, newline and carriage return).",
  },
  {
    code: "replacement_character",
    severity: "warn",
    formats: "all",
    description: "Text contains U+FFFD, the mark of text decoded with the wrong encoding (mojibake).",
  },
] as const satisfies readonly RuleInfo[];

export type RuleCode = (typeof rules)[number]["code"];

/** Rule settings by code. */
export type RuleSettings = Partial<Record<RuleCode, RuleSetting>>;

const byCode = new Map<string, RuleInfo>(rules.map((rule) => [rule.code, rule]));

/**
 * True when `code` is one of validate's rule codes.
 * @example isRuleCode("unrecognized_role"); // true
 */
export function isRuleCode(code: string): code is RuleCode {
  return byCode.has(code);
}

/**
 * The effective setting of every rule: the defaults, `strict` (unknown keys become errors), then `overrides`.
 * Throws a UsageError naming the valid codes for an unknown code or setting.
 * @example resolveRules({ system_not_first: "error" }, false).get("system_not_first"); // "error"
 */
export function resolveRules(
  overrides: Readonly<Record<string, string>> = {},
  strict = false,
): Map<string, RuleSetting> {
  const settings = new Map<string, RuleSetting>(rules.map((rule) => [rule.code, rule.severity]));
  if (strict) {
    settings.set("unknown_key", "error");
    settings.set("message_unrecognized_key", "error");
  }
  for (const [code, setting] of Object.entries(overrides)) {
    if (!byCode.has(code)) {
      throw new UsageError(`unknown rule "${code}"; rules are: ${rules.map((r) => r.code).join(", ")}`);
    }
    if (setting !== "error" && setting !== "warn" && setting !== "off") {
      throw new UsageError(`rule ${code}: expected error, warn or off, found ${JSON.stringify(setting)}`);
    }
    settings.set(code, setting);
  }
  return settings;
}

/**
 * Parses `code=error|warn|off` strings (the CLI's repeatable `--rule`) into rule settings.
 * @example parseRuleSettings(["system_not_first=error", "control_characters=off"]);
 */
export function parseRuleSettings(specs: readonly string[]): RuleSettings {
  const settings: Record<string, RuleSetting> = {};
  for (const spec of specs) {
    const match = /^\s*([a-z_]+)\s*=\s*(error|warn|off)\s*$/.exec(spec);
    if (!match) {
      throw new UsageError(`--rule expects code=error|warn|off (e.g. system_not_first=error), found "${spec}"`);
    }
    settings[match[1]!] = match[2] as RuleSetting;
  }
  resolveRules(settings); // checks the codes
  return settings as RuleSettings;
}

/**
 * The rule table as Markdown, for the README and `curate validate --help`.
 * @example console.log(rulesMarkdown());
 */
export function rulesMarkdown(): string {
  const lines = ["| code | default | formats | what it catches |", "| --- | --- | --- | --- |"];
  // A `|` inside a cell would end it.
  const cell = (text: string) => text.replaceAll("|", "\\|");
  for (const rule of rules)
    lines.push(`| \`${rule.code}\` | ${rule.severity} | ${cell(rule.formats)} | ${cell(rule.description)} |`);
  return lines.join("\n");
}
