import { availableParallelism } from "node:os";
import {
  CurateError,
  type Envelope,
  type Stage,
  type StageContext,
  takeFact,
  UsageError,
  withPreparer,
} from "@curate/core";
import {
  type ChatCount,
  type ChatInput,
  openTokenizer,
  resolveTokenizer,
  type Tokenizer,
  type TokenizerInfo,
  type TokenizerSpec,
} from "@curate/tokenizer-worker";
import { type Plan, planFor, type TextSequence } from "./shapes.js";
import { TokenStats } from "./stats.js";

export type OverflowPolicy = "drop" | "truncate" | "keep" | "fail";

export interface CountTokensOptions {
  /**
   * The tokenizer: what `--tokenizer` accepts (`o200k_base`, `gpt-4o-mini`, `llama3`, a folder), a resolved spec,
   * or any `Tokenizer` implementation (a GPU backend, a remote service, a test double).
   */
  readonly tokenizer: string | TokenizerSpec | Tokenizer;
  /** Records with more tokens than this are handled by `onOverflow`. */
  readonly maxTokens?: number;
  /** Records with fewer tokens than this are rejected (`too_few_tokens`). */
  readonly minTokens?: number;
  /**
   * Over `maxTokens`: `drop` rejects (`too_many_tokens`, default), `keep` keeps and counts it, `fail` stops the run
   * with a data error, `truncate` shortens the last trainable text (see `truncate` in the README).
   */
  readonly onOverflow?: OverflowPolicy;
  /**
   * Adds the counts to each kept record under this key (`true`: `_tokens`). Off by default: an unknown key can make
   * a trainer or the OpenAI fine-tuning API refuse the file, so annotate for inspection, not for training files.
   */
  readonly annotate?: string | boolean;
  /** Worker threads of the shared pool (default: cores). Ignored when `tokenizer` is a `Tokenizer`. */
  readonly threads?: number;
  /** Records per batch sent to a worker (default 256). */
  readonly batchSize?: number;
  /**
   * Count through the shared tokenization service (`curate tokenizer serve`) listening on this socket, instead of an
   * in-process pool: the service must be running (else a usage-style error, exit 2, naming the socket). `auto`: the
   * service on the default socket if one runs, else the in-process pool. Ignored when `tokenizer` is a `Tokenizer`.
   */
  readonly service?: string;
  /** Told when `service: "auto"` counts in-process instead (no service, or it went away); the CLI prints it. */
  readonly onNotice?: (message: string) => void;
  /**
   * Where to count: `cpu` (default: the worker pool), `gpu` (the WebGPU backend, `@curate/tokenizer-gpu`, loaded only
   * then; a usage error without an adapter), or `auto` (the GPU when an adapter is found, else the CPU). Tokenizers
   * the GPU kernel does not implement stay on the CPU. Ignored when `tokenizer` is a `Tokenizer`.
   */
  readonly device?: "cpu" | "gpu" | "auto";
  /** Told which device counts and why (`device: gpu, <adapter>`), once the stage starts, for the CLI's log. */
  readonly onDevice?: (note: string) => void;
}

/** What the stage adds to `meta.tokens` and, with `annotate`, to the record. */
export interface TokenCounts {
  readonly total: number;
  readonly trainable: number;
  /** Tokens of each field on its own (alpaca, prompt/completion, text, string preference records). */
  readonly fields?: Readonly<Record<string, number>>;
  /** False when the count is an estimate (OpenAI message accounting; a chat template whose turns were not located). */
  readonly exact: boolean;
}

/** The stage function, with the statistics it accumulates and the tokenizer it counts with. */
export type CountTokensStage = Stage<unknown, unknown> & {
  /** Statistics of the records this stage counted; reset when a run starts. */
  readonly stats: TokenStats;
  /** The tokenizer's description, once the stage has started. */
  readonly info: () => TokenizerInfo | undefined;
};

const policies: readonly OverflowPolicy[] = ["drop", "truncate", "keep", "fail"];
const BATCH_CHARS = 256 * 1024;

function isTokenizer(value: unknown): value is Tokenizer {
  return typeof value === "object" && value !== null && typeof (value as Tokenizer).count === "function";
}

function checkCount(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1)) {
    throw new UsageError(`countTokens(): \`${name}\` must be a whole number ≥ 1, found ${value}`);
  }
}

