export { createProgram, main } from "./main.js";
export { reportError, version } from "./process.js";
