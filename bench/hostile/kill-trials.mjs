// Kill trials: start `curate run` into a fresh folder, send SIGINT, SIGTERM or SIGKILL at a random moment, and
// check what is left: the exit code, leftover temp folders / lock in the output folder, split files without a
// manifest, and curate-split-/curate-near- folders in the private TMPDIR. Then a second run into the same folder
// (with --force) must succeed and leave no leftovers. bench/hostile/commit-kills.mjs kills at each commit step.
// Usage: node bench/hostile/kill-trials.mjs [trials=12] [records=60000]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const trials = Number(process.argv[2] ?? 12);
const records = Number(process.argv[3] ?? 60_000);
const bin = fileURLToPath(new URL("../../packages/cli/dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "curate-kills-"));
const temp = join(dir, "tmp");
mkdirSync(temp);
const input = join(dir, "in.jsonl");
writeFileSync(
  input,
  `${Array.from({ length: records }, (_, i) => JSON.stringify({ instruction: `q ${i % 40000} ${"w".repeat(i % 50)}`, output: `a ${i}` })).join("\n")}\n`,
);
const env = { ...process.env, TMPDIR: temp };
const args = (out, force) => [
  "run",
  input,
  "--dedup",
  "near",
  "--split",
  "train=0.9,test=0.1",
  "--out",
  out,
  ...(force ? ["--force"] : []),
];

// A full run's length, to pick kill moments in it.
const t0 = performance.now();
spawnSync(process.execPath, [bin, ...args(join(dir, "timing"), false)], { env });
const full = performance.now() - t0;
console.log(`full run: ${(full / 1000).toFixed(1)} s; ${trials} trials`);
console.log("| # | signal | at | exit | left in out/ | complete? | TMPDIR after | rerun exit | left after rerun |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
const signals = ["SIGINT", "SIGTERM", "SIGKILL"];
for (let t = 0; t < trials; t++) {
  const out = join(dir, `out-${t}`);
  const signal = signals[t % 3];
  const at = Math.round(Math.random() * full);
  const child = spawn(process.execPath, [bin, ...args(out, false)], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const timer = setTimeout(() => child.kill(signal), at);
  const code = await new Promise((r) => child.on("close", (c, s) => r(c ?? s)));
  clearTimeout(timer);
  // `.curate-current` and its generation are the committed dataset, not leftovers.
  const ours = (f) => f === ".curate-current" || /^\.curate-gen-/.test(f);
  const left = existsSync(out)
    ? readdirSync(out)
        .filter((f) => !ours(f))
        .sort()
    : [];
  const complete = left.includes("manifest.json") ? "yes" : left.some((f) => f.endsWith(".jsonl")) ? "MIXED" : "empty";
  const tmpAfter = readdirSync(temp).length;
  const rerun = spawnSync(process.execPath, [bin, ...args(out, true)], { env });
  const after = readdirSync(out).filter((f) => f.startsWith(".") && !ours(f));
  console.log(
    `| ${t + 1} | ${signal} | ${at} ms | ${code} | ${left.filter((f) => f.startsWith(".")).join(" ") || "-"} | ${complete} | ${tmpAfter} | ${rerun.status} | ${after.join(" ") || "-"} |`,
  );
}
console.log(`TMPDIR entries at the end: ${readdirSync(temp).length}`);
rmSync(dir, { recursive: true, force: true });
