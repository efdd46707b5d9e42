export * from "./convert.js";
export * from "./issues.js";
export * from "./json-schema.js";
export * from "./registry.js";
export * from "./schemas.js";
export * from "./stage.js";
export * from "./text.js";
export * from "./user-schema.js";
