/**
 * A run configuration (`curate run`'s flags or config file) turned into a plan: the stages, in pipeline order.
 * Stage packages load here, lazily, so that a command loads only the stages it runs.
 */

import type { Stage } from "@curate/core";
import { UsageError } from "@curate/core";
import type { SplitStage } from "@curate/split";
import { DEFAULT_SEED } from "@curate/split/defaults";
import type { RunConfig } from "./config.js";

/** The stages of a run, and its split stage (its split names are the dataset's files). */
export interface Plan {
  readonly stages: Stage[];
  readonly splitStage: SplitStage | undefined;
}

/** What a plan's stages may tell the caller while they run (the CLI logs it on stderr). */
export interface PlanHooks {
  /** A line for the person running it: `--tokenizer-service auto` counting in-process because no service runs. */
  readonly notice?: (message: string) => void;
  /** Which device counts tokens, and why (`device: gpu, <adapter>`). */
  readonly onDevice?: (note: string) => void;
}

/**
 * The stages a configuration asks for, in pipeline order: validate → decontaminate → exact → near dedup → tokens →
 * convert → split. Options are checked by each stage's factory before any data flows.
 * @example const { stages } = await planStages({ dedup: { near: true }, split: { ratios: "train=0.9,test=0.1" } });
 */
export async function planStages(config: RunConfig, hooks: PlanHooks = {}): Promise<Plan> {
  const stages: Stage[] = [];
  if (config.validate !== false) {
    const { validate } = await import("@curate/validate");
    const v = config.validate ?? {};
    let schema: Awaited<ReturnType<typeof import("@curate/formats").loadUserSchema>> | undefined;
    if (v.schema !== undefined) schema = await (await import("@curate/formats")).loadUserSchema(v.schema);
    stages.push(
      validate({
        ...(v.format !== undefined ? { format: v.format as never } : {}),
        ...(schema ? { schema } : {}),
        ...(v.rules ? { rules: v.rules } : {}),
        strict: v.strict ?? false,
      }),
    );
  }
  if (config.decontaminate || config.dedup !== false) {
    const { decontaminate, exactDedup, nearDedup, parseKey } = await import("@curate/dedup");
    if (config.decontaminate) {
      const d = config.decontaminate;
      stages.push(decontaminate({ against: d.against, ...(d.n ? { n: d.n } : {}), mode: d.mode ?? "remove" }));
    }
    if (config.dedup !== false) {
      const d = config.dedup ?? {};
      const key = parseKey(d.key);
      const mode = d.mode ?? "remove";
      if (d.exact !== false)
        stages.push(exactDedup({ key, mode, normalize: (d.normalize ?? ["nfkc", "whitespace"]).join(",") }));
      if (d.near) {
        stages.push(
          nearDedup({
            key,
            mode,
            ...(d.threshold !== undefined ? { threshold: d.threshold } : {}),
            ...(d.shingle !== undefined ? { shingle: d.shingle } : {}),
            ...(d.numPerm !== undefined ? { numPerm: d.numPerm } : {}),
            ...(d.verify !== undefined ? { verify: d.verify } : {}),
            ...(config.threads !== undefined ? { threads: config.threads } : {}),
          }),
        );
      }
    }
  }
  if (config.tokens) {
    const { countTokens } = await import("@curate/tokens");
    const t = config.tokens;
    stages.push(
      countTokens({
        tokenizer: t.tokenizer,
        ...(t.maxTokens !== undefined ? { maxTokens: t.maxTokens } : {}),
        ...(t.minTokens !== undefined ? { minTokens: t.minTokens } : {}),
        ...(t.onOverflow !== undefined ? { onOverflow: t.onOverflow } : {}),
        ...(t.device !== undefined ? { device: t.device } : {}),
        ...(hooks.onDevice !== undefined ? { onDevice: hooks.onDevice } : {}),
        ...(config.threads !== undefined ? { threads: config.threads } : {}),
        ...(t.service !== undefined ? { service: t.service } : {}),
        ...(hooks.notice ? { onNotice: hooks.notice } : {}),
      }),
    );
  }
  if (config.to !== undefined) {
    const { convertTo, isFormatName, formatNames } = await import("@curate/formats");
    if (!isFormatName(config.to))
      throw new UsageError(`--to must be one of ${formatNames.join(", ")}, found "${config.to}"`);
    stages.push(convertTo({ to: config.to, ...(config.extra !== undefined ? { extra: config.extra } : {}) }));
  }
  let splitStage: SplitStage | undefined;
  if (config.split !== false) {
    const { split, parseRatios } = await import("@curate/split");
    const s = config.split ?? {};
    splitStage = split({
      ...(s.sizes ? { sizes: s.sizes } : {}),
      ...(s.ratios !== undefined ? { ratios: typeof s.ratios === "string" ? parseRatios(s.ratios) : s.ratios } : {}),
      seed: config.seed ?? DEFAULT_SEED,
      ...(s.key !== undefined ? { key: s.key } : {}),
      ...(s.stratifyBy !== undefined ? { stratifyBy: s.stratifyBy } : {}),
      ...(s.groupBy !== undefined ? { groupBy: s.groupBy } : {}),
      ...(s.leakage !== undefined ? { leakage: s.leakage } : {}),
    });
    stages.push(splitStage);
  }
  return { stages, splitStage };
}
