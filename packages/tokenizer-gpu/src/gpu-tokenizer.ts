/// <reference types="@webgpu/types" />
import {
  type ChatCount,
  type ChatInput,
  loadTiktokenData,
  type OpenAiEncoding,
  openAiChatCount,
  type Tokenizer,
  type TokenizerInfo,
} from "@curate/tokenizer-worker";
import type { GpuDevice } from "./dawn.js";
import {
  bindings,
  DOC_WORDS,
  HARDWARE_LOOP_BUDGET,
  kernelSource,
  RUNNING,
  SOFTWARE_LOOP_BUDGET,
  STATE_WORDS,
  STUCK,
  WORK_WORDS,
} from "./kernel.js";
import { buildClassTable, buildVocabTable, type VocabTable } from "./tables.js";

// WebGPU's usage and map-mode flags (the spec's values). dawn.node exposes them only as `globals`, which curate does not
// copy onto globalThis.
const Usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, STORAGE: 0x80 } as const;
const MAP_READ = 0x1;

/** The encodings the kernel implements: their pre-tokenizer is one of its two scanners. */
const patterns: Partial<Record<OpenAiEncoding, "o200k" | "cl100k">> = { o200k_base: "o200k", cl100k_base: "cl100k" };

const vocabSizes: Partial<Record<OpenAiEncoding, number>> = { o200k_base: 200019, cl100k_base: 100277 };

/**
 * Whether the GPU kernel implements an OpenAI encoding (o200k_base and cl100k_base: the pre-tokenizers of the fast
 * engine it ports).
 * @example gpuSupports("o200k_base"); // true
 */
export function gpuSupports(encoding: OpenAiEncoding): boolean {
  return patterns[encoding] !== undefined;
}

export interface GpuTokenizerOptions {
  readonly encoding: OpenAiEncoding;
  /** The model name the user gave, for the chat accounting (`gpt-4o-mini`). */
  readonly model?: string;
  /**
   * Largest batch, in UTF-8 bytes, per dispatch (default: what the device's buffer limits allow, at most 4 MiB).
   * The kernel's scratch memory is 20 bytes per input byte.
   */
  readonly maxBatchBytes?: number;
  /** Counts one text on the CPU: for a single text larger than a dispatch can hold. */
  readonly cpuFallback: Tokenizer;
}

interface Loaded {
  readonly pipeline: GPUComputePipeline;
  readonly classes: GPUBuffer;
  readonly vocab: GPUBuffer;
  readonly table: VocabTable;
}

/** One batch packed for the kernel. */
interface Packed {
  /** UTF-16 code units, two to a word; every document starts on a word. */
  readonly text: Uint32Array;
  readonly docs: Uint32Array;
  readonly bytes: number;
}

/** Packs documents: their UTF-16 code units (a native copy per string) and where each starts and how many bytes. */
function pack(texts: readonly string[]): Packed {
  let units = 0;
  let bytes = 0;
  const docs = new Uint32Array(texts.length * DOC_WORDS);
  for (let d = 0; d < texts.length; d++) {
    const t = texts[d]!;
    docs[d * DOC_WORDS] = units;
    docs[d * DOC_WORDS + 1] = units + t.length;
    docs[d * DOC_WORDS + 2] = bytes;
    // Buffer.byteLength counts a lone surrogate as the 3 bytes of U+FFFD, which is what the kernel encodes it as.
    const n = Buffer.byteLength(t, "utf8");
    docs[d * DOC_WORDS + 3] = n;
    bytes += n;
    units += t.length + (t.length & 1);
  }
  const text = new Uint32Array(Math.max(1, units / 2));
  const view = Buffer.from(text.buffer);
  for (let d = 0; d < texts.length; d++) view.write(texts[d]!, docs[d * DOC_WORDS]! * 2, "utf16le");
  return { text, docs, bytes };
}

/**
 * A `Tokenizer` that counts and encodes on a WebGPU device: pre-tokenization, whole-piece vocabulary lookup and BPE
 * merges all run in one dispatch over a batch of documents. Ids are tiktoken's, id for id (golden-tested against the
 * `tiktoken` package on Mesa's llvmpipe). Chats are counted with the CPU engine's accounting code
 * (`openAiChatCount`), their texts counted on the GPU in one batch; `decode` runs on the CPU.
 * @example const tok = await openGpuTokenizer({ encoding: "o200k_base", cpuFallback }); await tok.count(["hi"]);
 */
export class GpuTokenizer implements Tokenizer {
  private loaded: Loaded | undefined;
  private readonly maxBatchBytes: number;
  private readonly workgroup: number;
  /** Documents finished on the CPU from a piece the kernel's loop budget could not hold (llvmpipe only). */
  cpuTails = 0;

  constructor(
    private readonly gpu: GpuDevice,
    private readonly options: GpuTokenizerOptions,
  ) {
    this.workgroup = gpu.loopLimited ? 1 : 64;
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    this.maxBatchBytes = Math.max(
      1024,
      Math.min(options.maxBatchBytes ?? 4 * 1024 * 1024, Math.floor(limit / (WORK_WORDS * 4)) - 16),
    );
  }

