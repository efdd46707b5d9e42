import { CurateError } from "@curate/core";
import { encodingForModel } from "@curate/tokenizer-worker";

/**
 * OpenAI supervised fine-tuning prices, USD per 1M training tokens, and the longest training example each model
 * accepts (longer examples are truncated, and billed up to this). From openai.com/api/pricing and the fine-tuning
 * guide as of the date below; prices change, so `--price` overrides them.
 */
export const fineTuningPrices = {
  date: "2025-06-01",
  source: "https://openai.com/api/pricing (fine-tuning, training per 1M tokens)",
  models: [
    { prefix: "gpt-4.1-nano", price: 1.5, contextLimit: 65_536 },
    { prefix: "gpt-4.1-mini", price: 5.0, contextLimit: 65_536 },
    { prefix: "gpt-4.1", price: 25.0, contextLimit: 65_536 },
    { prefix: "gpt-4o-mini", price: 3.0, contextLimit: 65_536 },
    { prefix: "gpt-4o", price: 25.0, contextLimit: 65_536 },
    { prefix: "gpt-3.5-turbo", price: 8.0, contextLimit: 16_385 },
    { prefix: "davinci-002", price: 6.0, contextLimit: 16_384 },
    { prefix: "babbage-002", price: 0.4, contextLimit: 16_384 },
  ],
} as const;

/** The documented default epoch rule's constants (OpenAI cookbook, "Data preparation and analysis for chat model fine-tuning"). */
const TARGET_EPOCHS = 3;
const MIN_TARGET_EXAMPLES = 100;
const MAX_TARGET_EXAMPLES = 25_000;
const MIN_DEFAULT_EPOCHS = 1;
const MAX_DEFAULT_EPOCHS = 25;

/**
 * Epochs OpenAI picks by default for `examples` training examples: 3, raised so that examples × epochs reaches 100,
 * lowered so that it stays under 25,000, and kept between 1 and 25.
 * @example defaultEpochs(10); // 10 (100 example-epochs); defaultEpochs(20_000); // 1
 */
export function defaultEpochs(examples: number): number {
  if (examples <= 0) return TARGET_EPOCHS;
  if (examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES)
    return Math.min(MAX_DEFAULT_EPOCHS, Math.floor(MIN_TARGET_EXAMPLES / examples));
  if (examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES)
    return Math.max(MIN_DEFAULT_EPOCHS, Math.floor(MAX_TARGET_EXAMPLES / examples));
  return TARGET_EPOCHS;
}

export interface CostOptions {
  /** OpenAI model (`gpt-4o-mini`, a dated snapshot or `ft:` name): picks the price and context limit. */
  readonly model?: string;
  /** USD per 1M training tokens; overrides the table. */
  readonly price?: number;
  /** Training epochs; default: OpenAI's rule (`defaultEpochs`). */
  readonly epochs?: number;
  /** Longest example in tokens; default: the model's, from the table. */
  readonly contextLimit?: number;
}

export interface CostEstimate {
  readonly model?: string;
  readonly examples: number;
  readonly epochs: number;
  readonly epochsFrom: "default rule" | "--epochs";
  readonly contextLimit?: number;
  /** Σ min(context limit, length) over the examples: tokens billed per epoch. */
  readonly tokensPerEpoch: number;
  readonly billedTokens: number;
  readonly pricePerMillion?: number;
  readonly priceFrom?: "table" | "--price";
  readonly priceDate?: string;
  /** USD; absent when no price is known (a model not in the table and no `--price`). */
  readonly cost?: number;
}

/** The table row for a model name (`ft:` names by their base model; dated snapshots by prefix). */
export function priceFor(model: string): (typeof fineTuningPrices.models)[number] | undefined {
  // A name that is not a known model (a typo such as gpt-4o-mni) has no price: by prefix alone it was gpt-4o's.
  if (encodingForModel(model) === undefined) return undefined;
  const name = model.startsWith("ft:") ? (model.split(":")[1] ?? "") : model;
  return fineTuningPrices.models.find((m) => name === m.prefix || name.startsWith(`${m.prefix}-`));
}

/**
 * Estimates what fine-tuning on `lengths` (each kept example's tokens) costs: billed tokens = Σ min(context limit,
 * length) × epochs, times the price per 1M tokens.
 * @example estimateCost([120, 300, 80_000], { model: "gpt-4o-mini" }).cost;
 */
export function estimateCost(lengths: ArrayLike<number>, options: CostOptions = {}): CostEstimate {
  const row = options.model === undefined ? undefined : priceFor(options.model);
  if (options.price !== undefined && !(Number.isFinite(options.price) && options.price >= 0)) {
    throw new CurateError(
      "CURATE_INVALID_OPTION",
      `price must be a number ≥ 0 (USD per 1M tokens), found ${options.price}`,
    );
  }
  if (options.epochs !== undefined && !(Number.isInteger(options.epochs) && options.epochs >= 1)) {
    throw new CurateError("CURATE_INVALID_OPTION", `epochs must be a whole number ≥ 1, found ${options.epochs}`);
  }
  const contextLimit = options.contextLimit ?? row?.contextLimit;
  let tokensPerEpoch = 0;
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i]!;
    tokensPerEpoch += contextLimit === undefined ? n : Math.min(contextLimit, n);
  }
  const epochs = options.epochs ?? defaultEpochs(lengths.length);
  const billedTokens = tokensPerEpoch * epochs;
  const pricePerMillion = options.price ?? row?.price;
  return {
    ...(options.model === undefined ? {} : { model: options.model }),
    examples: lengths.length,
    epochs,
    epochsFrom: options.epochs === undefined ? "default rule" : "--epochs",
    ...(contextLimit === undefined ? {} : { contextLimit }),
    tokensPerEpoch,
    billedTokens,
    ...(pricePerMillion === undefined
      ? {}
      : {
          pricePerMillion,
          priceFrom: options.price === undefined ? "table" : "--price",
          ...(options.price === undefined ? { priceDate: fineTuningPrices.date } : {}),
          cost: (billedTokens / 1e6) * pricePerMillion,
        }),
  } as CostEstimate;
}
