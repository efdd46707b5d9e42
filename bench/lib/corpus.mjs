/**
 * The benchmark corpus: instruction (alpaca) and chat JSONL built from the sentence pool, with a known number of
 * exact duplicates, near duplicates (one-word edits) and invalid lines planted among them. Deterministic for a
 * seed and a pool; `ensureCorpus` reuses a corpus already on disk when its manifest matches.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { buildPool } from "./pool.mjs";
import { createRng, hash53 } from "./rng.mjs";

/** Bumped whenever the generator's output changes for the same seed and pool, so cached corpora are rebuilt. */
export const GENERATOR_VERSION = 3;

/** Fractions of planted records (of all records written). */
export const PLANTED = { exact: 0.05, near: 0.05, invalid: 0.005 };

/** Share of records that go to the alpaca file; the rest are chat. */
const ALPACA_SHARE = 0.55;
/** Near duplicates are made only from records with at least this many words of text, so that a one-word edit keeps
 * the word 5-gram Jaccard similarity at ≥ 0.86 (n shingles, one replaced word: (n − 5) / (n + 5)), comfortably over
 * the default 0.8 threshold: these are duplicates a near-dedup stage is expected to find. */
const NEAR_MIN_WORDS = 70;
/** Earlier records that duplicates are copied from: a reservoir sample over everything written so far. */
const RESERVOIR = 8192;
const FLUSH_BYTES = 4 << 20;

const SYSTEM_PROMPTS = [
  "You are a helpful assistant.",
  "You are a helpful assistant that answers questions about Node.js and the web platform.",
  "You are a senior software engineer. Answer precisely and say when something depends on the runtime version.",
  "You are a patient teacher. Explain each idea in plain words before giving details.",
  "You are a technical writer. Keep answers short and accurate.",
  "Answer as concisely as possible.",
];

const ALPACA_TASKS = [
  { instruction: "Explain the following passage in simple terms.", input: [1, 2], output: [1, 4] },
  { instruction: "Summarize the text below in one or two sentences.", input: [2, 3], output: [1, 2] },
  { instruction: "Rewrite this sentence so that it is clearer.", input: [1, 1], output: [1, 1] },
  { instruction: "Give an example of when the following applies.", input: [1, 1], output: [1, 4] },
  { instruction: "Is the following statement accurate? Explain your answer.", input: [1, 1], output: [1, 3] },
  { instruction: "List the key points of this documentation excerpt.", input: [1, 3], output: [2, 3] },
  { question: true, output: [1, 4] },
  { question: true, output: [2, 5] },
];

const QUESTION_FORMS = [
  (s) => `What does this mean: "${s}"`,
  (s) => `Can you explain why ${lowerFirst(s).replace(/[.!?]$/, "")}?`,
  (s) => `I read that ${lowerFirst(s).replace(/[.!?]$/, "")}. What should I watch out for?`,
  (s) => `${s} How does that work in practice?`,
  (s) => `${s} Could you give me more detail?`,
  (s) => `Please explain: ${s}`,
];

const FOLLOW_UPS = [
  "Thanks. Can you give a short example?",
  "What is the most common mistake here?",
  "How is that different from the default behaviour?",
  "Could you say that again more briefly?",
  "Does this change between versions?",
];

const WRONG_ROLES = ["wizard", "bot", "Assistant", "usr", "model"];

function lowerFirst(s) {
  return /^\p{Lu}\p{Ll}/u.test(s) ? s[0].toLowerCase() + s.slice(1) : s;
}