  /** The adapter this tokenizer runs on. */
  get adapter(): string {
    return this.gpu.adapter;
  }

  private load(): Loaded {
    if (this.loaded) return this.loaded;
    const pattern = patterns[this.options.encoding];
    if (pattern === undefined) throw new Error(`the GPU kernel has no pre-tokenizer for ${this.options.encoding}`);
    const { device } = this.gpu;
    const classTable = buildClassTable();
    const table = buildVocabTable(loadTiktokenData(this.options.encoding));
    const module = device.createShaderModule({
      code: kernelSource({
        pattern,
        classBytesBase: classTable.bytesBase,
        vocabMask: table.mask,
        vocabEntriesBase: table.entriesBase,
        vocabBlobBase: table.blobBase,
        workgroup: this.workgroup,
      }),
    });
    const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
    this.loaded = {
      pipeline,
      classes: this.upload(classTable.words, Usage.STORAGE),
      vocab: this.upload(table.words, Usage.STORAGE),
      table,
    };
    return this.loaded;
  }

  private upload(data: Uint32Array, usage: number): GPUBuffer {
    const buffer = this.gpu.device.createBuffer({
      size: Math.max(16, data.byteLength + 3) & ~3,
      usage: usage | Usage.COPY_DST,
      mappedAtCreation: true,
    });
    new Uint32Array(buffer.getMappedRange()).set(data);
    buffer.unmap();
    return buffer;
  }

  async info(): Promise<TokenizerInfo> {
    this.load();
    return {
      name: this.options.encoding,
      kind: "openai",
      engine: "fast",
      ...(this.options.model === undefined ? {} : { model: this.options.model }),
      vocabSize: vocabSizes[this.options.encoding] ?? 0,
      chatAccounting: "openai-estimate",
      specialTokensInText: "ordinary",
      sequenceOverhead: 0,
    };
  }