/**
 * Counts each record's tokens as the trainer will see them and applies the length policy: records over `maxTokens`
 * are dropped (`too_many_tokens`), kept, truncated or fail the run; records under `minTokens` are rejected
 * (`too_few_tokens`). Adds `meta.tokens = { total, trainable }`. Batches of records go to the shared tokenizer pool,
 * several at once, and come back in input order.
 * @example await pipeline([readJsonl("raw.jsonl"), countTokens({ tokenizer: "gpt-4o-mini", maxTokens: 4096 })]);
 */
export function countTokens(options: CountTokensOptions): CountTokensStage {
  const { maxTokens, minTokens } = options;
  const onOverflow = options.onOverflow ?? "drop";
  checkCount("maxTokens", maxTokens);
  checkCount("minTokens", minTokens);
  checkCount("batchSize", options.batchSize);
  const device = options.device ?? "cpu";
  if (!["cpu", "gpu", "auto"].includes(device)) {
    throw new UsageError(`countTokens(): \`device\` must be cpu, gpu or auto, found "${device}"`);
  }
  if (!policies.includes(onOverflow)) {
    throw new UsageError(`countTokens(): \`onOverflow\` must be one of ${policies.join(", ")}, found "${onOverflow}"`);
  }
  if (maxTokens !== undefined && minTokens !== undefined && minTokens > maxTokens) {
    throw new UsageError(`countTokens(): minTokens (${minTokens}) is larger than maxTokens (${maxTokens})`);
  }
  if (onOverflow === "truncate" && maxTokens === undefined) {
    throw new UsageError("--on-overflow truncate needs --max-tokens: there is nothing to truncate to");
  }
  const annotate = options.annotate === true ? "_tokens" : options.annotate === false ? undefined : options.annotate;
  if (annotate !== undefined && !/^[\w$.-]+$/.test(annotate)) {
    throw new UsageError(`countTokens(): \`annotate\` must be a field name like _tokens, found "${annotate}"`);
  }
  // Resolve now: a bad tokenizer name is a usage error before any data flows (and loads no tokenizer library).
  const tokenizerOption = options.tokenizer;
  const spec = isTokenizer(tokenizerOption)
    ? undefined
    : typeof tokenizerOption === "string"
      ? resolveTokenizer(tokenizerOption)
      : tokenizerOption;
  const batchSize = options.batchSize ?? 256;
  const stats = new TokenStats({
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...(minTokens === undefined ? {} : { minTokens }),
  });
  let info: TokenizerInfo | undefined;

  // The shard phase counts ahead (a named tokenizer only: a `Tokenizer` object cannot be rebuilt elsewhere): a
  // record's fact is its shape and counts (or the template's error), with the tokenizer's description. A batch whose
  // records all have facts needs no tokenizer here; the tokenizer is opened on the first batch that does (or to
  // truncate).
  // On a GPU the stage counts for itself: shard threads would each open the device (or count on their CPUs).
  const preparedKey = spec === undefined || device !== "cpu" ? undefined : `countTokens:${JSON.stringify(spec)}`;
  let opened: Promise<Counter> | undefined;
  const counterOf = (): Promise<Counter> => {
    opened ??= (async () => {
      const tokenizer =
        spec === undefined
          ? (tokenizerOption as Tokenizer)
          : device !== "cpu"
            ? await onDevice(spec, device, options)
            : options.service !== undefined
              ? await (await import("@curate/tokenizer-service")).openServiceTokenizer(spec, {
                  service: options.service,
                  pool: poolOptions(options),
                  ...(options.onNotice ? { onNotice: options.onNotice } : {}),
                })
              : openTokenizer(spec, poolOptions(options));
      info = await tokenizer.info();
      return new Counter(tokenizer, info);
    })();
    return opened;
  };
  const release = async (): Promise<void> => {
    const used = opened;
    opened = undefined;
    if (used) await (await used.catch(() => undefined))?.tokenizer.close();
  };

  function countOrReplay(batch: readonly Envelope[]): Promise<Counted[]> {
    if (preparedKey !== undefined) {
      const facts: TokensFact[] = [];
      for (const item of batch) {
        const fact = takeFact<TokensFact>(item.source, preparedKey);
        if (fact === undefined) break;
        facts.push(fact);
      }
      if (facts.length === batch.length) {
        info ??= facts[0]?.info;
        return Promise.resolve(batch.map((item, i) => counted(item, facts[i]!)));
      }
    }
    return counterOf().then((counter) => counter.countBatch(batch));
  }

  const stage = async function* countTokens(source: AsyncIterable<Envelope>, ctx: StageContext) {
    stats.reset();
    if (spec === undefined) await counterOf();
    // Several batches in flight keep every worker busy; awaiting them in order keeps the output in input order. On 2
    // cores the main thread (reading, parsing, shapes) shares a core with a worker and is descheduled now and then:
    // 8 batches per thread (~0.1 s of counting queued per worker) keep the workers fed meanwhile. Measured on the
    // 100k corpus, llama3, 2 threads, machine load ≈ 8: 33–36 s with 16 in flight, 40–44 s with the earlier 5.
    const depth = (options.threads ?? availableParallelism()) * 8;
    const inFlight: Promise<Counted[]>[] = [];
    let batch: Envelope[] = [];
    let chars = 0;
    try {
      for await (const item of source) {
        batch.push(item);
        chars += roughSize(item.data);
        if (batch.length >= batchSize || chars >= BATCH_CHARS) {
          inFlight.push(settled(countOrReplay(batch)));
          batch = [];
          chars = 0;
          while (inFlight.length >= depth) yield* route(await inFlight.shift()!, ctx);
        }
      }
      if (batch.length > 0) inFlight.push(settled(countOrReplay(batch)));
      while (inFlight.length > 0) yield* route(await inFlight.shift()!, ctx);
      // Describe the tokenizer even when no record needed it here (all counted ahead, or none at all).
      if (info === undefined) await counterOf();
    } finally {
      await release();
    }
  };

  async function* route(counted: readonly Counted[], ctx: StageContext): AsyncGenerator<Envelope> {
    for (const { item, plan, counts, error } of counted) {
      if (plan === undefined) {
        ctx.reject(item, {
          code: "unknown_format",
          message:
            "tokens: not a record shape curate can count (chat messages, ShareGPT conversations, alpaca, prompt/completion, text, preference)",
        });
        continue;
      }
      if (counts === undefined) {
        ctx.reject(item, { code: "chat_template_error", message: `tokens: the chat template failed: ${error}` });
        continue;
      }
      // The statistics describe the records as written: a truncated record by its length after truncation (its
      // count before still decides `overMax`).
      const record = (c: typeof counts) =>
        stats.add(c.total, c.trainable, {
          shape: plan.shape,
          exact: c.exact,
          ...(c.fields ? { fields: c.fields } : {}),
          original: counts.total,
        });
      let kept: Envelope = item;
      let final = counts;
      if (maxTokens !== undefined && counts.total > maxTokens) {
        if (onOverflow === "fail") {
          throw new CurateError(
            "CURATE_DATA",
            `${item.source.file}:${item.source.line}: ${counts.total} tokens, more than --max-tokens ${maxTokens} (--on-overflow fail)`,
            { exitCode: 1 },
          );
        }
        if (onOverflow === "drop") {
          record(counts);
          ctx.reject(item, tooMany(counts.total, maxTokens));
          continue;
        }
        if (onOverflow === "truncate") {
          const full = "sequences" in plan ? plan : planFor(item.data)!;
          const truncated = await truncateRecord(item, full, counts, maxTokens, await counterOf());
          if (typeof truncated === "string") {
            record(counts);
            ctx.reject(item, {
              ...tooMany(counts.total, maxTokens),
              message: `${tooMany(counts.total, maxTokens).message}; ${truncated}`,
            });
            continue;
          }
          kept = truncated.item;
          final = truncated.counts;
          ctx.warn(kept, {
            code: "truncated",
            severity: "warning",
            path: truncated.path,
            message: `truncated from ${counts.total} to ${final.total} tokens (--max-tokens ${maxTokens})`,
          });
        }
      }
      record(final);
      if (minTokens !== undefined && final.total < minTokens) {
        ctx.reject(item, {
          code: "too_few_tokens",
          message: `${final.total} tokens, fewer than --min-tokens ${minTokens}`,
          tokens: final.total,
          limit: minTokens,
        });
        continue;
      }
      stats.keep(final.total);
      yield annotateItem(kept, final, annotate);
    }
  }

  const described = Object.assign(stage, { stats, info: () => info });
  if (preparedKey === undefined) return described;
  return withPreparer(described, {
    key: preparedKey,
    async prepare(items) {
      const counter = await counterOf();
      return (await counter.countBatch(items)).map(
        ({ plan, counts, error }): TokensFact => ({
          info: counter.info,
          ...(plan ? { shape: plan.shape } : {}),
          ...(counts ? { counts } : {}),
          ...(error !== undefined ? { error } : {}),
        }),
      );
    },
    close: release,
  });
}

