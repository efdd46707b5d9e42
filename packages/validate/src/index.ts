export * from "./checks.js";
export * from "./diagnostics.js";
export * from "./hints.js";
export * from "./rules.js";
export * from "./validate.js";