  /**
   * Runs the kernel over `texts` until every document is done (one dispatch on a hardware GPU; on llvmpipe as many
   * as its loop limit needs, see `SOFTWARE_LOOP_BUDGET`); ids too when `withIds`. A document the kernel could not
   * finish (a piece beyond one dispatch's loop budget: a very long word on llvmpipe) is finished by the CPU
   * tokenizer from the piece where it stopped: pre-tokenization restarts cleanly at a piece boundary, as the
   * tokenizers' regexes have no look-behind.
   */
  private async dispatch(
    texts: readonly string[],
    withIds: boolean,
  ): Promise<{ counts: Uint32Array; ids?: Uint32Array[] }> {
    const { pipeline, classes, vocab } = this.load();
    const { device } = this.gpu;
    const packed = pack(texts);
    const total = Math.max(1, packed.bytes);
    const initial = new Uint32Array(texts.length * STATE_WORDS);
    for (let d = 0; d < texts.length; d++) {
      initial[d * STATE_WORDS] = packed.docs[d * DOC_WORDS]!;
      initial[d * STATE_WORDS + 1] = packed.docs[d * DOC_WORDS + 2]!;
      initial[d * STATE_WORDS + 4] = this.gpu.loopLimited ? SOFTWARE_LOOP_BUDGET : HARDWARE_LOOP_BUDGET;
    }
    const text = this.upload(packed.text, Usage.STORAGE);
    const docs = this.upload(packed.docs, Usage.STORAGE);
    const state = this.upload(initial, Usage.STORAGE | Usage.COPY_SRC);
    const work = device.createBuffer({ size: total * WORK_WORDS * 4, usage: Usage.STORAGE });
    const ids = device.createBuffer({ size: total * 4, usage: Usage.STORAGE | Usage.COPY_SRC });
    const buffers: Record<(typeof bindings)[number], GPUBuffer> = { classes, vocab, text, docs, work, ids, state };
    const group = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((name, binding) => ({ binding, resource: { buffer: buffers[name] } })),
    });
    const readState = device.createBuffer({ size: initial.byteLength, usage: Usage.MAP_READ | Usage.COPY_DST });
    const readIds = withIds
      ? device.createBuffer({ size: total * 4, usage: Usage.MAP_READ | Usage.COPY_DST })
      : undefined;
    const workgroups = Math.ceil(texts.length / this.workgroup);
    try {
      let status: Uint32Array;
      while (true) {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        // Dispatches are limited to 65,535 workgroups per dimension: spread them over y.
        pass.dispatchWorkgroups(Math.min(workgroups, 65535), Math.ceil(workgroups / 65535));
        pass.end();
        encoder.copyBufferToBuffer(state, 0, readState, 0, initial.byteLength);
        device.queue.submit([encoder.finish()]);
        await readState.mapAsync(MAP_READ);
        status = new Uint32Array(readState.getMappedRange()).slice();
        readState.unmap();
        let running = false;
        for (let d = 0; d < texts.length && !running; d++) running = status[d * STATE_WORDS + 3] === RUNNING;
        if (!running) break;
      }
      const counts = new Uint32Array(texts.length);
      for (let d = 0; d < texts.length; d++) counts[d] = status[d * STATE_WORDS + 2]!;
      let all: Uint32Array | undefined;
      if (readIds) {
        const encoder = device.createCommandEncoder();
        encoder.copyBufferToBuffer(ids, 0, readIds, 0, total * 4);
        device.queue.submit([encoder.finish()]);
        await readIds.mapAsync(MAP_READ);
        all = new Uint32Array(readIds.getMappedRange());
      }
      const out: Uint32Array[] = [];
      for (let d = 0; d < texts.length; d++) {
        const base = packed.docs[d * DOC_WORDS + 2]!;
        let own = all?.slice(base, base + counts[d]!);
        if (status[d * STATE_WORDS + 3] === STUCK) {
          const rest = texts[d]!.slice(status[d * STATE_WORDS]! - packed.docs[d * DOC_WORDS]!);
          if (own) {
            const [tail] = await this.options.cpuFallback.encode([rest]);
            const joined = new Uint32Array(own.length + tail!.length);
            joined.set(own);
            joined.set(tail!, own.length);
            own = joined;
          }
          counts[d] = counts[d]! + (own ? own.length - counts[d]! : (await this.options.cpuFallback.count([rest]))[0]!);
          this.cpuTails++;
        }
        if (own) out.push(own);
      }
      return readIds ? { counts, ids: out } : { counts };
    } finally {
      for (const b of [text, docs, state, work, ids, readState, readIds]) b?.destroy();
    }
  }

  /**
   * Splits `texts` into dispatches of at most `maxBatchBytes` and runs them in order; a text too large for any
   * dispatch goes to the CPU tokenizer. Results in input order.
   */
  private async run(texts: readonly string[], withIds: boolean): Promise<{ counts: Uint32Array; ids: Uint32Array[] }> {
    const counts = new Uint32Array(texts.length);
    const ids: Uint32Array[] = withIds ? new Array(texts.length) : [];
    if (texts.length === 0) return { counts, ids };
    let start = 0;
    while (start < texts.length) {
      let bytes = 0;
      let end = start;
      // A UTF-16 unit is at most 3 UTF-8 bytes: a cheap bound, exact enough to size dispatches.
      while (end < texts.length && (end === start || bytes + texts[end]!.length * 3 <= this.maxBatchBytes)) {
        bytes += texts[end]!.length * 3;
        end++;
      }
      const batch = texts.slice(start, end);
      if (batch.length === 1 && Buffer.byteLength(batch[0]!, "utf8") > this.maxBatchBytes) {
        const cpu = this.options.cpuFallback;
        if (withIds) ids[start] = (await cpu.encode(batch))[0]!;
        counts[start] = withIds ? ids[start]!.length : (await cpu.count(batch))[0]!;
      } else {
        const result = await this.dispatch(batch, withIds);
        counts.set(result.counts, start);
        if (withIds) for (let i = 0; i < batch.length; i++) ids[start + i] = result.ids![i]!;
      }
      start = end;
    }
    return { counts, ids };
  }

  async count(texts: readonly string[]): Promise<Uint32Array> {
    return (await this.run(texts, false)).counts;
  }

  async encode(texts: readonly string[]): Promise<Uint32Array[]> {
    return (await this.run(texts, true)).ids;
  }

  async decode(ids: readonly Uint32Array[]): Promise<string[]> {
    const { tokens } = this.load().table;
    const decoder = new TextDecoder();
    return ids.map((list) => {
      const parts: Uint8Array[] = [];
      for (const id of list) {
        const bytes = tokens[id];
        if (bytes === undefined) throw new RangeError(`unknown token id ${id}`);
        parts.push(bytes);
      }
      return decoder.decode(Buffer.concat(parts));
    });
  }

  /**
   * OpenAI's chat accounting, the CPU engine's code (`openAiChatCount`), with every text it counts counted on the GPU
   * in one batch: a first pass records the texts the accounting asks for, a second replays it with their counts.
   */
  async countChats(chats: readonly ChatInput[]): Promise<ChatCount[]> {
    const texts: string[] = [];
    const record = (text: string): number => {
      texts.push(text);
      return 0;
    };
    for (const chat of chats) {
      try {
        openAiChatCount(chat, record, this.options.encoding);
      } catch {
        // The replay below reports it.
      }
    }
    const counts = await this.count(texts);
    let next = 0;
    const replay = (): number => counts[next++]!;
    return chats.map((chat) => {
      try {
        return openAiChatCount(chat, replay, this.options.encoding);
      } catch (error) {
        return { error: error instanceof Error ? error.message : String(error) };
      }
    });
  }

  async close(): Promise<void> {
    // The device is the process's (see dawn.ts); the tables stay loaded for the next user of this handle.
  }
}