/** A record's counts made ahead, as plain data (see `countOrReplay`). */
interface TokensFact {
  readonly info: TokenizerInfo;
  readonly shape?: Plan["shape"];
  readonly counts?: TokenCounts;
  readonly error?: string;
}

function counted(item: Envelope, fact: TokensFact): Counted {
  return {
    item,
    plan: fact.shape === undefined ? undefined : { shape: fact.shape },
    ...(fact.counts ? { counts: fact.counts } : {}),
    ...(fact.error !== undefined ? { error: fact.error } : {}),
  };
}

/**
 * Marks a batch's promise as handled now: it is awaited later, in order, and a failure of a batch still waiting its
 * turn (or abandoned by an early exit) must not crash the process as an unhandled rejection meanwhile.
 */
function settled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** Opens the tokenizer on the GPU or the CPU; the WebGPU package (and Dawn) load only here. */
async function onDevice(spec: TokenizerSpec, device: "gpu" | "auto", options: CountTokensOptions): Promise<Tokenizer> {
  const { openDeviceTokenizer } = await import("@curate/tokenizer-gpu");
  const opened = await openDeviceTokenizer(spec, { device, ...poolOptions(options) });
  options.onDevice?.(opened.note);
  return opened.tokenizer;
}

function poolOptions(options: CountTokensOptions): { threads?: number } {
  return options.threads === undefined ? {} : { threads: options.threads };
}

