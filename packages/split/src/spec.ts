import { UsageError } from "@curate/core";

/** Split names become file names (`train.jsonl`), so they are kept to safe characters. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/**
 * Splits are numbered in a Uint8Array and a flow network; 16 is far more than anyone uses.
 * @example if (names.length > MAX_SPLITS) throw new UsageError("too many splits");
 */
export const MAX_SPLITS = 16;

export interface SplitTarget {
  readonly name: string;
  /** Ratio mode: the fraction in [0, 1]. Size mode: the number of records (the remainder split: records left). */
  readonly value: number;
}

/**
 * Parses `train=0.9,validation=0.05,test=0.05` into ordered ratios. Percentages (`train=90,test=10`, summing to
 * 100) are accepted too, since people write them.
 * @example parseRatios("train=0.9,test=0.1"); // { train: 0.9, test: 0.1 }
 */
export function parseRatios(spec: string): Record<string, number> {
  const ratios: Record<string, number> = {};
  for (const part of spec.split(",")) {
    const match = /^\s*([^=\s]+)\s*=\s*([^\s]+)\s*$/.exec(part);
    if (!match) {
      throw new UsageError(`--split "${spec}": expected name=ratio pairs, e.g. train=0.9,validation=0.05,test=0.05`);
    }
    const value = Number(match[2]);
    if (!Number.isFinite(value)) throw new UsageError(`--split "${spec}": "${match[2]}" is not a number`);
    if (Object.hasOwn(ratios, match[1]!)) throw new UsageError(`--split "${spec}": "${match[1]}" is named twice`);
    ratios[match[1]!] = value;
  }
  const sum = Object.values(ratios).reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 100) < 1e-9 && Object.keys(ratios).length > 1) {
    for (const name of Object.keys(ratios)) ratios[name] = ratios[name]! / 100;
  }
  return ratios;
}

function checkNames(names: readonly string[], what: string): void {
  if (names.length === 0) throw new UsageError(`${what}: name at least one split, e.g. train=0.9,test=0.1`);
  if (names.length > MAX_SPLITS) throw new UsageError(`${what}: at most ${MAX_SPLITS} splits, found ${names.length}`);
  for (const name of names) {
    if (!NAME.test(name)) {
      throw new UsageError(
        `${what}: split name "${name}" must start with a letter or digit and use only letters, digits, _ . -`,
      );
    }
  }
}

/**
 * Checks ratios (each in [0, 1], summing to 1) and returns them in order.
 * @example checkRatios({ train: 0.9, test: 0.1 }); // [{ name: "train", value: 0.9 }, { name: "test", value: 0.1 }]
 */
export function checkRatios(ratios: Readonly<Record<string, number>>): SplitTarget[] {
  const names = Object.keys(ratios);
  checkNames(names, "split ratios");
  let sum = 0;
  for (const name of names) {
    const value = ratios[name]!;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
      throw new UsageError(`split ratio ${name}=${String(value)} must be a number between 0 and 1`);
    }
    sum += value;
  }
  if (Math.abs(sum - 1) > 1e-9) {
    const shown = names.map((n) => `${n}=${ratios[n]}`).join(",");
    throw new UsageError(`split ratios must sum to 1, found ${+sum.toFixed(9)} (${shown})`);
  }
  return names.map((name) => ({ name, value: ratios[name]! }));
}

/**
 * Checks absolute held-out sizes (whole numbers ≥ 0) and returns them in order, followed by the remainder split.
 * @example checkSizes({ test: 500 }, "train"); // [{ name: "test", value: 500 }, { name: "train", value: -1 }]
 */
export function checkSizes(sizes: Readonly<Record<string, number>>, remainder: string): SplitTarget[] {
  const names = Object.keys(sizes);
  checkNames([...names, remainder], "split sizes");
  if (names.includes(remainder)) {
    throw new UsageError(
      `split sizes: "${remainder}" takes the records left over and cannot also have a size; size the held-out splits only`,
    );
  }
  for (const name of names) {
    const value = sizes[name]!;
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new UsageError(`split size ${name}=${String(value)} must be a whole number ≥ 0`);
    }
  }
  return [...names.map((name) => ({ name, value: sizes[name]! })), { name: remainder, value: -1 }];
}
