// Deep nesting: wall time and peak RSS of `curate validate` and `curate run` on one record nested N levels deep
// (alone, and with a lone surrogate or a 1e400 at the bottom, which once made it worse than quadratic), among 2,000
// ordinary records. Every deep record must be one `too_deep` reject (exit 1) in time linear in its size.
// Usage: node bench/hostile/deep.mjs [levels=5000,20000,100000,1000000]   (needs /usr/bin/time)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const levels = (process.argv[2] ?? "5000,20000,100000,1000000").split(",").map(Number);
const bin = fileURLToPath(new URL("../../packages/cli/dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "curate-deep-"));
const ordinary = Array.from({ length: 2000 }, (_, i) =>
  JSON.stringify({ instruction: `Question ${i}: what is ${i} + ${i}?`, output: `${2 * i}` }),
);
const bottoms = { plain: "1", "lone surrogate": '"\\ud800"', "1e400": "1e400" };

function measure(args) {
  const started = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", process.execPath, bin, ...args], { encoding: "utf8" });
  const seconds = (performance.now() - started) / 1000;
  const rss = Number(r.stderr.trim().split("\n").at(-1)) / 1024;
  return { seconds, rss, status: r.status, crashed: /Maximum call stack|internal error/.test(r.stderr) };
}

{
  const input = join(dir, "ordinary.jsonl");
  writeFileSync(input, `${ordinary.join("\n")}\n`);
  const v = measure(["validate", input, "--quiet"]);
  const r = measure(["run", input, "--out", join(dir, "out-ordinary"), "--quiet", "--dedup", "exact"]);
  console.log(
    `baseline, no deep record: validate ${v.seconds.toFixed(2)} s, run ${r.seconds.toFixed(2)} s, ${r.rss.toFixed(0)} MiB\n`,
  );
}
console.log("| levels | bottom | line bytes | validate | run | run: reject code | peak RSS (run) |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const n of levels) {
  for (const [name, bottom] of Object.entries(bottoms)) {
    const deep = `{"instruction":"x","output":${"[".repeat(n)}${bottom}${"]".repeat(n)}}`;
    const input = join(dir, `deep-${n}.jsonl`);
    writeFileSync(input, `${[...ordinary.slice(0, 1000), deep, ...ordinary.slice(1000)].join("\n")}\n`);
    const v = measure(["validate", input, "--quiet"]);
    const out = join(dir, `out-${n}-${name.replace(/\W/g, "")}`);
    const r = measure(["run", input, "--out", out, "--quiet", "--dedup", "exact"]);
    let code = "?";
    try {
      code = readFileSync(join(out, "rejects.jsonl"), "utf8").match(/"code":"(\w+)"/)?.[1] ?? "none";
    } catch {
      code = r.crashed ? "CRASH" : "no output";
    }
    const cell = (m) => `${m.seconds.toFixed(2)} s, exit ${m.status}${m.crashed ? " CRASH" : ""}`;
    console.log(
      `| ${n.toLocaleString("en")} | ${name} | ${deep.length.toLocaleString("en")} | ${cell(v)} | ${cell(r)} | ${code} | ${r.rss.toFixed(0)} MiB |`,
    );
  }
}
rmSync(dir, { recursive: true, force: true });
