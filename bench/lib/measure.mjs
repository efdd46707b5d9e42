/**
 * Runs one command as a child process and measures its wall time and peak RSS. Peak RSS comes from GNU time
 * (`/usr/bin/time -f %M`), which reads the kernel's rusage for the child and everything it waited for; for a shell
 * pipeline that is the largest single process in it, not the sum.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GNU_TIME = "/usr/bin/time";

let gnuTime;
/** True when GNU time is installed and understands `-f` and `-o` (BusyBox's does not write `-o`). */
export function hasGnuTime() {
  if (gnuTime === undefined) {
    gnuTime = false;
    if (existsSync(GNU_TIME)) {
      const dir = mkdtempSync(join(tmpdir(), "curate-bench-time-"));
      const file = join(dir, "rss");
      const probe = spawnSync(GNU_TIME, ["-f", "%M", "-o", file, "true"], { stdio: "ignore" });
      try {
        gnuTime = probe.status === 0 && /^\d+\s*$/.test(readFileSync(file, "utf8"));
      } catch {
        gnuTime = false;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return gnuTime;
}

/** What to tell the user when GNU time is missing. */
export const GNU_TIME_HINT = "peak RSS of non-Node rows needs GNU time: apt-get install -y time";

/** True when `command` is on PATH. */
export function hasCommand(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/**
 * Runs `argv` and resolves with its exit code, output, wall time (ms, measured here with a monotonic clock) and
 * peak RSS in KiB (GNU time; undefined without it). The child runs in its own process group so that a timeout
 * ends a whole pipeline. Output is kept up to `maxOutput` bytes per stream.
 * @example const { code, wallMs, maxRssKb } = await measure(["node", "-e", "1"], { timeoutMs: 10_000 });
 */
export function measure(argv, { timeoutMs = 600_000, cwd, env, maxOutput = 1 << 20 } = {}) {
  const timed = hasGnuTime();
  const dir = timed ? mkdtempSync(join(tmpdir(), "curate-bench-time-")) : undefined;
  const rssFile = dir ? join(dir, "rss") : undefined;
  const full = timed ? [GNU_TIME, "-f", "%M", "-o", rssFile, ...argv] : argv;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(full[0], full.slice(1), {
      cwd,
      env: env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const out = [];
    const err = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on("data", (chunk) => {
      if (outBytes < maxOutput) out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr.on("data", (chunk) => {
      if (errBytes < maxOutput) err.push(chunk);
      errBytes += chunk.length;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      if (dir) rmSync(dir, { recursive: true, force: true });
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      let maxRssKb;
      if (rssFile) {
        try {
          // GNU time writes "Command exited with non-zero status N" before the format line when the child fails.
          const lines = readFileSync(rssFile, "utf8").trim().split("\n");
          const value = Number(lines.at(-1));
          if (Number.isFinite(value) && value > 0) maxRssKb = value;
        } catch {
          // No file: the child was killed before time could write it.
        }
        rmSync(dir, { recursive: true, force: true });
      }
      resolve({
        code: code ?? -1,
        signal,
        timedOut,
        wallMs,
        maxRssKb,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}
