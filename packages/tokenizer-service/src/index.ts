export { connectTokenizerService, SERVICE_UNAVAILABLE, TokenizerServiceClient } from "./client.js";
export type { ComputeDevice, DeviceChoice, DeviceFactory } from "./device.js";
export { cpuDevice, openDevice, registerDevice } from "./device.js";
export type { ServiceTokenizerOptions } from "./open.js";
export { openServiceTokenizer } from "./open.js";
export type { ServeOptions, ServiceStatus, TokenizerService } from "./server.js";
export { serveTokenizers } from "./server.js";
export { defaultSocketPath, socketPath } from "./socket-path.js";
