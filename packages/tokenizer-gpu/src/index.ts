import { CurateError } from "@curate/core";
import { openTokenizer, type PoolOptions, type Tokenizer, type TokenizerSpec } from "@curate/tokenizer-worker";
import { NoGpuError, openGpu } from "./dawn.js";
import { GpuTokenizer, gpuSupports } from "./gpu-tokenizer.js";

export { closeGpu, type GpuDevice, NoGpuError, openGpu } from "./dawn.js";
export { GpuTokenizer, type GpuTokenizerOptions, gpuSupports } from "./gpu-tokenizer.js";

/** Where tokens are counted: `cpu` (the worker pool), `gpu` (WebGPU; an error without an adapter), `auto`. */
export type Device = "cpu" | "gpu" | "auto";

export const devices: readonly Device[] = ["cpu", "gpu", "auto"];

/** A tokenizer on the device it could have, and one line saying which and why, for the log. */
export interface DeviceTokenizer {
  readonly tokenizer: Tokenizer;
  readonly device: "cpu" | "gpu";
  /** `device: gpu, llvmpipe (…) (opengles)` or `device: cpu (no WebGPU adapter: …)`. */
  readonly note: string;
}

/**
 * Opens `spec` on the device asked for. `gpu` and `auto` use the WebGPU kernel for the encodings it implements
 * (o200k_base, cl100k_base, fast engine); other tokenizers stay on the CPU pool and the note says so. Without an
 * adapter (or without the `webgpu` package), `auto` falls back to the CPU and `gpu` throws a usage error (exit 2).
 * @example const { tokenizer, note } = await openDeviceTokenizer(resolveTokenizer("gpt-4o"), { device: "auto" });
 */
export async function openDeviceTokenizer(
  spec: TokenizerSpec,
  options: { readonly device: Device } & PoolOptions,
): Promise<DeviceTokenizer> {
  const { device, ...pool } = options;
  const cpu = (why: string): DeviceTokenizer => ({
    tokenizer: openTokenizer(spec, pool),
    device: "cpu",
    note: `device: cpu${why ? ` (${why})` : ""}`,
  });
  if (device === "cpu") return cpu("");
  if (spec.kind !== "openai" || !gpuSupports(spec.encoding)) {
    const name = spec.kind === "openai" ? spec.encoding : spec.name;
    return cpu(`${name} stays on the CPU: the GPU kernel implements o200k_base and cl100k_base`);
  }
  if (spec.engine === "reference") return cpu("--engine reference runs the tiktoken package on the CPU");
  let gpu: Awaited<ReturnType<typeof openGpu>>;
  try {
    gpu = await openGpu();
  } catch (error) {
    if (!(error instanceof NoGpuError)) throw error;
    if (device === "auto") return cpu(error.message);
    throw new CurateError(
      "CURATE_NO_GPU",
      `--device gpu: ${error.message}; use --device auto or cpu to count on the CPU`,
      {
        exitCode: 2,
        cause: error,
      },
    );
  }
  const tokenizer = new GpuTokenizer(gpu, {
    encoding: spec.encoding,
    ...(spec.model === undefined ? {} : { model: spec.model }),
    cpuFallback: openTokenizer(spec, pool),
  });
  return { tokenizer, device: "gpu", note: `device: gpu, ${gpu.adapter}${gpu.software ? " (a software GPU)" : ""}` };
}
