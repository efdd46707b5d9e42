/**
 * Flag parsing shared by the bench scripts. Hand-written (not commander) so the scripts import nothing but Node
 * built-ins and run before any package is built.
 */

/** Parses `--name value`, `--name=value` and bare `--flag` (true) into an object; positional args go to `_`. */
export function parseArgs(argv, { booleans = [] } = {}) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      out._.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (eq !== -1) out[name] = arg.slice(eq + 1);
    else if (booleans.includes(name)) out[name] = true;
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out[name] = argv[++i];
    else out[name] = true;
  }
  return out;
}

/**
 * Reads a record count: `100000`, `100k`, `1m`, `1_000_000`.
 * @example parseCount("1m") === 1_000_000
 */
export function parseCount(text) {
  const match = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(String(text).replaceAll("_", "").trim());
  if (!match) throw new Error(`expected a record count like 100000, 100k or 1m, found "${text}"`);
  const scale = { "": 1, k: 1e3, m: 1e6 }[match[2].toLowerCase()];
  const n = Math.round(Number(match[1]) * scale);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`expected a positive record count, found "${text}"`);
  return n;
}

/** Reads a whole-number seed. */
export function parseSeed(text) {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`expected a whole-number seed ≥ 0, found "${text}"`);
  return n;
}
