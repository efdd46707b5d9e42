/**
 * The WGSL kernel: one invocation per document. It pre-tokenizes the document (a port of the CPU engine's
 * hand-written o200k / cl100k scanners in `@curate/tokenizer-worker`'s `engine/pretokenize.ts`, reading UTF-16 code
 * units and the same character classes), UTF-8 encodes each piece, looks the whole piece up in the vocabulary, and
 * runs tiktoken's byte-pair merge on the misses. Ids go to `ids` from the document's byte offset (a document never has
 * more tokens than bytes); where the document stands (next code unit, next byte, ids so far, status) to `state`, so
 * that a dispatch can stop at a piece boundary and the next one resume there.
 *
 * The merge follows tiktoken's `byte_pair_merge` step for step: at each step the leftmost adjacent pair whose
 * concatenated bytes have the lowest rank merges. Finding that pair by scanning every part is quadratic, which a
 * 100 kB word makes minutes long on a software GPU; here the parts' ranks live in blocks of about √n positions with
 * each block's minimum kept up to date, so one step reads √n block minima and rescans one to three blocks.
 */

/** Buffers, in binding order. */
export const bindings = ["classes", "vocab", "text", "docs", "work", "ids", "state"] as const;

/** Words of `docs` per document: first code unit, end code unit, byte offset, byte length. */
export const DOC_WORDS = 4;
/** Words of `work` per UTF-8 byte of the batch: bytes, part ends, previous parts, ranks, block minima. */
export const WORK_WORDS = 5;
/** Words of `state` per document: next code unit, next byte, ids so far, status, loop budget. */
export const STATE_WORDS = 5;
export const RUNNING = 0;
export const DONE = 1;
/** A piece needed more loop iterations than a fresh budget allows: the CPU finishes the document from there. */
export const STUCK = 2;

/**
 * Mesa's llvmpipe and lavapipe (gallivm) stop every loop of a shader invocation once the invocation has run 65,535
 * loop iterations in all (LP_MAX_TGSI_LOOP_ITERATIONS, "shared between every loop"): without a GPU, a document of a
 * few kB silently lost its tail. On those adapters the kernel counts its own loop iterations and stops at a piece
 * boundary once it has spent this many; the next dispatch resumes there. gallivm counts more iterations than the
 * WGSL source shows (2–4× measured), so every dispatch also checks that the limit was not reached (a probe loop at
 * the end, which the exhausted limiter cuts short): if it was, nothing is committed and the budget halves.
 */
export const SOFTWARE_LOOP_BUDGET = 16_000;
/** Below this budget a document whose dispatch still hits the limit is left to the CPU from where it stands. */
const MIN_LOOP_BUDGET = 256;
/** Hardware GPUs have no such limit. */
export const HARDWARE_LOOP_BUDGET = 0xfffffff0;

export interface KernelOptions {
  readonly pattern: "o200k" | "cl100k";
  readonly classBytesBase: number;
  readonly vocabMask: number;
  readonly vocabEntriesBase: number;
  readonly vocabBlobBase: number;
  /** Invocations per workgroup: 1 where the loop budget applies (one invocation per SIMD vector), else 64. */
  readonly workgroup: number;
}

/**
 * The kernel's source for one tokenizer (its tables' layout is baked in as constants).
 * @example device.createShaderModule({ code: kernelSource({ pattern: "o200k", ...layout }) });
 */