function countWords(text) {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = text.charCodeAt(i) === 32;
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

/** The record's text values joined by spaces: for the word count, and the text bytes tokenizers are rated by. */
function textOf(record) {
  if (record.messages) return record.messages.map((m) => contentText(m.content)).join(" ");
  return `${record.system ?? ""} ${record.instruction} ${record.input ?? ""} ${record.output}`.trim();
}

const textBytes = (record) => Buffer.byteLength(textOf(record), "utf8");

function contentText(content) {
  return typeof content === "string" ? content : content.map((p) => p.text).join(" ");
}

function createBuilders(rng, pool) {
  const { sentences, words } = pool;
  const some = (lo, hi) => {
    const n = rng.range(lo, hi);
    let out = rng.pick(sentences);
    for (let i = 1; i < n; i++) out += ` ${rng.pick(sentences)}`;
    return out;
  };
  const question = () => rng.pick(QUESTION_FORMS)(rng.pick(sentences));

  function alpaca() {
    const task = rng.pick(ALPACA_TASKS);
    const record = task.question
      ? { instruction: question(), input: "", output: some(...task.output) }
      : { instruction: task.instruction, input: some(...task.input), output: some(...task.output) };
    // Real alpaca-style data often omits an empty input, and sometimes carries a system prompt.
    if (record.input === "" && rng.chance(0.5)) delete record.input;
    if (rng.chance(0.05)) return { system: rng.pick(SYSTEM_PROMPTS), ...record };
    return record;
  }

  function chat() {
    const messages = [];
    if (rng.chance(0.3)) messages.push({ role: "system", content: rng.pick(SYSTEM_PROMPTS) });
    const turns = rng.chance(0.7) ? 1 : rng.chance(0.75) ? 2 : 3;
    for (let t = 0; t < turns; t++) {
      messages.push({ role: "user", content: t === 0 ? question() : rng.pick(FOLLOW_UPS) });
      const answer = t === 0 ? some(1, 3) : some(1, 2);
      // A few records use the content-parts form that the OpenAI chat format also allows.
      messages.push({ role: "assistant", content: rng.chance(0.03) ? [{ type: "text", text: answer }] : answer });
    }
    return { messages };
  }

  /** The record of `line` with one word of its last answer replaced, inserted or deleted. */
  function nearCopy(line) {
    const copy = JSON.parse(line);
    let holder;
    let key;
    if (copy.messages) {
      const last = copy.messages.at(-1);
      if (typeof last.content === "string") {
        holder = last;
        key = "content";
      } else {
        holder = last.content[0];
        key = "text";
      }
    } else {
      holder = copy;
      key = "output";
    }
    const tokens = holder[key].split(" ");
    const at = rng.int(tokens.length);
    const word = () => {
      for (;;) {
        const w = rng.pick(words);
        if (w.toLowerCase() !== (tokens[at] ?? "").toLowerCase()) return w;
      }
    };
    const op = rng.int(3);
    if (op === 0) tokens[at] = word();
    else if (op === 1) tokens.splice(at, 0, word());
    else if (tokens.length > 1) tokens.splice(at, 1);
    else tokens[at] = word();
    holder[key] = tokens.join(" ");
    return copy;
  }

  return { alpaca, chat, nearCopy };
}

/** One invalid line of the given kind, made from a fresh valid record of the file's format (changed in place). */
function invalidLine(rng, kind, copy) {
  if (kind === "broken_json") {
    const line = JSON.stringify(copy);
    const cut = rng.range(1, line.length - 2);
    // Half are cut short (a writer that died mid-line), half lose a quote (hand-edited JSON).
    return rng.chance(0.5) ? line.slice(0, cut) : line.slice(0, cut) + line.slice(cut).replace('"', "");
  }
  if (kind === "wrong_role") {
    const messages = copy.messages;
    const at = messages.findIndex((m) => m.role === "assistant" || m.role === "user");
    messages[at].role = rng.pick(WRONG_ROLES);
    return JSON.stringify(copy);
  }
  // empty_assistant: the answer a trainer would learn from is empty or whitespace.
  const empty = rng.pick(["", " ", "\n"]);
  if (copy.messages) copy.messages.at(-1).content = empty;
  else copy.output = empty;
  return JSON.stringify(copy);
}

/** Words for one-word edits: plain lowercase words from the pool, in first-seen order. */
function vocabulary(sentences) {
  const seen = new Set();
  for (const sentence of sentences) {
    for (const w of sentence.split(" ")) if (/^[a-z]{3,12}$/.test(w)) seen.add(w);
  }
  return [...seen];
}

/**
 * Writes the corpus into `dir`: `alpaca.jsonl`, `chat.jsonl`, `small-10.jsonl` (ten valid chat records, for the
 * start-up rows) and `corpus.json` (what was written). Returns that manifest.
 * @example const manifest = generateCorpus({ records: 100_000, seed: 1, dir: path.join(os.tmpdir(), "corpus") });
 */
export function generateCorpus({ records, seed, dir, root, pool = buildPool(root) }) {
  const started = performance.now();
  mkdirSync(dir, { recursive: true });
  const rng = createRng(seed);
  const builders = createBuilders(rng, { sentences: pool.sentences, words: vocabulary(pool.sentences) });
  const counts = { base: 0, exact: 0, near: 0, invalid: { broken_json: 0, wrong_role: 0, empty_assistant: 0 } };
  const unique = new Set();
  const small = [];

  const files = ["alpaca", "chat"].map((format) => {
    const path = join(dir, `${format}.jsonl`);
    const temp = `${path}.tmp-${process.pid}`;
    return {
      format,
      path,
      temp,
      fd: openSync(temp, "w"),
      buffer: [],
      pending: 0,
      records: 0,
      bytes: 0,
      textBytes: 0,
      lines: [], // reservoir of { line, text bytes }, for exact duplicates
      long: [], // reservoir of lines long enough for near duplicates
      seen: 0,
    };
  });

  const emit = (file, line, text) => {
    file.textBytes += text;
    file.buffer.push(line);
    file.pending += line.length + 1;
    file.records++;
    if (file.pending >= FLUSH_BYTES) flush(file);
  };
  const flush = (file) => {
    if (file.buffer.length === 0) return;
    const chunk = Buffer.from(`${file.buffer.join("\n")}\n`, "utf8");
    writeSync(file.fd, chunk);
    file.bytes += chunk.length;
    file.buffer = [];
    file.pending = 0;
  };
  /** A new record whose line no earlier record has, so that the planted counts are exact. */
  const fresh = (make) => {
    for (;;) {
      const record = make();
      const line = JSON.stringify(record);
      // 31 bits keep the keys small integers (no heap number per entry); a false match only regenerates a record.
      const key = hash53(line) % 2147483647;
      if (unique.has(key)) continue;
      unique.add(key);
      return { record, line };
    }
  };

  try {
    for (let i = 0; i < records; i++) {
      const file = rng.chance(ALPACA_SHARE) ? files[0] : files[1];
      const make = file.format === "alpaca" ? builders.alpaca : builders.chat;
      const roll = rng.float();
      if (roll < PLANTED.exact && file.lines.length > 0) {
        const copy = rng.pick(file.lines);
        emit(file, copy.line, copy.text);
        counts.exact++;
      } else if (roll < PLANTED.exact + PLANTED.near && file.long.length > 0) {
        const { record, line } = fresh(() => builders.nearCopy(rng.pick(file.long)));
        emit(file, line, textBytes(record));
        counts.near++;
      } else if (roll < PLANTED.exact + PLANTED.near + PLANTED.invalid) {
        const kinds =
          file.format === "chat"
            ? ["broken_json", "wrong_role", "empty_assistant"]
            : ["broken_json", "empty_assistant"];
        const kind = rng.pick(kinds);
        const record = make();
        const text = textBytes(record);
        emit(file, invalidLine(rng, kind, record), text);
        counts.invalid[kind]++;
      } else {
        const { record, line } = fresh(make);
        const text = textBytes(record);
        emit(file, line, text);
        counts.base++;
        // Reservoir sampling (one slot draw for both reservoirs): duplicates copy records from anywhere earlier in
        // the file, not only recent ones. Words are counted only for records that win a slot.
        file.seen++;
        const slot = file.seen <= RESERVOIR ? file.seen - 1 : rng.int(file.seen);
        if (slot < RESERVOIR) {
          file.lines[slot] = { line, text };
          if (countWords(textOf(record)) >= NEAR_MIN_WORDS) {
            if (file.long.length < RESERVOIR) file.long.push(line);
            else file.long[slot] = line;
          }
        }
        if (file.format === "chat" && small.length < 10) small.push(line);
      }
    }
    for (const file of files) {
      flush(file);
      closeSync(file.fd);
      renameSync(file.temp, file.path);
    }
  } catch (error) {
    for (const file of files) {
      try {
        closeSync(file.fd);
      } catch {}
      rmSync(file.temp, { force: true });
    }
    throw error;
  }
  const smallPath = join(dir, "small-10.jsonl");
  const smallFd = openSync(smallPath, "w");
  writeSync(smallFd, `${small.join("\n")}\n`);
  closeSync(smallFd);

  const invalid = Object.values(counts.invalid).reduce((a, b) => a + b, 0);
  const manifest = {
    generator: GENERATOR_VERSION,
    seed,
    records,
    pool: { hash: pool.hash, sentences: pool.sentences.length, sources: pool.sources.length },
    files: files.map((f) => ({
      path: f.path,
      format: f.format,
      records: f.records,
      bytes: f.bytes,
      textBytes: f.textBytes,
    })),
    small: smallPath,
    bytes: files.reduce((a, f) => a + f.bytes, 0),
    // UTF-8 bytes of the records' text values (what tokenizer speeds are quoted in), JSON syntax and keys excluded.
    textBytes: files.reduce((a, f) => a + f.textBytes, 0),
    planted: { exact: counts.exact, near: counts.near, invalid, invalidByKind: counts.invalid },
    // What a correct pipeline should find: exact dedup removes `exact`; validation rejects `invalid`.
    expected: { valid: records - invalid, distinct: counts.base + counts.near, unique: counts.base },
    seconds: (performance.now() - started) / 1000,
  };
  writeJsonAtomic(join(dir, "corpus.json"), manifest);
  return manifest;
}

function writeJsonAtomic(path, value) {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, "w");
  writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
  closeSync(fd);
  renameSync(temp, path);
}

