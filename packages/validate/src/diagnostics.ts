/**
 * Diagnostics: one problem of one record, located by file and line, printed as
 * `file:line[:col] severity code path message` (what `curate validate` prints, and what other commands reuse for
 * their rejects).
 */
import { type Issue, isParquetFile, type Rejected, type Severity, type Source, type Warning } from "@curate/core";

export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  /** 1-based column, for parse errors and records that do not start their line (array elements). */
  readonly column?: number;
  /** The record's number in its input, where one line can hold several records (`file:1:4022 #17`). */
  readonly record?: number;
  readonly severity: Severity;
  readonly code: string;
  /** Field path (`messages[1].role`); empty for the record as a whole. */
  readonly path: string;
  readonly message: string;
  readonly expected?: string;
  readonly found?: string;
  /** The stage that found it (`read`, `validate`, ...). */
  readonly stage: string;
}

/** Where a record is, as diagnostics show it: the record number and column only where a line can hold several. */
function place(source: Source): Pick<Diagnostic, "file" | "line" | "column" | "record"> {
  const { file, line, column, record } = source;
  if (record !== undefined && isParquetFile(file)) return { file, line, record };
  if (column === undefined || record === undefined) return { file, line };
  return column > 1 ? { file, line, column, record } : { file, line, record };
}

function fromIssue(source: Source, stage: string, issue: Issue): Diagnostic {
  return {
    ...place(source),
    severity: issue.severity,
    code: issue.code,
    path: issue.path,
    message: issue.message,
    ...(issue.expected === undefined ? {} : { expected: issue.expected }),
    ...(issue.found === undefined ? {} : { found: issue.found }),
    stage,
  };
}

/**
 * The diagnostics of a rejected record: one per issue (errors and warnings), or one for the reason itself when it
 * has no issues (a line the reader could not parse).
 * @example for (const d of rejectDiagnostics(rejected)) process.stderr.write(`${formatDiagnostic(d)}\n`);
 */
export function rejectDiagnostics(rejected: Rejected): Diagnostic[] {
  const { item, reason, stage } = rejected;
  const where = place(item.source);
  if (reason.issues && reason.issues.length > 0)
    return reason.issues.map((issue) => fromIssue(item.source, stage, issue));
  const excerpt = typeof reason.excerpt === "string" && !reason.message.includes(reason.excerpt) ? reason.excerpt : "";
  // A record spanning lines (pretty-printed JSON) names the line the error is on, so `file:line:column` points at it.
  return [
    {
      ...where,
      line: reason.errorLine ?? where.line,
      ...(typeof reason.column === "number" ? { column: reason.column } : {}),
      severity: "error",
      code: reason.code,
      path: "",
      message: excerpt ? `${reason.message} near ${JSON.stringify(excerpt)}` : reason.message,
      stage,
    },
  ];
}

/**
 * The diagnostic of a warning on a kept record.
 * @example onWarning: (w) => print(formatDiagnostic(warningDiagnostic(w)))
 */
export function warningDiagnostic(warning: Warning): Diagnostic {
  return fromIssue(warning.item.source, warning.stage, warning.issue);
}

/**
 * One diagnostic as a line of text: `file:line[:col][ #record] severity code [path] message`.
 * @example formatDiagnostic(d); // 'data/train.jsonl:17 error unrecognized_role messages[1].role expected one of system|developer|user|assistant|tool, found "wizard"'
 */
export function formatDiagnostic(d: Diagnostic): string {
  // A Parquet file has rows, not lines (formatSource in core says the same).
  const where =
    d.record !== undefined && isParquetFile(d.file)
      ? `${d.file} row ${d.record}`
      : `${d.file}:${d.line}${d.column === undefined ? "" : `:${d.column}`}${d.record === undefined ? "" : ` #${d.record}`}`;
  // Messages are one line: a newline inside one would break `grep` and editors' problem matchers.
  const message = d.message.replace(/\r?\n/g, " ");
  return `${where} ${d.severity} ${d.code}${d.path ? ` ${d.path}` : ""} ${message}`;
}
