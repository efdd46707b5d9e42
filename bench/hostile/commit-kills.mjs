// Kills at each step of the dataset folder's commit: `curate run` writes dataset B over dataset A (other splits,
// gzipped) and is killed with SIGKILL right before its K-th file system call of the commit (a preload counts
// rename/symlink/link/copy/rm/unlink/mkdir from the rename of its temp folder on), for every K. After each kill the
// folder is read as a reader would (manifest.json, then every file it names, checked against its sha256): it must
// be all of A or all of B. Then a rerun with --force must succeed and leave only .curate-current and one generation.
// Usage: node bench/hostile/commit-kills.mjs [records=5000] [plain]   ("plain": A is a folder of plain files, as
// written before generations, which the commit first converts)
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const records = Number(process.argv[2] ?? 5000);
const plain = process.argv[3] === "plain";
const bin = fileURLToPath(new URL("../../packages/cli/dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "curate-commit-kills-"));
const preload = join(dir, "kill-at-step.mjs");
writeFileSync(
  preload,
  `import { createRequire, syncBuiltinESMExports } from "node:module";
import { basename } from "node:path";
const fs = createRequire(import.meta.url)("node:fs");
const killAt = Number(process.env.KILL_AT ?? 0);
const log = process.env.KILL_LOG;
const writeFileSync = fs.writeFileSync;
let armed = false, step = 0, depth = 0;
for (const name of ["renameSync", "symlinkSync", "linkSync", "copyFileSync", "rmSync", "unlinkSync", "mkdirSync"]) {
  const real = fs[name];
  fs[name] = function (...args) {
    if (!armed && name === "renameSync" && basename(String(args[0])).startsWith(".curate-tmp-")) armed = true;
    if (armed && depth === 0) {
      step++;
      if (log) writeFileSync(log, step + " " + name + " " + args.filter((a) => typeof a === "string").map((a) => basename(a)).join(" → ") + "\\n", { flag: "a" });
      if (step === killAt) process.kill(process.pid, "SIGKILL");
    }
    depth++;
    try { return real.apply(this, args); } finally { depth--; }
  };
}
syncBuiltinESMExports();
`,
);
const input = join(dir, "in.jsonl");
writeFileSync(
  input,
  `${Array.from({ length: records }, (_, i) => JSON.stringify({ instruction: `Question ${i}: ${"word ".repeat(i % 30)}`, output: `Answer ${i}` })).join("\n")}\n`,
);
const a = ["run", input, "--dedup", "exact", "--split", "train=0.8,validation=0.1,test=0.1"];
const b = ["run", input, "--dedup", "exact", "--split", "train=0.9,test=0.1", "--compress", "--seed", "7", "--force"];
const curate = (args, env = {}) =>
  spawnSync(process.execPath, ["--import", preload, bin, ...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });

const outputsOf = (out) => JSON.stringify(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).outputs);
const template = join(dir, "A");
curate([...a, "--out", template]);
if (plain) {
  const flat = join(dir, "A-plain");
  mkdirSync(flat);
  for (const f of readdirSync(template).filter((f) => !f.startsWith(".")))
    cpSync(join(template, f), join(flat, f), { dereference: true });
  rmSync(template, { recursive: true });
  cpSync(flat, template, { recursive: true });
}
const probe = join(dir, "probe");
cpSync(template, probe, { recursive: true, verbatimSymlinks: true });
const log = join(dir, "steps.log");
curate([...b, "--out", probe], { KILL_LOG: log });
const steps = readFileSync(log, "utf8").trim().split("\n");
const datasets = { A: outputsOf(template), B: outputsOf(probe) };

/** What a reader sees: A, B, none, or what is wrong. */
function view(out) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  } catch {
    return "no manifest";
  }
  for (const o of manifest.outputs) {
    try {
      const sha = createHash("sha256")
        .update(readFileSync(join(out, o.path)))
        .digest("hex");
      if (sha !== o.sha256) return `MIX: ${o.path} does not match`;
    } catch {
      return `MIX: ${o.path} missing`;
    }
  }
  const named = new Set(["manifest.json", ...manifest.outputs.map((o) => o.path)]);
  for (const f of readdirSync(out)) {
    if (f.startsWith(".") || named.has(f)) continue;
    try {
      statSync(join(out, f));
      return `MIX: stray ${f}`;
    } catch {
      // a link that leads nowhere: no file for a reader
    }
  }
  return (
    Object.entries(datasets).find(([, o]) => o === JSON.stringify(manifest.outputs))?.[0] ?? "MIX: unknown manifest"
  );
}

console.log(
  `${records} records; A: ${plain ? "plain files" : "generations"}; the commit of B takes ${steps.length} steps`,
);
console.log("| K | killed before | reader sees | rerun exit | reader sees after | hidden entries after |");
console.log("| --- | --- | --- | --- | --- | --- |");
const tally = {};
for (let k = 1; k <= steps.length; k++) {
  const out = join(dir, `out-${k}`);
  cpSync(template, out, { recursive: true, verbatimSymlinks: true });
  const killed = curate([...b, "--out", out], { KILL_AT: String(k) });
  const seen = killed.signal === "SIGKILL" ? view(out) : `not killed (${killed.status})`;
  tally[seen] = (tally[seen] ?? 0) + 1;
  const rerun = curate([...b, "--out", out]);
  const hidden = readdirSync(out).filter((f) => f.startsWith("."));
  console.log(
    `| ${k} | ${steps[k - 1].replace(/^\d+ /, "")} | ${seen} | ${rerun.status} | ${view(out)} | ${hidden.map((h) => h.replace(/\d+/g, "N")).join(" ")} |`,
  );
  rmSync(out, { recursive: true, force: true });
}
console.log(
  `\n${Object.entries(tally)
    .map(([k, n]) => `${k}: ${n}`)
    .join(", ")}`,
);
rmSync(dir, { recursive: true, force: true });
