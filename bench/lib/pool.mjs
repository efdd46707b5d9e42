/**
 * The sentence pool the corpus is built from: real English (and some other languages') prose that ships with the
 * project — string values in fixtures/**\/*.jsonl, the READMEs and licences of installed dependencies, and the
 * JSDoc of @types/node and TypeScript's DOM library. Real sentences matter: tokenizers, MinHash shingles and UTF-8
 * decoding all behave differently on random letters.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const MIN_CHARS = 25;
const MAX_CHARS = 280;
const MIN_WORDS = 5;

/** Lists files under `dir` (sorted, depth-first, symlinks not followed) whose name passes `keep`. */
function walk(dir, keep, out = [], depth = 0) {
  if (depth > 8) return out;
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    if (name === ".bin" || name === ".cache" || name === "@curate" || name === ".git") continue;
    const path = join(dir, name);
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) walk(path, keep, out, depth + 1);
    else if (stat.isFile() && keep(name, stat.size)) out.push(path);
  }
  return out;
}

// A sentence ends at . ! ? (or the CJK full stops) followed by space and a capital, a digit, a quote or CJK text.
const SENTENCE_END = /(?<=[.!?])\s+(?=["'(\p{Lu}\d])|(?<=[。！？])/u;
const CODEY = /[{}<>=|\\$#@~^*_[\]]|https?:|:\/\/|\.\w+\(|\w\.\w+\.\w|--|\.\.|;/g;
const BAD_CHARS = /[\u0000-\u001f\u007f\ufffd]/u;

/** True for text that reads as a sentence: starts with a capital (or CJK), ends with a full stop, mostly letters. */
function isSentence(text) {
  if (text.length < MIN_CHARS || text.length > MAX_CHARS) return false;
  if (BAD_CHARS.test(text)) return false;
  if (!/^["'(]?[\p{Lu}\p{Lo}]/u.test(text)) return false;
  if (!/[.!?。！？]["')]?$/u.test(text)) return false;
  const cjk = /\p{Lo}/u.test(text[0] ?? "");
  if (!cjk && text.split(" ").length < MIN_WORDS) return false;
  const codey = text.match(CODEY);
  if (codey && codey.length > 1) return false;
  let letters = 0;
  for (const ch of text) if (/[\p{L}\s]/u.test(ch)) letters++;
  return letters / text.length >= 0.85;
}

/** Splits a paragraph of prose into sentences and adds those that pass `isSentence`. */
function addSentences(paragraph, out) {
  const flat = paragraph.replace(/\s+/g, " ").trim();
  if (flat === "") return;
  for (const piece of flat.split(SENTENCE_END)) {
    const sentence = piece.trim();
    if (isSentence(sentence)) out.push(sentence);
  }
}

/** Markdown to prose paragraphs: code blocks, tables, headings, HTML and link targets removed. */
function markdownParagraphs(text) {
  const withoutCode = text.replace(/^\s*(```|~~~)[\s\S]*?^\s*\1.*$/gm, "\n");
  const paragraphs = [];
  let current = [];
  for (const raw of withoutCode.split("\n")) {
    const line = raw.trim();
    const structural = line === "" || /^(#|\||<|>|!\[|\[!\[|={3,}|-{3,}|\*{3,})/.test(line);
    if (structural) {
      if (current.length > 0) paragraphs.push(current.join(" "));
      current = [];
      continue;
    }
    current.push(
      line
        .replace(/^([-*+]|\d+\.)\s+/, "")
        .replace(/!\[[^\]]*\]\([^)]*\)/g, "")
        .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
        .replace(/\[([^\]]+)\]\[[^\]]*\]/g, "$1")
        .replace(/<[^>]+>/g, "")
        .replace(/\*\*([^*]+)\*\*/g, "$1"),
    );
  }
  if (current.length > 0) paragraphs.push(current.join(" "));
  return paragraphs;
}

/** JSDoc comments to prose paragraphs: tags, examples and code fences removed. */
function jsdocParagraphs(text) {
  const paragraphs = [];
  for (const match of text.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const body = match[1]
      .split("\n")
      .map((line) => line.replace(/^\s*\*\s?/, ""))
      .join("\n")
      .replace(/```[\s\S]*?```/g, "\n\n")
      .replace(/^@[\s\S]*/m, "")
      .replace(/\{@link\s+([^}|\s]+)[^}]*\}/g, "$1");
    for (const paragraph of markdownParagraphs(body)) paragraphs.push(paragraph);
  }
  return paragraphs;
}

/** String leaves of a parsed JSON value, for sentences inside the project's fixtures. */
function stringLeaves(value, out) {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringLeaves(v, out);
  else if (value && typeof value === "object") for (const v of Object.values(value)) stringLeaves(v, out);
}

/**
 * Builds the sentence pool from `root` (the repository). Deterministic: files in sorted order, sentences in order
 * of appearance, duplicates removed (first kept). `hash` identifies the pool, so a cached corpus is rebuilt when
 * the fixtures or dependencies change.
 * @example const { sentences, hash } = buildPool(repoRoot);
 */
export function buildPool(root) {
  const sources = [];
  const all = [];
  const take = (file, paragraphs) => {
    const before = all.length;
    for (const paragraph of paragraphs) addSentences(paragraph, all);
    sources.push({ file: relative(root, file), sentences: all.length - before });
  };

  for (const file of walk(join(root, "fixtures"), (name) => /\.(jsonl|ndjson)$/.test(name))) {
    const strings = [];
    for (const line of readFileSync(file, "utf8").split("\n")) {
      try {
        stringLeaves(JSON.parse(line), strings);
      } catch {
        // Fixtures deliberately hold broken lines; they are not prose.
      }
    }
    take(file, strings);
  }
  const modules = join(root, "node_modules");
  for (const file of walk(modules, (name, size) => /\.(md|markdown)$/i.test(name) && size > 2000 && size < 2e6)) {
    if (/changelog|history|security|contributing/i.test(file)) continue;
    take(file, markdownParagraphs(readFileSync(file, "utf8")));
  }
  for (const file of walk(join(modules, "@types/node"), (name) => name.endsWith(".d.ts"))) {
    take(file, jsdocParagraphs(readFileSync(file, "utf8")));
  }
  for (const name of ["lib.dom.d.ts", "lib.es5.d.ts"]) {
    const file = join(modules, "typescript/lib", name);
    try {
      take(file, jsdocParagraphs(readFileSync(file, "utf8")));
    } catch {
      // TypeScript is a dev dependency; the pool is still large enough without it.
    }
  }

  const seen = new Set();
  const sentences = [];
  for (const sentence of all) {
    if (seen.has(sentence)) continue;
    seen.add(sentence);
    sentences.push(sentence);
  }
  const hash = createHash("sha256").update(sentences.join("\n")).digest("hex").slice(0, 12);
  return { sentences, hash, sources: sources.filter((s) => s.sentences > 0) };
}
