export * from "./clusters.js";
export * from "./errors.js";
export * from "./ngram-text.js";
export * from "./order-stats.js";
export * from "./path.js";
export * from "./runner.js";
export * from "./temp.js";
export * from "./types.js";
