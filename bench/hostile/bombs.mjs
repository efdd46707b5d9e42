// Peak RSS of `curate validate` on decompression bombs, and the cost of the integrity pass on a normal gzip file.
// Usage: node bench/hostile/bombs.mjs [GiB=5]   (needs /usr/bin/time; writes its inputs to os.tmpdir())
import { execFileSync, spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";

const gib = Number(process.argv[2] ?? 5);
const bin = fileURLToPath(new URL("../../packages/cli/dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "curate-bombs-"));

/** A zstd frame of RLE blocks (128 KiB of one byte each, 4 bytes on disk), no checksum. */
function zstdBomb(bytes) {
  const blocks = Math.ceil(bytes / (1 << 17));
  // Window log 20 (1 MiB). fzstd shifts its whole window for every block, so a 128 MiB window makes it crawl.
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3])];
  for (let i = 0; i < blocks; i++) {
    const h = ((1 << 17) << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, 0x20]));
  }
  return Buffer.concat(parts);
}

async function gzipBomb(path, bytes) {
  const gz = createGzip({ level: 9 });
  const out = createWriteStream(path);
  gz.pipe(out);
  const chunk = Buffer.alloc(1 << 20, 0x20);
  for (let written = 0; written < bytes; written += chunk.length) {
    if (!gz.write(chunk)) await new Promise((r) => gz.once("drain", r));
  }
  gz.end();
  await new Promise((r) => out.on("close", r));
}

function measure(label, args) {
  const started = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", process.execPath, bin, ...args], { encoding: "utf8" });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const rss = Number(r.stderr.trim().split("\n").at(-1)) / 1024;
  const verdict = r.stderr.match(/(line_too_long|corrupt_input|invalid_json)/)?.[1] ?? "";
  console.log(`| ${label} | ${rss.toFixed(0)} MiB | ${seconds} s | exit ${r.status} ${verdict} |`);
}

const bytes = gib * 2 ** 30;
const zst = join(dir, "bomb.jsonl.zst");
writeFileSync(zst, zstdBomb(bytes));
const gz = join(dir, "bomb.jsonl.gz");
await gzipBomb(gz, bytes);
console.log(`| input | peak RSS | wall | result |\n| --- | --- | --- | --- |`);
measure(`zstd bomb, ${statSync(zst).size} B → ${gib} GiB of spaces`, ["validate", zst]);
measure(`gzip bomb, ${statSync(gz).size} B → ${gib} GiB of spaces`, ["validate", gz]);
// A normal file: plain vs gzip, to show what the integrity pass (a second decompression) costs.
const lines = Array.from({ length: 200_000 }, (_, i) =>
  JSON.stringify({ prompt: `question ${i} ${"word ".repeat(20)}`, completion: `${i}` }),
).join("\n");
const plain = join(dir, "normal.jsonl");
writeFileSync(plain, `${lines}\n`);
execFileSync("gzip", ["-k", plain]);
measure(`normal 200k records, plain (${(statSync(plain).size / 2 ** 20).toFixed(0)} MiB)`, ["validate", plain]);
measure("normal 200k records, gzip (checked, then read)", ["validate", `${plain}.gz`]);
rmSync(dir, { recursive: true, force: true });