function tooMany(total: number, limit: number) {
  return { code: "too_many_tokens", message: `${total} tokens, more than --max-tokens ${limit}`, tokens: total, limit };
}

function annotateItem(item: Envelope, counts: TokenCounts, field: string | undefined): Envelope {
  const meta = { ...item.meta, tokens: { total: counts.total, trainable: counts.trainable } };
  if (field === undefined || typeof item.data !== "object" || item.data === null || Array.isArray(item.data)) {
    return { ...item, meta };
  }
  return { ...item, data: { ...(item.data as Record<string, unknown>), [field]: counts }, meta };
}

/** Approximate characters of a record, to cap batches by size as well as by count. */
function roughSize(data: unknown): number {
  if (typeof data === "string") return data.length;
  if (Array.isArray(data)) return data.reduce((n: number, v) => n + roughSize(v), 0);
  if (typeof data === "object" && data !== null) {
    let n = 0;
    for (const v of Object.values(data)) n += roughSize(v);
    return n;
  }
  return 8;
}

interface Counted {
  readonly item: Envelope;
  /** The record's plan, or only its shape when the counts were made ahead (see `TokensFact`). */
  readonly plan: Plan | Pick<Plan, "shape"> | undefined;
  readonly counts?: TokenCounts;
  readonly error?: string;
}

/** Turns a batch of records into two tokenizer calls (texts, chats) and assembles each record's counts. */
class Counter {
  constructor(
    readonly tokenizer: Tokenizer,
    readonly info: TokenizerInfo,
  ) {}

  async countBatch(items: readonly Envelope[]): Promise<Counted[]> {
    const plans = items.map((item) => planFor(item.data));
    return this.countPlans(items, plans);
  }

