/**
 * When most records of a file fail the same way, the file is probably something else than what curate took it for:
 * another format, or the right one with a field under another name. `explainFailures` says which, once, instead of
 * leaving the reader to infer it from thousands of identical lines.
 */

/** What one file's diagnostics came to. */
export interface FileFailures {
  readonly file: string;
  /** Records read from the file. */
  readonly records: number;
  /** Records per issue, keyed `code path` (`missing_field output`, `unknown_key response`). */
  readonly issues: ReadonlyMap<string, number>;
  /** The keys of the first record no format fits (`unknown_format`), if any. */
  readonly unknownFormatKeys?: readonly string[];
}

/** Field names datasets use for a format's field: `response` for alpaca's `output`, and so on. */
const SYNONYMS: Readonly<Record<string, readonly string[]>> = {
  output: ["response", "answer", "outputs", "target", "completion", "reply", "output_text"],
  instruction: ["question", "prompt", "query", "instructions", "task"],
  input: ["context", "inputs"],
  messages: ["conversation", "conversations", "chat", "dialog", "dialogue", "turns"],
  conversations: ["conversation", "messages", "dialog", "dialogue", "turns"],
  completion: ["response", "answer", "output", "target"],
  chosen: ["preferred", "accepted", "winner"],
  rejected: ["dispreferred", "loser"],
};

const most = (n: number, of: number) => of > 0 && n * 2 > of;

/** A guess at what a record with these keys is, for `unknown_format`. */
function guessShape(keys: readonly string[]): string {
  const has = (k: string) => keys.includes(k);
  if (has("instruction") && (has("response") || has("answer")))
    return `an instruction set with the answer in "${has("response") ? "response" : "answer"}" (GPTeacher style): rename it to "output" for alpaca`;
  if ((has("question") || has("query")) && (has("answer") || has("answers")))
    return "a question/answer set (often an eval set, not training data): convert it to alpaca (instruction/output) or chat, or pass it to --against";
  if (keys.length === 1 && has("text"))
    return "plain text (pretraining data), which has no prompt and answer to validate";
  if (has("dialog") || has("dialogue") || has("turns"))
    return "a conversation under another name: rename it to messages (chat) or conversations (sharegpt)";
  return "a format curate does not know: convert it, or describe it with --schema my.schema.json";
}

/**
 * One line saying what a file probably is when most of its records fail the same way; undefined otherwise.
 * @example explainFailures({ file: "t.jsonl", records: 3, issues: new Map([["missing_field output", 3], ["unknown_key response", 3]]) });
 * // 't.jsonl: 3 of 3 records have no "output" but have "response" — did you mean "output"? …'
 */
export function explainFailures(f: FileFailures): string | undefined {
  const count = (key: string) => f.issues.get(key) ?? 0;
  const unknown = [...f.issues]
    .filter(([key, n]) => key.startsWith("unknown_key ") && most(n, f.records))
    .map(([key]) => key.slice("unknown_key ".length));
  for (const [key, n] of f.issues) {
    if (!key.startsWith("missing_field ") || !most(n, f.records)) continue;
    const field = key.slice("missing_field ".length);
    const synonym =
      (SYNONYMS[field] ?? []).find((s) => unknown.includes(s)) ?? (unknown.length === 1 ? unknown[0] : undefined);
    if (synonym === undefined) continue;
    return (
      `${f.file}: ${n} of ${f.records} records have no "${field}" but have "${synonym}" — did you mean "${field}"? ` +
      `Rename it (jq -c '.${field} = .${synonym} | del(.${synonym})'), or convert the file.`
    );
  }
  const unknownFormat = count("unknown_format ");
  if (most(unknownFormat, f.records)) {
    const keys = f.unknownFormatKeys ?? [];
    return `${f.file}: ${unknownFormat} of ${f.records} records fit no format (keys ${keys.join(", ")}); this looks like ${guessShape(keys)}.`;
  }
  const mismatch = count("format_mismatch ");
  if (most(mismatch, f.records)) {
    return `${f.file}: ${mismatch} of ${f.records} records look like another format than the one the file was read as: check --format, or split the file by format.`;
  }
  return undefined;
}
