export type { Backend, BackendOptions } from "./backend.js";
export { loadBackend } from "./backend.js";
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
