// Throughput of @curate/read on ~100 MB of instruction JSONL, next to the ceilings it is built from.
//   npx tsc -p packages/core/tsconfig.build.json && npx tsc -p packages/read/tsconfig.build.json
//   node bench/read/read.bench.mjs [MB] [ROUNDS]      (100 MB, 3 rounds by default; best run reported)
// Plain Node over the BUILT package, so it measures what users run.
import { execFileSync } from "node:child_process";
import { createReadStream, existsSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";
import { runPipeline } from "../../packages/core/dist/index.js";
import { readInputs } from "../../packages/read/dist/index.js";

const mb = Number(process.argv[2] ?? 100);
const rounds = Number(process.argv[3] ?? 3);
const file = join(tmpdir(), `curate-read-bench-${mb}mb.jsonl`);
const gzFile = `${file}.gz`;

/** Writes the data in a child process (once; kept in tmpdir), so the peak RSS below is the readers' own. */
function prepare() {
  if (existsSync(file) && existsSync(gzFile)) return;
  execFileSync(process.execPath, [fileURLToPath(new URL("./data.mjs", import.meta.url)), file, String(mb)], {
    stdio: "inherit",
  });
}

const ctx = { stage: "read", reject() {}, duplicate() {}, warn() {} };

/** Each case returns the number of records it saw. */
const cases = [
  {
    name: "raw read (1 MiB chunks), no parsing",
    input: file,
    async run() {
      const handle = await open(file, "r");
      let n = 0;
      try {
        for (;;) {
          const buf = Buffer.allocUnsafe(1 << 20);
          const { bytesRead } = await handle.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
      } finally {
        await handle.close();
      }
      return 0 * n;
    },
  },
  {
    name: "ceiling: newline scan + toString + JSON.parse",
    input: file,
    async run() {
      const handle = await open(file, "r");
      let records = 0;
      let carry = Buffer.alloc(0);
      try {
        for (;;) {
          const fresh = Buffer.allocUnsafe(1 << 20);
          const { bytesRead } = await handle.read(fresh, 0, fresh.length, null);
          if (bytesRead === 0) break;
          const buf =
            carry.length > 0 ? Buffer.concat([carry, fresh.subarray(0, bytesRead)]) : fresh.subarray(0, bytesRead);
          let start = 0;
          for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
            if (JSON.parse(buf.toString("utf8", start, nl)) !== null) records++;
            start = nl + 1;
          }
          carry = buf.subarray(start);
        }
      } finally {
        await handle.close();
      }
      return records;
    },
  },
  {
    name: "readline + JSON.parse (for comparison)",
    input: file,
    async run() {
      let records = 0;
      for await (const line of createInterface({
        input: createReadStream(file),
        crlfDelay: Number.POSITIVE_INFINITY,
      })) {
        if (JSON.parse(line) !== null) records++;
      }
      return records;
    },
  },
  {
    name: "readInputs, per record (for await)",
    input: file,
    async run() {
      let records = 0;
      for await (const _ of readInputs([file])(ctx)) records++;
      return records;
    },
  },
  {
    name: "readInputs, batches (what the runner pulls)",
    input: file,
    async run() {
      let records = 0;
      for await (const batch of readInputs([file]).batches(ctx)) records += batch.length;
      return records;
    },
  },
  {
    name: "runPipeline(readInputs, []) batches",
    input: file,
    async run() {
      const run = runPipeline(readInputs([file]), []);
      let records = 0;
      for await (const batch of run.batches) records += batch.length;
      return records;
    },
  },
  {
    name: "gzip: gunzip stream only (ceiling)",
    input: gzFile,
    async run() {
      let n = 0;
      for await (const chunk of createReadStream(gzFile).pipe(createGunzip())) n += chunk.length;
      return 0 * n;
    },
  },
  {
    name: "gzip: readInputs, batches",
    input: gzFile,
    async run() {
      let records = 0;
      for await (const batch of readInputs([gzFile]).batches(ctx)) records += batch.length;
      return records;
    },
  },
];

prepare();
const plainBytes = statSync(file).size;
console.log(
  `${(plainBytes / 1e6).toFixed(1)} MB JSONL (${(statSync(gzFile).size / 1e6).toFixed(1)} MB gzipped) in ${tmpdir()}; ` +
    `best of ${rounds}, rounds interleaved; node ${process.version}`,
);
const results = cases.map((c) => ({ ...c, ms: Number.POSITIVE_INFINITY, cpuMs: Number.POSITIVE_INFINITY, records: 0 }));
for (let r = 0; r < rounds; r++) {
  for (const c of results) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const records = await c.run();
    const used = process.cpuUsage(cpu);
    c.ms = Math.min(c.ms, performance.now() - started);
    // CPU time (all threads: zlib runs on libuv's pool) is steadier than wall time on a shared machine.
    c.cpuMs = Math.min(c.cpuMs, (used.user + used.system) / 1000);
    c.records = records;
  }
}
// MB/s counts uncompressed JSONL bytes for every row, so gzip rows compare with plain ones.
console.log("| case | MB/s wall | MB/s per CPU-second | records/s wall | ms wall |\n|---|---:|---:|---:|---:|");
for (const c of results) {
  const seconds = c.ms / 1000;
  const rps = c.records > 0 ? Math.round(c.records / seconds).toLocaleString("en-US") : "–";
  const cpuMbps = plainBytes / 1e6 / (c.cpuMs / 1000);
  console.log(
    `| ${c.name} | ${(plainBytes / 1e6 / seconds).toFixed(0)} | ${cpuMbps.toFixed(0)} | ${rps} | ${c.ms.toFixed(0)} |`,
  );
}
console.log(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
