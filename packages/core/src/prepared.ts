/**
 * Per-record work done ahead of a stage: the shard phase (in worker threads, processes or machines) runs each
 * stage's `Preparer` over a shard's records and ships the results — plain data — beside the records; the stage, run
 * later in input order on one thread, takes a record's prepared fact instead of computing it, and computes it itself
 * when there is none. Facts never change what a stage decides, only where the work ran, so outputs are identical with
 * and without them.
 *
 * Facts are kept per record by the identity of its `source` object (which every stage passes on unchanged), in a
 * WeakMap: they never reach an output file and go when the record does.
 */
import type { Envelope, Source, Stage } from "./types.js";

/**
 * The per-record part of a stage, as a pure function of its options: `prepare` gives one fact per record (plain
 * data that survives `structuredClone`), or undefined for a record it cannot decide ahead. `pass` gives the record
 * as the next stage would see it (undefined when this stage will drop it), so later preparers see what they would see
 * in the run.
 */
export interface Preparer {
  /** Names the stage and its options: a fact is used only by a stage with the same key. */
  readonly key: string;
  prepare(items: readonly Envelope[]): readonly unknown[] | Promise<readonly unknown[]>;
  pass?(item: Envelope, fact: unknown): Envelope | undefined;
  /** Releases what `prepare` loaded (tokenizers, pools). */
  close?(): void | Promise<void>;
}

/** A stage that can have its per-record work done ahead. */
export type PreparedStage<S extends Stage = Stage> = S & { readonly preparer: Preparer };

const facts = new WeakMap<Source, Record<string, unknown>>();

/**
 * Attaches facts to the record with this source (what a shard's result carries per record).
 * @example attachFacts(item.source, entry.facts);
 */
export function attachFacts(source: Source, byKey: Readonly<Record<string, unknown>>): void {
  facts.set(source, byKey as Record<string, unknown>);
}

/**
 * The fact a preparer with `key` made for this record, if any; it is taken (removed), as a stage uses it once.
 * @example const hash = takeFact<Uint32Array>(item.source, preparer.key) ?? computeHash(item);
 */
export function takeFact<T>(source: Source, key: string): T | undefined {
  const byKey = facts.get(source);
  if (byKey === undefined || !(key in byKey)) return undefined;
  const fact = byKey[key] as T;
  delete byKey[key];
  return fact;
}

/**
 * Gives `stage` its preparer.
 * @example return withPreparer(stage, { key: "exactDedup:text", prepare: (items) => items.map(hashOf) });
 */
export function withPreparer<S extends Stage>(stage: S, preparer: Preparer): PreparedStage<S> {
  return Object.assign(stage, { preparer });
}

/** The preparer of a stage, if it has one. */
export function preparerOf(stage: Stage): Preparer | undefined {
  return (stage as Partial<PreparedStage>).preparer;
}
