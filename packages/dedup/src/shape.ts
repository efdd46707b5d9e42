import type { Source } from "@curate/core";
import { textShape } from "@curate/formats";

/** Records whose shape no known format fits, as a dedup stage's stats report them (absent when there are none). */
export interface UnrecognizedShapes {
  /** How many records fit no known format. */
  records: number;
  /** The top-level keys of the first such record, e.g. `["input", "instruction", "response"]`. */
  keys: string[];
  /** Where the first one is. */
  first: Source;
}

/**
 * Counts the records a training-text key does not recognise, so that the CLI can say how they were keyed (exact:
 * whole canonical JSON; near: every string field) and point at `--key`, instead of guessing silently.
 * @example const tally = new ShapeTally(); tally.note({ instruction: "Hi", response: "Hello" }, source); tally.result()?.records; // 1
 */
export class ShapeTally {
  private found: UnrecognizedShapes | undefined;

  note(record: unknown, source: Source): void {
    if (typeof record !== "object" || record === null || Array.isArray(record) || textShape(record) !== undefined)
      return;
    if (this.found === undefined) this.found = { records: 0, keys: Object.keys(record).sort(), first: source };
    this.found.records++;
  }

  result(): UnrecognizedShapes | undefined {
    return this.found;
  }
}