export function kernelSource(o: KernelOptions): string {
  const scan = o.pattern === "o200k" ? "scanO200k" : "scanCl100k";
  const TICK = "spent = spent + 1u; if (spent > budget) { break; }";
  return /* wgsl */ `
const UPPISH: u32 = 1u;
const LOWISH: u32 = 2u;
const LETTER: u32 = 4u;
const NUMBER: u32 = 8u;
const SPACE: u32 = 16u;
const NEWLINE: u32 = 32u;
const NONE: u32 = 0xffffffffu;
const RUNNING: u32 = ${RUNNING}u;
const DONE: u32 = ${DONE}u;
const STUCK: u32 = ${STUCK}u;
const CLASS_BYTES: u32 = ${o.classBytesBase}u;
const VOCAB_MASK: u32 = ${o.vocabMask}u;
const VOCAB_ENTRIES: u32 = ${o.vocabEntriesBase}u;
const VOCAB_BLOB: u32 = ${o.vocabBlobBase}u;

@group(0) @binding(0) var<storage, read> classes: array<u32>;
@group(0) @binding(1) var<storage, read> vocab: array<u32>;
@group(0) @binding(2) var<storage, read> text: array<u32>;
@group(0) @binding(3) var<storage, read> docs: array<u32>;
@group(0) @binding(4) var<storage, read_write> work: array<u32>;
@group(0) @binding(5) var<storage, read_write> ids: array<u32>;
@group(0) @binding(6) var<storage, read_write> state: array<u32>;

// Width in code units of the code point last classified by classAt (as in the CPU scanners).
var<private> width: u32;
// Bytes of the batch: the offsets of work's five arrays.
var<private> T: u32;
// Loop iterations this invocation has run (see LOOP_BUDGET in kernel.ts).
var<private> spent: u32;
var<private> budget: u32;

fn unit(i: u32) -> u32 {
  let w = text[i >> 1u];
  return select(w & 0xffffu, w >> 16u, (i & 1u) == 1u);
}

fn classOf(cp: u32) -> u32 {
  let block = classes[cp >> 8u];
  let b = block * 256u + (cp & 255u);
  return (classes[CLASS_BYTES + (b >> 2u)] >> ((b & 3u) * 8u)) & 255u;
}

// The code point at i (U+FFFD for a lone surrogate, as UTF-8 encoding makes it); sets width.
fn codePointAt(i: u32, n: u32) -> u32 {
  let c = unit(i);
  width = 1u;
  if (c < 0xd800u || c > 0xdfffu) { return c; }
  if (c <= 0xdbffu && i + 1u < n) {
    let d = unit(i + 1u);
    if (d >= 0xdc00u && d <= 0xdfffu) {
      width = 2u;
      return ((c - 0xd800u) << 10u) + (d - 0xdc00u) + 0x10000u;
    }
  }
  return 0xfffdu;
}

fn classAt(i: u32, n: u32) -> u32 {
  return classOf(codePointAt(i, n));
}

fn isOther(bits: u32) -> bool {
  return (bits & (SPACE | LETTER | NUMBER)) == 0u;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at i: its end, or i.
fn contractionCi(i: u32, n: u32) -> u32 {
  if (i + 1u >= n || unit(i) != 39u) { return i; }
  let a = unit(i + 1u);
  let c1 = select(a | 0x20u, 0x73u, a == 0x17fu);
  if (c1 == 0x73u || c1 == 0x74u || c1 == 0x6du || c1 == 0x64u) { return i + 2u; }
  if (i + 2u >= n) { return i; }
  let c2 = unit(i + 2u) | 0x20u;
  if ((c1 == 0x72u && c2 == 0x65u) || (c1 == 0x76u && c2 == 0x65u) || (c1 == 0x6cu && c2 == 0x6cu)) { return i + 3u; }
  return i;
}

// \\s*[\\r\\n]+ | \\s+(?!\\S) | \\s+
fn spaces(pos: u32, n: u32) -> u32 {
  var i = pos;
  var lastNewline = NONE;
  while (i < n) {
    ${TICK}
    let bits = classAt(i, n);
    if ((bits & SPACE) == 0u) { break; }
    if ((bits & NEWLINE) != 0u) { lastNewline = i; }
    i = i + 1u;
  }
  if (lastNewline != NONE) { return lastNewline + 1u; }
  if (i >= n) { return i; }
  if (i - pos >= 2u) { return i - 1u; }
  return i;
}

fn upperThenLower(q: u32, n: u32) -> u32 {
  var i = q;
  var lastLower = NONE;
  while (i < n) {
    ${TICK}
    let bits = classAt(i, n);
    if ((bits & UPPISH) == 0u) { break; }
    i = i + width;
    if ((bits & LOWISH) != 0u) { lastLower = i; }
  }
  if (i < n && (classAt(i, n) & LOWISH) != 0u) {
    i = i + width;
    while (i < n && (classAt(i, n) & LOWISH) != 0u) { ${TICK} i = i + width; }
    return i;
  }
  return lastLower;
}

fn upperRunThenLower(q: u32, n: u32) -> u32 {
  var i = q;
  while (i < n && (classAt(i, n) & UPPISH) != 0u) { ${TICK} i = i + width; }
  if (i == q) { return NONE; }
  while (i < n && (classAt(i, n) & LOWISH) != 0u) { ${TICK} i = i + width; }
  return i;
}

fn digits(start: u32, n: u32, more: u32) -> u32 {
  var end = start;
  var k = 0u;
  while (k < more && end < n && (classAt(end, n) & NUMBER) != 0u) {
    ${TICK}
    end = end + width;
    k = k + 1u;
  }
  return end;
}

fn otherStart(pos: u32, n: u32, b0: u32) -> u32 {
  if (unit(pos) == 32u && pos + 1u < n && isOther(classAt(pos + 1u, n))) { return pos + 1u; }
  if (isOther(b0)) { return pos; }
  return NONE;
}

fn otherRun(q: u32, n: u32, slash: bool) -> u32 {
  var i = q;
  while (i < n && isOther(classAt(i, n))) { ${TICK} i = i + width; }
  while (i < n) {
    ${TICK}
    let c = unit(i);
    if (c != 13u && c != 10u && !(slash && c == 47u)) { break; }
    i = i + 1u;
  }
  return i;
}

fn scanO200k(pos: u32, n: u32) -> u32 {
  let b0 = classAt(pos, n);
  let w0 = width;
  let prefixable = (b0 & (NEWLINE | LETTER | NUMBER)) == 0u && pos + w0 < n;
  var end = NONE;
  if (prefixable) {
    end = upperThenLower(pos + w0, n);
    if (end != NONE) { return contractionCi(end, n); }
  }
  if ((b0 & (UPPISH | LOWISH)) != 0u) {
    end = upperThenLower(pos, n);
    if (end != NONE) { return contractionCi(end, n); }
  }
  if (prefixable) {
    end = upperRunThenLower(pos + w0, n);
    if (end != NONE) { return contractionCi(end, n); }
  }
  if ((b0 & UPPISH) != 0u) {
    end = upperRunThenLower(pos, n);
    if (end != NONE) { return contractionCi(end, n); }
  }
  if ((b0 & NUMBER) != 0u) { return digits(pos + w0, n, 2u); }
  let q = otherStart(pos, n, b0);
  if (q != NONE) { return otherRun(q, n, true); }
  return spaces(pos, n);
}

fn scanCl100k(pos: u32, n: u32) -> u32 {
  let contraction = contractionCi(pos, n);
  if (contraction > pos) { return contraction; }
  let b0 = classAt(pos, n);
  let w0 = width;
  if ((b0 & (NEWLINE | LETTER | NUMBER)) == 0u && pos + w0 < n && (classAt(pos + w0, n) & LETTER) != 0u) {
    var i = pos + w0 + width;
    while (i < n && (classAt(i, n) & LETTER) != 0u) { ${TICK} i = i + width; }
    return i;
  }
  if ((b0 & LETTER) != 0u) {
    var i = pos + w0;
    while (i < n && (classAt(i, n) & LETTER) != 0u) { ${TICK} i = i + width; }
    return i;
  }
  if ((b0 & NUMBER) != 0u) { return digits(pos + w0, n, 2u); }
  let q = otherStart(pos, n, b0);
  if (q != NONE) { return otherRun(q, n, false); }
  return spaces(pos, n);
}

// UTF-8 of units [s, e) into the bytes array from at; returns the byte count.
fn encodeUtf8(s: u32, e: u32, at: u32) -> u32 {
  var i = s;
  var m = at;
  while (i < e) {
    ${TICK}
    let c = codePointAt(i, e);
    i = i + width;
    if (c < 0x80u) {
      work[m] = c;
      m = m + 1u;
    } else if (c < 0x800u) {
      work[m] = 0xc0u | (c >> 6u);
      work[m + 1u] = 0x80u | (c & 63u);
      m = m + 2u;
    } else if (c < 0x10000u) {
      work[m] = 0xe0u | (c >> 12u);
      work[m + 1u] = 0x80u | ((c >> 6u) & 63u);
      work[m + 2u] = 0x80u | (c & 63u);
      m = m + 3u;
    } else {
      work[m] = 0xf0u | (c >> 18u);
      work[m + 1u] = 0x80u | ((c >> 12u) & 63u);
      work[m + 2u] = 0x80u | ((c >> 6u) & 63u);
      work[m + 3u] = 0x80u | (c & 63u);
      m = m + 4u;
    }
  }
  return m - at;
}

fn blobByte(k: u32) -> u32 {
  return (vocab[VOCAB_BLOB + (k >> 2u)] >> ((k & 3u) * 8u)) & 255u;
}

// The id (= tiktoken rank) of the bytes work[a, b), or NONE.
fn lookup(a: u32, b: u32) -> u32 {
  var h = 0x811c9dc5u;
  for (var i = a; i < b; i = i + 1u) { ${TICK} h = (h ^ work[i]) * 0x01000193u; }
  h = (h ^ (h >> 16u)) * 0x85ebca6bu;
  h = (h ^ (h >> 13u)) * 0xc2b2ae35u;
  h = h ^ (h >> 16u);
  let len = b - a;
  var slot = h & VOCAB_MASK;
  loop {
    ${TICK}
    let entry = vocab[slot];
    if (entry == 0u) { return NONE; }
    let e = VOCAB_ENTRIES + (entry - 1u) * 3u;
    if (vocab[e + 1u] == len) {
      let start = vocab[e];
      var k = 0u;
      while (k < len && blobByte(start + k) == work[a + k]) { ${TICK} k = k + 1u; }
      if (k == len) { return vocab[e + 2u]; }
    }
    slot = (slot + 1u) & VOCAB_MASK;
  }
  return NONE;
}

fn blockMin(s: u32, m: u32, bs: u32, block: u32) {
  let lo = s + block * bs;
  let hi = min(lo + bs, s + m);
  var best = NONE;
  for (var i = lo; i < hi; i = i + 1u) { ${TICK} best = min(best, work[3u * T + i]); }
  work[4u * T + s + block] = best;
}

// tiktoken's byte_pair_merge over the piece's bytes work[s, s + m); appends the ids at out[at..]; returns the count.
fn bytePairMerge(s: u32, m: u32, at: u32) -> u32 {
  let e = s + m;
  for (var i = s; i < e; i = i + 1u) {
    ${TICK}
    work[T + i] = i + 1u;
    work[2u * T + i] = select(i - 1u, NONE, i == s);
    if (i + 2u <= e) { work[3u * T + i] = lookup(i, i + 2u); } else { work[3u * T + i] = NONE; }
  }
  var bs = 16u;
  while (bs * bs < m) { ${TICK} bs = bs * 2u; }
  let blocks = (m + bs - 1u) / bs;
  for (var b = 0u; b < blocks; b = b + 1u) { ${TICK} blockMin(s, m, bs, b); }
  loop {
    ${TICK}
    var best = NONE;
    var bb = 0u;
    for (var b = 0u; b < blocks; b = b + 1u) {
      ${TICK}
      let r = work[4u * T + s + b];
      if (r < best) { best = r; bb = b; }
    }
    if (best == NONE || spent > budget) { break; }
    var i = s + bb * bs;
    while (work[3u * T + i] != best) { ${TICK} i = i + 1u; }
    if (spent > budget) { return 0u; }
    let j = work[T + i];
    let je = work[T + j];
    work[T + i] = je;
    work[3u * T + j] = NONE;
    if (je < e) {
      work[2u * T + je] = i;
      work[3u * T + i] = lookup(i, work[T + je]);
    } else {
      work[3u * T + i] = NONE;
    }
    let p = work[2u * T + i];
    if (p != NONE) { work[3u * T + p] = lookup(p, je); }
    let bi = (i - s) / bs;
    blockMin(s, m, bs, bi);
    let bj = (j - s) / bs;
    if (bj != bi) { blockMin(s, m, bs, bj); }
    if (p != NONE) {
      let bp = (p - s) / bs;
      if (bp != bi) { blockMin(s, m, bs, bp); }
    }
  }
  var count = 0u;
  var i = s;
  while (i < e && count < m) {
    ${TICK}
    let next = work[T + i];
    ids[at + count] = lookup(i, next);
    count = count + 1u;
    i = next;
  }
  return count;
}

@compute @workgroup_size(${o.workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let d = gid.y * 65535u * ${o.workgroup}u + gid.x;
  if (d >= arrayLength(&state) / ${STATE_WORDS}u) { return; }
  let st = d * ${STATE_WORDS}u;
  if (state[st + 3u] != RUNNING) { return; }
  T = arrayLength(&work) / ${WORK_WORDS}u;
  spent = 0u;
  budget = state[st + 4u];
  let de = docs[d * ${DOC_WORDS}u + 1u];
  let base = docs[d * ${DOC_WORDS}u + 2u];
  var pos = state[st];
  var at = state[st + 1u];
  var count = state[st + 2u];
  var status = RUNNING;
  var first = true;
  // One piece at a time; a piece that runs out of loop budget is dropped and redone by the next dispatch (or, when
  // even a fresh budget is not enough, left to the CPU from there on).
  loop {
    if (pos >= de) {
      status = DONE;
      break;
    }
    spent = spent + 1u;
    let pe = ${scan}(pos, de);
    var m = 0u;
    var n = 0u;
    if (spent <= budget) { m = encodeUtf8(pos, pe, at); }
    if (spent <= budget) {
      let id = lookup(at, at + m);
      if (id != NONE) {
        ids[base + count] = id;
        n = 1u;
      } else {
        n = bytePairMerge(at, m, base + count);
      }
    }
    if (spent > budget) {
      if (first) { status = STUCK; }
      break;
    }
    count = count + n;
    at = at + m;
    pos = pe;
    first = false;
  }
  // The probe: four iterations unless gallivm's loop limiter ran out above (then every loop stops after one). Its end
  // is read from a buffer so that the compiler cannot unroll it away.
  let probeEnd = 4u + (T >> 31u);
  var probe = 0u;
  loop {
    probe = probe + 1u;
    if (probe >= probeEnd) { break; }
  }
  if (probe != probeEnd) {
    // Loops were cut short: nothing above can be trusted. Retry with half the budget, or give up to the CPU.
    if (budget / 2u < ${MIN_LOOP_BUDGET}u) { state[st + 3u] = STUCK; } else { state[st + 4u] = budget / 2u; }
    return;
  }
  state[st] = pos;
  state[st + 1u] = at;
  state[st + 2u] = count;
  state[st + 3u] = status;
}
`;
}
