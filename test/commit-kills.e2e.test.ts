import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DatasetWriter } from "@curate/write";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, tempDir } from "./helpers/cli.js";

// The dataset folder's commit (packages/write/src/generation.ts), killed with SIGKILL right before each of its file
// system steps in turn: a reader must see the old dataset or the new one, never a mix, and the next run must clean up
// whatever the kill left. The writer runs in a child process (the built package) whose `node:fs` functions count the
// commit's steps and kill the process at step K; the first step is the rename of the writer's temp folder.

const { dir: tmp, cleanup } = tempDir("curate-commit-kills-");
afterAll(cleanup);
const writerUrl = pathToFileURL(join(repoRoot, "packages/write/dist/index.js")).href;

/**
 * Writes dataset "A" (train, validation and test, plain text) or "B" (train and test, gzipped, other records) into
 * `dir` with `force`. The same function runs in the child (its source is pasted into the child's script) and in this
 * process for the reruns, so both write byte-identical datasets.
 */
function writeDataset(Writer: typeof DatasetWriter, dir: string, recipe: string): void {
  const a = recipe === "A";
  const splits = a ? ["train", "validation", "test"] : ["train", "test"];
  const writer = new Writer({ dir, splits, compress: !a, force: true });
  const n = 300;
  for (let line = 1; line <= n; line++) {
    const content = `${recipe} question ${line}`;
    const data = {
      messages: [
        { role: "user", content },
        { role: "assistant", content: `answer ${line * 7}` },
      ],
    };
    writer.write({ data, source: { file: "chat.jsonl", line }, meta: { split: splits[line % splits.length] } });
  }
  const read = { name: "read", in: n, out: n, rejected: 0, duplicates: 0, warnings: 0, selfMs: 1 };
  const counts = [{ ...read, rejectedByCode: {}, duplicatesByMethod: {}, warningsByCode: {} }];
  writer.finish({ counts, toolVersion: "0.0.0-test" });
}

const child = `
  import { createRequire, syncBuiltinESMExports } from "node:module";
  import { basename } from "node:path";
  const fs = createRequire(import.meta.url)("node:fs");
  const [dir, killAt, recipe] = process.argv.slice(1);
  let armed = false;
  let step = 0;
  let depth = 0; // a step is a call by curate's code, not one made inside another step (rmSync's own unlinks)
  for (const name of ["renameSync", "symlinkSync", "linkSync", "copyFileSync", "rmSync", "unlinkSync", "mkdirSync"]) {
    const real = fs[name];
    fs[name] = function (...args) {
      if (!armed && name === "renameSync" && basename(String(args[0])).startsWith(".curate-tmp-")) armed = true;
      if (armed && depth === 0 && ++step === Number(killAt)) process.kill(process.pid, "SIGKILL");
      depth++;
      try {
        return real.apply(this, args);
      } finally {
        depth--;
      }
    };
  }
  syncBuiltinESMExports();
  const { DatasetWriter } = await import(${JSON.stringify(writerUrl)});
  ${writeDataset.toString()}
  writeDataset(DatasetWriter, dir, recipe);
  process.stdout.write(JSON.stringify({ steps: step }));
`;

function runWriter(dir: string, recipe: "A" | "B", killAt = 0): Promise<{ signal: string | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", child, dir, String(killAt), recipe], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    p.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    p.on("error", reject);
    p.on("close", (code, signal) => {
      if (code !== 0 && signal === null) reject(new Error(`writer failed (${code}): ${stderr}`));
      else resolve({ signal, stdout });
    });
  });
}

interface Manifest {
  outputs: { path: string; sha256: string }[];
}

/**
 * What a reader of `dir` sees: which dataset the manifest is (by its outputs' checksums), after checking that every
 * file the manifest names holds exactly the bytes it records, and that no other name in the folder leads to a file.
 */
