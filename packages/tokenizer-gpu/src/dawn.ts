/// <reference types="@webgpu/types" />

/**
 * One WebGPU device per process, from Dawn (the `webgpu` npm package), loaded only when a GPU is asked for.
 *
 * Dawn's Node binding crashes the process when the object `create()` returned is garbage-collected while a device it
 * made is alive, so one long-lived holder (`opened`, module scope) owns the instance, the adapter and the device.
 */

/** A WebGPU device and what it runs on. */
export interface GpuDevice {
  readonly device: GPUDevice;
  /** The adapter, for people: `llvmpipe (LLVM 15.0.6, 256 bits), OpenGL ES 3.2 Mesa 22.3.6 (opengles)`. */
  readonly adapter: string;
  /** Whether the adapter is a software rasterizer (Mesa llvmpipe / lavapipe, SwiftShader). */
  readonly software: boolean;
  /** Whether shader loops are cut off after 65,535 iterations per invocation (Mesa's gallivm: llvmpipe, lavapipe). */
  readonly loopLimited: boolean;
  readonly limits: { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };
}

interface Held {
  readonly gpu: GPU;
  readonly adapter: GPUAdapter;
  readonly device: GpuDevice;
}

/** Why no device could be had, for `--device auto`'s log line and `--device gpu`'s error. */
export class NoGpuError extends Error {
  override readonly name = "NoGpuError";
}

let opened: Promise<Held> | undefined;
/** The holder, kept reachable for the life of the process (see above). */
let held: Held | undefined;

/** Storage buffers the kernel binds; WebGPU's compatibility mode allows only 4 unless raised. */
const STORAGE_BUFFERS = 7;

function describe(info: GPUAdapterInfo, backend: string): string {
  // Dawn's GL backend puts the renderer (`llvmpipe-llvm-15-0-6-256-bits-`) in `device` and the GL version in
  // `description`; Vulkan puts the GPU's name in `description`.
  const name = [info.device, info.description, info.vendor].find((p) => p !== undefined && p.trim() !== "");
  const detail = [info.description, info.architecture].filter((p) => p && p !== name).join(", ");
  return `${name ?? "unnamed adapter"} (${[detail, backend].filter(Boolean).join(", ")})`;
}

async function tryBackend(
  create: (flags: string[]) => GPU,
  backend: "default" | "opengles",
): Promise<{ gpu: GPU; adapter: GPUAdapter } | string> {
  const gpu = create(backend === "opengles" ? ["backend=opengles"] : []);
  const adapter = await gpu.requestAdapter(
    backend === "opengles" ? ({ featureLevel: "compatibility" } as GPURequestAdapterOptions) : {},
  );
  if (adapter === null) {
    // Keep `gpu` referenced until here: no device was made from it, so it may go now.
    return `no ${backend === "opengles" ? "OpenGL ES" : "Vulkan/Metal/D3D12"} adapter`;
  }
  return { gpu, adapter };
}

/**
 * Opens the process's WebGPU device (once; later calls share it): a hardware adapter through Dawn's default backend
 * (Vulkan, Metal, D3D12) if there is one, else Dawn's OpenGL ES backend, which runs on Mesa's llvmpipe on a machine
 * without a GPU. Sets what Dawn needs for that (`EGL_PLATFORM=surfaceless`) itself. Throws `NoGpuError` when the
 * `webgpu` package is missing or no adapter is found.
 * @example const { device, adapter } = await openGpu(); console.error(`gpu: ${adapter}`);
 */
export function openGpu(): Promise<GpuDevice> {
  opened ??= (async () => {
    // No display: EGL must not look for X11 or Wayland (Mesa otherwise fails, or finds nothing, on a headless box).
    process.env.EGL_PLATFORM ??= "surfaceless";
    let create: (flags: string[]) => GPU;
    try {
      ({ create } = (await import("webgpu")) as unknown as { create: (flags: string[]) => GPU });
    } catch (cause) {
      throw new NoGpuError(
        "the WebGPU backend needs the npm package webgpu (Dawn), which did not load: npm install webgpu@0.6.2" +
          ` (${cause instanceof Error ? cause.message.split("\n")[0] : String(cause)})`,
        { cause },
      );
    }
    const reasons: string[] = [];
    const forced = process.env.CURATE_WEBGPU_BACKEND;
    const order: ("default" | "opengles")[] =
      forced === "opengles" ? ["opengles"] : forced === "default" ? ["default"] : ["default", "opengles"];
    for (const backend of order) {
      const found = await tryBackend(create, backend).catch((error: unknown) => String(error));
      if (typeof found === "string") {
        reasons.push(found);
        continue;
      }
      const { gpu, adapter } = found;
      const limits = adapter.limits;
      const device = await adapter.requestDevice({
        requiredLimits: {
          maxStorageBuffersPerShaderStage: Math.min(limits.maxStorageBuffersPerShaderStage, 8),
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
          maxComputeWorkgroupSizeX: Math.min(limits.maxComputeWorkgroupSizeX, 256),
          maxComputeInvocationsPerWorkgroup: Math.min(limits.maxComputeInvocationsPerWorkgroup, 256),
        },
      });
      if (device.limits.maxStorageBuffersPerShaderStage < STORAGE_BUFFERS) {
        device.destroy();
        reasons.push(
          `${describe(adapter.info, backend)} allows only ${limits.maxStorageBuffersPerShaderStage} storage buffers`,
        );
        continue;
      }
      const info = adapter.info;
      const name = describe(info, backend === "default" ? "webgpu" : "opengles");
      const identity = `${info.description} ${info.device} ${info.vendor} ${info.architecture}`;
      const software = /llvmpipe|lavapipe|swiftshader|softpipe/i.test(identity);
      const loopLimited = /llvmpipe|lavapipe|mesa/i.test(identity) && software;
      held = {
        gpu,
        adapter,
        device: {
          device,
          adapter: name,
          software,
          loopLimited,
          limits: {
            maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
            maxBufferSize: device.limits.maxBufferSize,
          },
        },
      };
      return held;
    }
    throw new NoGpuError(`no WebGPU adapter: ${reasons.join("; ")}`);
  })();
  return opened.then((h) => h.device);
}

/**
 * Releases the device. The instance stays referenced: Dawn tears it down at exit.
 * @example await closeGpu();
 */
export async function closeGpu(): Promise<void> {
  const current = opened;
  opened = undefined;
  const h = current ? await current.catch(() => undefined) : undefined;
  h?.device.device.destroy();
}

/** @internal The holder, so nothing can collect it while a device lives. */
export function heldInstance(): unknown {
  return held?.gpu;
}
