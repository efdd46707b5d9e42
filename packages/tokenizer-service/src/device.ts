import { UsageError } from "@curate/core";
import { type Tokenizer, TokenizerPool, type TokenizerSpec } from "@curate/tokenizer-worker";

/** What `--device` accepts: `auto` picks a GPU backend when one is registered and opens, else the CPU. */
export type DeviceChoice = "cpu" | "gpu" | "auto";

/**
 * The service's compute backend: it does the tokenizing, the service only schedules batches onto it. The CPU device
 * is the worker-thread pool; a GPU backend (WebGPU) implements the same four members and registers itself with
 * `registerDevice("gpu", factory)`. Results must be what the CPU pool gives, record for record.
 * @example const device = await openDevice("cpu", { threads: 2 }); await device.tokenizer(spec).count(["hi"]);
 */
export interface ComputeDevice {
  /** What the log and `curate tokenizer status` show: `cpu`, `gpu (webgpu, <adapter>)`. */
  readonly name: string;
  /**
   * Batches the service keeps in flight on this device at once. The CPU pool: 4 per thread, as many as the tokens stage
   * keeps in flight per thread of an in-process pool (a worker must not idle while the service's main thread is
   * descheduled on a busy machine); a small client waits behind at most these.
   */
  readonly capacity: number;
  /** A handle on one tokenizer; the device loads it on first use and keeps it. */
  tokenizer(spec: TokenizerSpec): Tokenizer;
  /** Releases threads, GPU buffers. */
  close(): Promise<void>;
}

/** Opens a device; throw a `UsageError` when it cannot run here (no adapter), so `auto` can fall back to the CPU. */
export type DeviceFactory = (options: { readonly threads: number }) => Promise<ComputeDevice>;

const factories = new Map<"cpu" | "gpu", DeviceFactory>([["cpu", cpuDevice]]);

/**
 * The worker-thread pool as a device: the same pool `curate tokens` runs in-process, so results are identical.
 * @example const cpu = await cpuDevice({ threads: 4 });
 */
export async function cpuDevice(options: { readonly threads: number }): Promise<ComputeDevice> {
  // `workers: true`: a service with one thread still tokenizes off its event loop, so it keeps answering small
  // clients and status requests while a big batch runs.
  const pool = new TokenizerPool({ threads: options.threads, workers: true });
  return {
    name: "cpu",
    capacity: pool.threads * 4,
    tokenizer: (spec) => pool.tokenizer(spec),
    close: () => pool.close(),
  };
}

/**
 * Plugs a GPU backend in behind `--device gpu` (and `auto`).
 * @example registerDevice("gpu", async ({ threads }) => openWebGpuDevice({ threads }));
 */
export function registerDevice(kind: "gpu", factory: DeviceFactory): void {
  factories.set(kind, factory);
}

/**
 * Opens the device `choice` names. `gpu` without a registered GPU backend is a usage error; `auto` is the GPU when one
 * is registered and opens, the CPU otherwise.
 * @example const device = await openDevice("auto", { threads: 2 }); device.name; // "cpu"
 */
export async function openDevice(choice: DeviceChoice, options: { readonly threads: number }): Promise<ComputeDevice> {
  if (choice !== "cpu" && choice !== "gpu" && choice !== "auto") {
    throw new UsageError(`--device must be cpu, gpu or auto, found "${String(choice)}"`);
  }
  const gpu = factories.get("gpu");
  if (choice === "gpu") {
    if (gpu === undefined) {
      throw new UsageError("--device gpu: no GPU backend built in to this curate; use --device cpu (or auto)");
    }
    return gpu(options);
  }
  if (choice === "auto" && gpu !== undefined) {
    try {
      return await gpu(options);
    } catch {
      // No usable adapter here: the CPU serves, and the log names the device it chose.
    }
  }
  return cpuDevice(options);
}