function view(dir: string, datasets: Record<string, string>): string {
  let manifest: Manifest | undefined;
  try {
    manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const names = new Set(["manifest.json", "notes.txt", ...(manifest?.outputs.map((o) => o.path) ?? [])]);
  for (const name of readdirSync(dir)) {
    if (name.startsWith(".") || names.has(name)) continue;
    let leads = true;
    try {
      statSync(join(dir, name));
    } catch {
      leads = false;
    }
    expect(leads, `${name} leads to a file that the manifest does not name`).toBe(false);
  }
  if (!manifest) return "none";
  for (const output of manifest.outputs) {
    const sha = createHash("sha256")
      .update(readFileSync(join(dir, output.path)))
      .digest("hex");
    expect(sha, `${output.path} does not hold the bytes its manifest records`).toBe(output.sha256);
  }
  const key = JSON.stringify(manifest.outputs);
  const which = Object.entries(datasets).find(([, outputs]) => outputs === key)?.[0];
  expect(which, "the manifest is neither the old dataset's nor the new one's").toBeDefined();
  return which!;
}

const outputsOf = (dir: string) =>
  JSON.stringify((JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest).outputs);

describe("the dataset folder's commit under kill -9 at each step", () => {
  const datasets: Record<string, string> = {};
  const template = join(tmp, "template-A");
  const legacy = join(tmp, "template-legacy");

  beforeAll(async () => {
    const b = join(tmp, "probe-B");
    await runWriter(b, "B");
    datasets.B = outputsOf(b);
    await runWriter(template, "A");
    datasets.A = outputsOf(template);
    writeFileSync(join(template, "notes.txt"), "the user's own notes\n");
    // A folder written before generations: the same dataset as plain files, no `.curate-current`.
    mkdirSync(legacy);
    for (const name of readdirSync(template).filter((f) => !f.startsWith("."))) {
      writeFileSync(join(legacy, name), readFileSync(join(template, name)));
    }
  }, 60_000);

  for (const [scenario, from] of [
    ["an empty folder", undefined],
    ["a folder holding a dataset", template],
    ["a folder holding a dataset written as plain files", legacy],
  ] as const) {
    it(`over ${scenario}: old or new, never a mix, and the next run cleans up`, async () => {
      // How many steps this commit takes (a folder of plain files is first moved into a generation: more steps).
      const probe = join(tmp, `probe-${scenario.length}`);
      if (from) cpSync(from, probe, { recursive: true, verbatimSymlinks: true });
      const steps = JSON.parse((await runWriter(probe, "B")).stdout).steps as number;
      expect(steps).toBeGreaterThan(10);
      const seen: string[] = [];
      for (let k = 1; k <= steps; k++) {
        const dir = join(tmp, `${from ? from.split("-").at(-1) : "empty"}-${k}`);
        if (from) cpSync(from, dir, { recursive: true, verbatimSymlinks: true });
        const killed = await runWriter(dir, "B", k);
        expect(killed.signal, `step ${k}`).toBe("SIGKILL");
        seen.push(view(dir, datasets));
        if (from) expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("the user's own notes\n");

        // The next run (--force; in this process, to halve the processes started) takes over the dead run's lock and
        // removes what the kill left.
        writeDataset(DatasetWriter, dir, "B");
        expect(view(dir, datasets)).toBe("B");
        const hidden = readdirSync(dir).filter((f) => f.startsWith("."));
        expect(hidden.sort(), `step ${k}`).toEqual([
          ".curate-current",
          expect.stringMatching(/^\.curate-gen-\d+-\d+$/),
        ]);
        for (const name of readdirSync(dir).filter((f) => !f.startsWith(".") && f !== "notes.txt")) {
          expect(lstatSync(join(dir, name)).isSymbolicLink(), name).toBe(true);
          statSync(join(dir, name)); // leads somewhere
        }
      }
      // Every kill left one whole dataset, and the kills did fall on both sides of the switch.
      const old = from ? "A" : "none";
      expect(new Set(seen)).toEqual(new Set([old, "B"]));
      expect(seen.indexOf("B")).toBe(seen.lastIndexOf(old) + 1);
    }, 400_000);
  }
});
