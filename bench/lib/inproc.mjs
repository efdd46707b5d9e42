#!/usr/bin/env node
/**
 * One in-process benchmark row, run by bench/run.mjs as its own child process so that peak RSS belongs to that row
 * alone: `node bench/lib/inproc.mjs ROW CORPUS_JSON`. Prints one JSON line on stdout: the time of the measured work
 * (module loading excluded, stage construction included), counts, an output digest, and this process's peak RSS.
 * A row whose package is not built, or lacks the export it needs, prints `{ "na": "..." }` and exits 0.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A package or export that is not there yet: the row is reported as n/a, not as a failure. */
class NotBuilt extends Error {}

/** Imports a built package (its `dist/`, through the workspace link) and checks that it has `names`. */
async function need(specifier, ...names) {
  let mod;
  try {
    mod = await import(specifier);
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND" || error?.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") {
      throw new NotBuilt(`${specifier} not built`);
    }
    throw error;
  }
  for (const name of names) {
    if (typeof mod[name] !== "function") throw new NotBuilt(`${specifier} has no export ${name}`);
  }
  return mod;
}

// ---------------------------------------------------------------------------------------------------------------
// Ceilings: what the hardware and V8 allow, with the simplest fast loops.

const CHUNK = 1 << 20;

/** Raw read: every byte of every file into one reused 1 MiB buffer, nothing else. */
function rawRead(files) {
  const buffer = Buffer.allocUnsafe(CHUNK);
  let bytes = 0;
  for (const file of files) {
    const fd = openSync(file, "r");
    try {
      for (;;) {
        const n = readSync(fd, buffer, 0, CHUNK, null);
        if (n === 0) break;
        bytes += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  return { bytes };
}

/**
 * The ceiling for a reader: synchronous 1 MiB reads, a newline scan with indexOf, each line decoded on its own
 * (decoding a whole chunk to one string is 2.5× slower when any character is non-ASCII) and JSON.parse. No source
 * positions, no error details, no async: curate's reader does all of those, so this bounds it from above.
 */
function scanParse(files) {
  let buffer = Buffer.allocUnsafe(CHUNK);
  let records = 0;
  let invalid = 0;
  for (const file of files) {
    const fd = openSync(file, "r");
    let filled = 0;
    try {
      for (;;) {
        if (filled === buffer.length) {
          // One line longer than the buffer: grow it (the scan below never splits a line).
          const bigger = Buffer.allocUnsafe(buffer.length * 2);
          buffer.copy(bigger, 0, 0, filled);
          buffer = bigger;
        }
        const n = readSync(fd, buffer, filled, buffer.length - filled, null);
        const end = filled + n;
        let start = 0;
        for (;;) {
          const nl = buffer.indexOf(10, start);
          if (nl === -1 || nl >= end) break;
          if (nl > start) {
            try {
              JSON.parse(buffer.utf8Slice(start, nl));
              records++;
            } catch {
              invalid++;
            }
          }
          start = nl + 1;
        }
        if (n === 0) {
          if (end > start) {
            try {
              JSON.parse(buffer.utf8Slice(start, end));
              records++;
            } catch {
              invalid++;
            }
          }
          break;
        }
        buffer.copy(buffer, 0, start, end);
        filled = end - start;
      }
    } finally {
      closeSync(fd);
    }
  }
  return { records, invalid };
}

// ---------------------------------------------------------------------------------------------------------------
// Stage rows: read → stage(s) through the core runner, from the built packages.

/** Stage factories per row. Each gets the imported modules and returns the stages to run after the reader. */
const STAGE_ROWS = {
  read: { modules: {}, stages: () => [] },
  "read+validate": {
    modules: { v: ["@curate/validate", "validate"] },
    stages: ({ v }) => [v.validate()],
  },
  "read+exact": {
    modules: { d: ["@curate/dedup", "exactDedup"] },
    stages: ({ d }) => [d.exactDedup()],
  },
  "read+near-1t": {
    modules: { d: ["@curate/dedup", "nearDedup"] },
    stages: ({ d }) => [d.nearDedup({ threads: 1 })],
  },
  "read+near-2t": {
    modules: { d: ["@curate/dedup", "nearDedup"] },
    stages: ({ d }) => [d.nearDedup({ threads: 2 })],
  },
  "read+tokens-o200k-1t": {
    modules: { t: ["@curate/tokens", "countTokens"] },
    stages: ({ t }) => [t.countTokens({ tokenizer: "o200k_base", threads: 1 })],
    after: ({ t }) => t.closeSharedPool?.(),
  },
  "read+tokens-o200k-2t": {
    modules: { t: ["@curate/tokens", "countTokens"] },
    stages: ({ t }) => [t.countTokens({ tokenizer: "o200k_base", threads: 2 })],
    after: ({ t }) => t.closeSharedPool?.(),
  },
  "read+tokens-llama3-1t": {
    modules: { t: ["@curate/tokens", "countTokens"] },
    stages: ({ t }) => [t.countTokens({ tokenizer: "llama3", threads: 1 })],
    after: ({ t }) => t.closeSharedPool?.(),
  },
  "read+tokens-llama3-2t": {
    modules: { t: ["@curate/tokens", "countTokens"] },
    stages: ({ t }) => [t.countTokens({ tokenizer: "llama3", threads: 2 })],
    after: ({ t }) => t.closeSharedPool?.(),
  },
};

/** Folds a number into a 32-bit digest, so two rows (1 vs 2 threads) can show that their outputs are the same. */
function mix(digest, value) {
  return (Math.imul(digest ^ value, 0x9e3779b1) + 0x7f4a7c15) | 0;
}

async function loadModules(spec) {
  const [core, read] = await Promise.all([need("@curate/core", "runPipeline"), need("@curate/read", "readInputs")]);
  const mods = {};
  for (const [key, [specifier, ...names]] of Object.entries(spec)) mods[key] = await need(specifier, ...names);
  return { core, read, mods };
}

function summarize(counts) {
  return counts.map((c) => ({
    name: c.name,
    in: c.in,
    out: c.out,
    rejected: c.rejected,
    duplicates: c.duplicates,
    warnings: c.warnings,
    rejectedByCode: c.rejectedByCode,
    duplicatesByMethod: c.duplicatesByMethod,
    selfMs: Math.round(c.selfMs),
  }));
}

/** Runs read → stages and consumes the kept records, folding sources (and token counts) into a digest. */
async function stageRow(files, row) {
  const { core, read, mods } = await loadModules(row.modules);
  const started = performance.now();
  const stages = row.stages(mods);
  // Two digests, each over its own stream in order: when a stage routes a duplicate relative to the kept records
  // it yields is timing, not output, so the two are not folded together.
  let kept = 0;
  let dups = 0;
  let tokens = 0;
  let currentFile;
  const run = core.runPipeline(read.readInputs(files), stages, {
    onDuplicate(duplicate) {
      dups = mix(mix(dups, duplicate.item.source.line), duplicate.of.source.line);
    },
  });
  for await (const batch of run.batches) {
    for (const item of batch) {
      if (item.source.file !== currentFile) {
        currentFile = item.source.file;
        kept = mix(kept, -1);
      }
      kept = mix(kept, item.source.line);
      const total = item.meta?.tokens?.total;
      if (total !== undefined) {
        kept = mix(kept, total);
        tokens += total;
      }
    }
  }
  const ms = performance.now() - started;
  // Shared pools (the tokenizer workers) outlive a stage by design; closing them is not part of the row's time.
  await row.after?.(mods);
  const digest = `${(kept >>> 0).toString(16).padStart(8, "0")}${(dups >>> 0).toString(16).padStart(8, "0")}`;
  return { ms, counts: summarize(run.counts), digest, ...(tokens > 0 ? { tokens } : {}) };
}

/** Every string value in a record, depth first, in key order (bench/peers/peers.py's `strings_of` is the same walk). */
function stringsOf(value, out) {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (typeof value === "object" && value !== null) for (const v of Object.values(value)) stringsOf(v, out);
}

/** Engine rows: curate's tokenizer engine on what the peer tokenizers count, so their counts must agree exactly. */
const ENGINE_ROWS = {
  "engine:tokens-o200k-2t": { tokenizer: "o200k_base", threads: 2 },
  "engine:tokens-llama3-2t": { tokenizer: "llama3", threads: 2 },
};

/**
 * The match for a peer tokenizer row: readInputs, then every string value of every record through one
 * TokenizerPool with no chat template or message accounting (plain text, no BOS). Timed like the peers: from before
 * the tokenizer loads until the last count, reading and parsing included. The stage rows (read+tokens-*) count
 * chats with their template or OpenAI's per-message tokens, so their totals differ from any plain-text count.
 */
async function engineRow(files, { tokenizer, threads }) {
  const { core, read } = await loadModules({});
  const worker = await need("@curate/tokenizer-worker", "resolveTokenizer", "TokenizerPool");
  const started = performance.now();
  const pool = new worker.TokenizerPool({ threads });
  const counter = pool.tokenizer(worker.resolveTokenizer(tokenizer));
  await counter.info(); // loads the tokenizer in every thread (peers' rows build theirs inside the timed span too)
  let records = 0;
  let texts = 0;
  let tokens = 0;
  // Several batches in flight, as the tokens stage keeps them (threads × 8), so both workers stay busy.
  const depth = threads * 8;
  const inFlight = [];
  const settle = async () => {
    for (const count of await inFlight.shift()) tokens += count;
  };
  let batch = [];
  const run = core.runPipeline(read.readInputs(files), [], {});
  for await (const items of run.batches) {
    for (const item of items) {
      records++;
      stringsOf(item.data, batch);
      if (batch.length >= 512) {
        texts += batch.length;
        inFlight.push(counter.count(batch));
        batch = [];
        if (inFlight.length >= depth) await settle();
      }
    }
  }
  if (batch.length > 0) {
    texts += batch.length;
    inFlight.push(counter.count(batch));
  }
  while (inFlight.length > 0) await settle();
  const ms = performance.now() - started;
  await pool.close();
  return { ms, counts: summarize(run.counts), tokens, texts, records };
}

/** read → split → the engine's runDataset (train/validation/test files, rejects, duplicates, manifest) into a temp dir. */
async function splitWriteRow(files) {
  const { read, mods } = await loadModules({
    s: ["@curate/split", "split"],
    w: ["@curate/pipeline", "runDataset"],
  });
  const dir = join(mkdtempSync(join(tmpdir(), "curate-bench-split-")), "out");
  try {
    const started = performance.now();
    const manifest = await mods.w.runDataset({
      dir,
      source: read.readInputs(files),
      stages: [mods.s.split({ seed: 1 })],
      force: true,
    });
    const ms = performance.now() - started;
    const counts = manifest?.stages ?? manifest?.counts;
    return { ms, counts: Array.isArray(counts) ? summarize(counts) : undefined };
  } finally {
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
}

async function main() {
  const [rowName, corpusPath] = process.argv.slice(2);
  const corpus = JSON.parse(readFileSync(corpusPath, "utf8"));
  const files = corpus.files.map((f) => f.path);
  let result;
  try {
    if (rowName === "ceiling:read") {
      const started = performance.now();
      const r = rawRead(files);
      result = { ms: performance.now() - started, bytes: r.bytes };
    } else if (rowName === "ceiling:scan+parse") {
      const started = performance.now();
      const r = scanParse(files);
      result = { ms: performance.now() - started, parsed: r.records, invalid: r.invalid };
    } else if (rowName === "read+split+write") {
      result = await splitWriteRow(files);
    } else if (ENGINE_ROWS[rowName]) {
      result = await engineRow(files, ENGINE_ROWS[rowName]);
    } else if (STAGE_ROWS[rowName]) {
      result = await stageRow(files, STAGE_ROWS[rowName]);
    } else {
      throw new Error(`unknown in-process row "${rowName}"`);
    }
  } catch (error) {
    if (error instanceof NotBuilt) {
      process.stdout.write(`${JSON.stringify({ na: error.message })}\n`);
      return;
    }
    throw error;
  }
  // maxRSS is in KiB on Linux; it is this process's own peak (the harness prefers GNU time's figure when it has one).
  process.stdout.write(`${JSON.stringify({ ...result, maxRssKb: process.resourceUsage().maxRSS })}\n`);
}

await main();
// Exit even if something the row started (a worker, a timer) is still referenced: the result is written (stdout to a
// pipe is synchronous on Linux), and a hanging row would otherwise only end at the harness's timeout.
process.exit(0);