/** Default corpora live here: under the OS temp directory, never in the repository. */
export const CORPUS_ROOT = join(tmpdir(), "curate-bench");

/**
 * The default folder of a corpus. Its name holds everything the content depends on (size, seed, sentence pool,
 * generator version), so a corpus on disk never changes: a benchmark reading one is never disturbed by another
 * process generating the next (the pool changes whenever fixtures are edited).
 * @example defaultCorpusDir(100_000, 1, "7db0369703d6"); // $TMPDIR/curate-bench/corpus-100000-s1-7db0369703d6-g2
 */
export function defaultCorpusDir(records, seed, poolHash) {
  return join(CORPUS_ROOT, `corpus-${records}-s${seed}-${poolHash}-g${GENERATOR_VERSION}`);
}

/** Superseded default corpora (same size and seed, another pool or version) left longer than this are removed. */
const STALE_MS = 6 * 3600_000;

function readManifest(dir) {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, "corpus.json"), "utf8"));
    return manifest.files.every((f) => existsSync(f.path)) ? manifest : undefined;
  } catch {
    return undefined; // missing or unreadable: a corpus to (re)build
  }
}

function matches(manifest, records, seed, pool) {
  return (
    manifest?.generator === GENERATOR_VERSION &&
    manifest.seed === seed &&
    manifest.records === records &&
    manifest.pool?.hash === pool.hash
  );
}

