export * from "./clusters.js";
export * from "./errors.js";
export * from "./path.js";
export * from "./runner.js";
export * from "./types.js";
