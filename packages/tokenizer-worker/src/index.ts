export type { Backend, BackendOptions } from "./backend.js";
export { loadBackend } from "./backend.js";
// For other backends of the same tokenizers (the WebGPU one): the rank tables and the scanners' character classes.
export { codePointClass } from "./engine/pretokenize.js";
export type { TiktokenData } from "./engine/tiktoken-data.js";
export { loadTiktokenData } from "./engine/tiktoken-data.js";
export {
  closestOpenAiModels,
  contentText,
  encodingForModel,
  openAiChatCount,
  openAiEncodings,
  toolCalls,
} from "./openai.js";
export type { PoolOptions } from "./pool.js";
export { closeSharedPool, openTokenizer, sharedPool, TokenizerPool } from "./pool.js";
export type { PackedChats, PackedCounts } from "./protocol.js";
export { packChats, packCounts, unpackChats, unpackCounts } from "./protocol.js";
export type { ResolveOptions } from "./resolve.js";
export { describeSpec, namedTokenizers, resolveTokenizer } from "./resolve.js";
export type * from "./types.js";
