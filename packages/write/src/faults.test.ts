import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DatasetWriter } from "./dataset.js";
import { fileSink } from "./jsonl.js";
import { LOCK_FILE, lockFolder, makeFolder } from "./lock.js";

const root = mkdtempSync(join(tmpdir(), "curate-faults-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${++n}`);

describe("the output folder lock", () => {
  it("a second writer into the same folder is refused while the first runs, and allowed after", () => {
    const dir = fresh();
    const first = new DatasetWriter({ dir, splits: ["train"] });
    expect(readFileSync(join(dir, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
    // Same process, second writer: the lock is per folder, not per process.
    expect(() => new DatasetWriter({ dir, splits: ["train"], force: true })).toThrow(/another curate run \(pid \d+\)/);
    first.abort();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const second = new DatasetWriter({ dir, splits: ["train"] });
    second.abort();
  });

  it("a lock held by another live process is refused; a dead one's (a killed run) is taken over", async () => {
    const dir = fresh();
    mkdirSync(dir);
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"]);
    try {
      writeFileSync(join(dir, LOCK_FILE), `${sleeper.pid}\n`);
      expect(() => lockFolder(dir)).toThrow(new RegExp(`another curate run \\(pid ${sleeper.pid}\\)`));
    } finally {
      sleeper.kill();
    }
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    writeFileSync(join(dir, LOCK_FILE), `${dead}\n`);
    const release = lockFolder(dir);
    expect(readFileSync(join(dir, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it("an output folder under /proc fails at once with the path and the reason (mkdir -p there never returned)", () => {
    if (!existsSync("/proc/self")) return;
    expect(() => makeFolder("/proc/curate-x/y")).toThrow(/cannot create the output folder \/proc\/curate-x/);
    expect(() => new DatasetWriter({ dir: "/proc/curate-x" })).toThrow(/CURATE_IO|cannot create the output folder/);
  });
});

describe("single-file outputs", () => {
  it("a full disk is CURATE_IO with the path and ENOSPC, not a crash", () => {
    if (!existsSync("/dev/full")) return;
    const sink = fileSink("/dev/full");
    sink.write("x".repeat(100));
    expect(() => sink.close()).toThrow(/cannot write \/dev\/full: ENOSPC/);
  });

  it("/dev/null is written to, never replaced", () => {
    if (!existsSync("/dev/null")) return;
    const sink = fileSink("/dev/null");
    sink.write("{}\n");
    sink.close();
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
  });

  it("a symlink to a file: the file gets the output, the link stays a link", () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, "real.jsonl"), "old\n");
    symlinkSync("real.jsonl", join(dir, "link.jsonl"));
    const sink = fileSink(join(dir, "link.jsonl"));
    sink.write("new\n");
    sink.close();
    expect(lstatSync(join(dir, "link.jsonl")).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, "real.jsonl"), "utf8")).toBe("new\n");
  });

  it("a FIFO is written to as a stream", async () => {
    const dir = fresh();
    mkdirSync(dir);
    const fifo = join(dir, "pipe");
    if (spawnSync("mkfifo", [fifo]).status !== 0) return;
    const reader = spawn("cat", [fifo]);
    const got: Buffer[] = [];
    reader.stdout.on("data", (c: Buffer) => got.push(c));
    const done = new Promise((resolve) => reader.on("close", resolve));
    const sink = fileSink(fifo);
    sink.write('{"a":1}\n');
    sink.close();
    await done;
    expect(Buffer.concat(got).toString()).toBe('{"a":1}\n');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });
});

describe("where the output may go", () => {
  it("a split named rejects, duplicates or manifest is refused before anything is written", () => {
    for (const name of ["rejects", "duplicates", "manifest", "Rejects"]) {
      const dir = fresh();
      expect(() => new DatasetWriter({ dir, splits: ["train", name] })).toThrow(/a split cannot be named/);
      expect(existsSync(dir)).toBe(false);
    }
  });

  it("--out that is an input folder, or inside one, is refused; beside one is fine", () => {
    const input = fresh();
    mkdirSync(input);
    expect(() => new DatasetWriter({ dir: input, inputs: [input] })).toThrow(/is the input folder/);
    expect(() => new DatasetWriter({ dir: join(input, "out"), inputs: [input] })).toThrow(/inside the input folder/);
    const beside = new DatasetWriter({ dir: `${input}-out`, inputs: [input, join(input, "x.jsonl"), "-"] });
    beside.abort();
  });
});
