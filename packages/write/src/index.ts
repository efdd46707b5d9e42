export * from "./atomic.js";
export * from "./dataset.js";
export * from "./html.js";
export * from "./jsonl.js";
export * from "./manifest.js";
export * from "./ordered.js";
export * from "./stats.js";
export * from "./summary.js";
