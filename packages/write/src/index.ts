export * from "./atomic.js";
export * from "./jsonl.js";