  async countPlans(items: readonly Envelope[], plans: readonly (Plan | undefined)[]): Promise<Counted[]> {
    const texts: string[] = [];
    const chats: ChatInput[] = [];
    for (const plan of plans) {
      if (plan === undefined) continue;
      for (const f of plan.fields) texts.push(f.text);
      for (const s of plan.sequences) {
        if ("chat" in s) chats.push(s.chat);
        else for (const part of s.text.parts) texts.push(part.text);
      }
    }
    const [textCounts, chatCounts] = await Promise.all([
      texts.length > 0 ? this.tokenizer.count(texts) : new Uint32Array(0),
      chats.length > 0 ? this.tokenizer.countChats(chats) : ([] as ChatCount[]),
    ]);
    let t = 0;
    let c = 0;
    return items.map((item, i) => {
      const plan = plans[i];
      if (plan === undefined) return { item, plan };
      const fields: Record<string, number> = {};
      for (const f of plan.fields) fields[f.field] = textCounts[t++]!;
      const sequences: TokenCounts[] = [];
      let error: string | undefined;
      for (const s of plan.sequences) {
        if ("chat" in s) {
          const r = chatCounts[c++]!;
          if ("error" in r) error = r.error;
          else sequences.push({ total: r.total, trainable: r.trainable, exact: r.exact });
        } else sequences.push(this.textSequence(s.text, textCounts, t, (n) => (t += n)));
      }
      if (error !== undefined) return { item, plan, error };
      // Preference records: the longer sequence is what must fit.
      let best = sequences[0]!;
      for (const s of sequences) if (s.total > best.total) best = s;
      const counts: TokenCounts = {
        total: best.total,
        trainable: best.trainable,
        exact: sequences.every((s) => s.exact),
        ...(plan.fields.length > 0 ? { fields } : {}),
      };
      return { item, plan, counts };
    });
  }

  private textSequence(sequence: TextSequence, counts: Uint32Array, at: number, advance: (n: number) => void) {
    let total = this.info.sequenceOverhead;
    let trainable = 0;
    sequence.parts.forEach((part, k) => {
      const n = counts[at + k]!;
      total += n;
      if (part.trainable) trainable += n;
    });
    advance(sequence.parts.length);
    return { total, trainable, exact: true };
  }
}

/**
 * Shortens the record's last trainable text so that the record fits `maxTokens`: the output (alpaca), completion
 * (prompt/completion strings), text, or the content of a final assistant message (chat, ShareGPT). The text is cut
 * at a token boundary (encode, keep the first ids, decode; a character split by the cut is dropped), then the record
 * is counted again; repeated while it is still too long. Returns the reason as a string when it cannot fit.
 */
async function truncateRecord(
  item: Envelope,
  plan: Plan,
  counts: TokenCounts,
  maxTokens: number,
  counter: Counter,
): Promise<{ item: Envelope; counts: TokenCounts; path: string } | string> {
  const target = plan.truncatable;
  if (target === undefined) {
    return plan.shape === "preference"
      ? "preference records cannot be truncated (cutting one answer changes what is preferred)"
      : `cannot truncate this ${plan.shape} record (it does not end with assistant text)`;
  }
  const data = item.data as Record<string, unknown>;
  const read = (): { text: string; write: (text: string) => Record<string, unknown>; path: string } => {
    if (target.kind === "field") {
      return {
        text: String(data[target.field] ?? ""),
        write: (text) => ({ ...data, [target.field]: text }),
        path: target.field,
      };
    }
    const list = data[target.key] as Record<string, unknown>[];
    const last = list.length - 1;
    const key = target.key === "conversations" && "value" in list[last]! ? "value" : "content";
    return {
      text: String(list[last]![key] ?? ""),
      write: (text) => ({ ...data, [target.key]: list.map((m, i) => (i === last ? { ...m, [key]: text } : m)) }),
      path: `${target.key}[${last}].${key}`,
    };
  };
  const { text, write, path } = read();
  const [ids] = await counter.tokenizer.encode([text]);
  let keep = ids!.length - (counts.total - maxTokens);
  for (let attempt = 0; attempt < 4 && keep > 0; attempt++) {
    let [cut] = await counter.tokenizer.decode([ids!.subarray(0, keep)]);
    // A cut inside a multi-byte character decodes to U+FFFD at the end: drop it.
    while (cut!.endsWith("\ufffd") && !text.startsWith(cut!)) cut = cut!.slice(0, -1);
    const next: Envelope = { ...item, data: write(cut!) };
    const [recounted] = await counter.countPlans([next], [planFor(next.data)]);
    const c = recounted?.counts;
    if (c === undefined) return "the truncated record could not be counted";
    if (c.total <= maxTokens) return { item: next, counts: c, path };
    keep -= c.total - maxTokens;
  }
  return `even without its ${path} it would not fit`;
}
