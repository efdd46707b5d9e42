import type { Envelope } from "@curate/core";
import { detectFormat } from "@curate/formats";

/**
 * Counts the formats of the records `curate run` writes, so that a folder of mixed formats never becomes one
 * train.jsonl mixing alpaca, ShareGPT and chat records without a word: a trainer reads one format per file.
 * @example const mix = new FormatMix(); mix.add(envelope); mix.warning(); // "… mixes formats: alpaca 2, chat 3 …"
 */
export class FormatMix {
  readonly counts = new Map<string, number>();

  add(record: Envelope): void {
    const known = record.meta?.format;
    const format = typeof known === "string" ? known : (detectFormat(record.data) ?? "unknown");
    this.counts.set(format, (this.counts.get(format) ?? 0) + 1);
  }

  /** The warning when the written records are of more than one format; undefined when they are of one. */
  warning(): string | undefined {
    if (this.counts.size < 2) return undefined;
    const parts = [...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    return (
      `warning: the output mixes formats (${parts.map(([f, n]) => `${f} ${n}`).join(", ")}): a trainer reads one ` +
      "format per file. Convert them with --to chat (--extra keep|drop for keys the target has no place for, such as FastChat's id)."
    );
  }
}
