// The tokenizer side, for callers that depend on this package only (the CLI).
export {
  closeSharedPool,
  closestOpenAiModels,
  describeSpec,
  encodingForModel,
  openTokenizer,
  resolveTokenizer,
  type TokenizerInfo,
  type TokenizerSpec,
} from "@curate/tokenizer-worker";
export * from "./cost.js";
export * from "./render.js";
export * from "./shapes.js";
export * from "./stage.js";
export * from "./stats.js";
