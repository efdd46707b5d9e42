export { DATA_FILE, type ResolvedInput, resolveInputs, STDIN } from "./inputs.js";
export { type DuplicateKey, type ScanResult, scanJson } from "./json-scan.js";
export { DEFAULT_MAX_LINE_BYTES, emptyStats, type ReadSource, readInputs, readStream } from "./read.js";
export { DEFAULT_MAX_DEPTH, MAX_REJECT_TEXT, type ReadRejectCode, type ReadWarningCode } from "./record.js";
export {
  planShards,
  readShard,
  type ShardEntry,
  type ShardPlanOptions,
  type ShardResult,
  type ShardSpec,
  ShardStitcher,
} from "./shards.js";
export { type Compression, detectCompression } from "./source.js";
export type { Container } from "./splitter.js";
export type { InputStats, ReadOptions } from "./types.js";