/** Removes old default corpora of the same size and seed that a newer pool or generator replaced. */
function removeStale(records, seed, keep) {
  let names;
  try {
    names = readdirSync(CORPUS_ROOT);
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(CORPUS_ROOT, name);
    if (path === keep || !name.startsWith(`corpus-${records}-s${seed}-`)) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // Another process removed it first.
    }
  }
}

/**
 * Returns the manifest of the corpus for `records` and `seed`, generating it only when there is none yet for the
 * current sentence pool and generator. Without `dir`, the corpus is written to a temp folder and renamed into
 * place, so concurrent callers never see a half-written corpus (the loser of a race uses the winner's).
 * @example const corpus = ensureCorpus({ records: 100_000, seed: 1, root: repoRoot });
 */
export function ensureCorpus({ records, seed, root, dir, log = () => {} }) {
  const pool = buildPool(root);
  const target = dir ?? defaultCorpusDir(records, seed, pool.hash);
  const existing = readManifest(target);
  if (matches(existing, records, seed, pool)) return { ...existing, reused: true };

  log(`generating ${records.toLocaleString("en-US")} records (seed ${seed}) in ${target} ...`);
  if (dir !== undefined) return { ...generateCorpus({ records, seed, dir, root, pool }), reused: false };

  const temp = `${target}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  const built = generateCorpus({ records, seed, dir: temp, root, pool });
  // The manifest names files by absolute path: point it at the final folder before the rename publishes it.
  const manifest = {
    ...built,
    files: built.files.map((f) => ({ ...f, path: join(target, basename(f.path)) })),
    small: join(target, basename(built.small)),
  };
  writeJsonAtomic(join(temp, "corpus.json"), manifest);
  try {
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    const winner = readManifest(target);
    if (!matches(winner, records, seed, pool)) throw error;
    return { ...winner, reused: true };
  }
  removeStale(records, seed, target);
  return { ...manifest, reused: false };
}
