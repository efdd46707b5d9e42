import { DEFAULT_NGRAM, DEFAULT_NUM_PERM, DEFAULT_SHINGLE, DEFAULT_THRESHOLD } from "@curate/dedup";
import { DEFAULT_MAX_LINE_BYTES } from "@curate/read";
import { DEFAULT_RATIOS, split } from "@curate/split";
import { describe, expect, it } from "vitest";
import { parseRunConfig, runConfigSchema } from "./config.js";
import { runOptions } from "./options.js";
import { planStages } from "./plan.js";

/** The keys the schema accepts in `section` (the top level for "top"). */
function schemaKeys(section: string): string[] {
  const shape = runConfigSchema.shape as Record<string, unknown>;
  if (section === "top") return Object.keys(shape);
  // Sections are `false | object` unions (decontaminate is the object alone), all optional.
  const inner = (shape[section] as { unwrap(): unknown }).unwrap() as {
    options?: { shape?: Record<string, unknown> }[];
    shape?: Record<string, unknown>;
  };
  const object = inner.shape ?? inner.options?.find((o) => o.shape)?.shape ?? {};
  return Object.keys(object);
}

describe("the option table", () => {
  it("has one flag and one name per option, and every config key it names is in the schema", () => {
    const flags = runOptions.map((o) => o.flag.replace(/^-\w, /, "").split(" ")[0]);
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(runOptions.map((o) => o.name)).size).toBe(runOptions.length);
    for (const spec of runOptions) {
      if (spec.key !== undefined) expect(schemaKeys(spec.section), spec.name).toContain(spec.key);
    }
  });

  it("shows the defaults the stages apply", () => {
    const byName = Object.fromEntries(runOptions.map((o) => [o.name, o.default]));
    expect(byName).toMatchObject({
      threshold: DEFAULT_THRESHOLD,
      shingle: DEFAULT_SHINGLE,
      numPerm: DEFAULT_NUM_PERM,
      ngram: DEFAULT_NGRAM,
      split: DEFAULT_RATIOS,
      maxLineBytes: DEFAULT_MAX_LINE_BYTES,
    });
    // A split stage built without options uses the same ratios.
    expect(split({}).splits).toEqual(
      Object.keys(Object.fromEntries(DEFAULT_RATIOS.split(",").map((p) => p.split("=")))),
    );
  });

  it("generates a schema that refuses unknown keys and wrong values with their paths", () => {
    expect(() => parseRunConfig({ dedup: { treshold: 0.8 } }, "c.json")).toThrow(/dedup: .*treshold/);
    expect(() => parseRunConfig({ dedup: { threshold: 0 } }, "c.json")).toThrow(/dedup\.threshold/);
    expect(() => parseRunConfig({ dedup: { mode: "drop" } }, "c.json")).toThrow(/dedup\.mode/);
    expect(() => parseRunConfig({ tokens: { maxTokens: 10 } }, "c.json")).toThrow(/tokens\.tokenizer/);
    expect(parseRunConfig({ dedup: { near: true, threshold: 0.9, normalize: ["nfkc"] } }, "c.json")).toEqual({
      dedup: { near: true, threshold: 0.9, normalize: ["nfkc"] },
    });
  });

  it("plans the stages a configuration asks for, in pipeline order", async () => {
    const { stages, splitStage } = await planStages(
      parseRunConfig(
        {
          dedup: { near: true },
          decontaminate: { against: ["fixtures/eval/trivia.jsonl"] },
          split: { ratios: "train=0.8,test=0.2" },
          threads: 1,
        },
        "c.json",
      ),
    );
    expect(stages.map((s) => s.name)).toEqual(["validate", "decontaminate", "exactDedup", "nearDedup", "split"]);
    expect(splitStage?.splits).toEqual(["train", "test"]);
    for (const stage of stages) await (stage as { close?: () => Promise<void> }).close?.();
  });
});
