import type { Manifest } from "./manifest.js";

/** A table row: text cells left-aligned, numbers right-aligned by the CLI's `table()`. */
export type SummaryRow = readonly (string | number)[];

/**
 * The end-of-run summary of a manifest as table rows: records in, rejected by code, duplicates by method, kept
 * per split with token statistics. `curate run`, `curate split` and `curate report` print the same rows, then
 * the `summaryNotes` lines below them.
 * @example process.stderr.write(`${table(summaryRows(manifest))}\n${summaryNotes(manifest).join("\n")}\n`);
 */
export function summaryRows(manifest: Manifest): SummaryRow[] {
  const rows: SummaryRow[] = [["records read", manifest.conservation.input]];
  for (const stage of manifest.stages) {
    for (const [code, n] of Object.entries(stage.rejectedByCode).sort())
      rows.push([`  rejected (${stage.name}: ${code})`, n]);
    for (const [method, n] of Object.entries(stage.duplicatesByMethod).sort()) {
      rows.push([`  duplicates (${stage.name}: ${method})`, n]);
    }
    for (const [code, n] of Object.entries(stage.warningsByCode).sort())
      rows.push([`  warnings (${stage.name}: ${code})`, n]);
  }
  rows.push(["kept", manifest.conservation.splits]);
  const splits = Object.entries(manifest.splits);
  const withTokens = splits.some(([, s]) => s.tokens);
  if (withTokens) rows.push(["", "records", "tokens", "mean", "p50", "p95", "max"]);
  for (const [name, s] of splits) {
    const t = s.tokens;
    rows.push(t ? [`  ${name}`, s.records, t.sum, t.mean, t.p50, t.p95, t.max] : [`  ${name}`, s.records]);
  }
  return rows;
}

/**
 * The lines under the summary table: leakage per held-out split and the conservation law as checked.
 * @example summaryNotes(manifest); // ["leakage train→test: exact 0, 13-gram 2 of 500 records", "conservation: …"]
 */
export function summaryNotes(manifest: Manifest): string[] {
  const lines: string[] = [];
  if (manifest.leakage) {
    for (const [name, leak] of Object.entries(manifest.leakage.splits)) {
      lines.push(
        `leakage ${manifest.leakage.train}→${name}: exact ${leak.exact}, ${manifest.leakage.ngram}-gram ${leak.ngram} of ${leak.records} records`,
      );
    }
  }
  const c = manifest.conservation;
  lines.push(
    `conservation: ${c.input} read = ${c.splits} in splits + ${c.rejected} rejected + ${c.duplicates} duplicates ✓`,
  );
  return lines;
}

/**
 * The machine-readable summary for `--json`: totals, per-split counts and tokens, leakage, output files.
 * @example process.stdout.write(JSON.stringify(manifestSummaryJson(manifest)));
 */
export function manifestSummaryJson(manifest: Manifest): Record<string, unknown> {
  return {
    read: manifest.conservation.input,
    kept: manifest.conservation.splits,
    rejected: manifest.conservation.rejected,
    duplicates: manifest.conservation.duplicates,
    rejectedByCode: manifest.rejects.byCode,
    duplicatesByMethod: manifest.duplicates.byMethod,
    splits: manifest.splits,
    ...(manifest.leakage ? { leakage: manifest.leakage } : {}),
    outputs: manifest.outputs,
    wallMs: manifest.wallMs,
  };
}
