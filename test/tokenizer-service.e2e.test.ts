import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import type { ServiceStatus } from "@curate/tokenizer-service";
import { afterAll, describe, expect, it } from "vitest";
import { curateBin, repoRoot, runCli, tempDir } from "./helpers/cli.js";

const { dir, cleanup } = tempDir("curate-svc-e2e-");
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  cleanup();
});

/** Real-looking chat records: questions and answers of a few sentences. */
function chatRecords(n: number, seed = 1): string {
  const topics = ["the tides", "sourdough starters", "TCP slow start", "the French Revolution", "garbage collection"];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const topic = topics[(i * 7 + seed) % topics.length]!;
    lines.push(
      JSON.stringify({
        messages: [
          { role: "system", content: "You are a patient teacher." },
          { role: "user", content: `Explain ${topic} to a curious twelve-year-old (question ${i}).` },
          {
            role: "assistant",
            content: `Here is ${topic} in short: ${"it starts small, grows step by step, and settles once it finds a balance. ".repeat(1 + (i % 5))}Does that help? (${i})`,
          },
        ],
      }),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Starts `curate tokenizer serve` and waits until it listens. */
async function startService(
  socket: string,
  args: string[] = [],
): Promise<{ child: ChildProcess; stderr: () => string; exited: Promise<number> }> {
  const child = spawn(process.execPath, [curateBin, "tokenizer", "serve", "--socket", socket, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("listening on")) resolve();
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return { child, stderr: () => stderr, exited };
}

async function status(socket: string): Promise<ServiceStatus> {
  const { stdout, exitCode, stderr } = await runCli(["tokenizer", "status", "--socket", socket, "--json"]);
  expect(exitCode, stderr).toBe(0);
  return JSON.parse(stdout);
}

async function until(what: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `curate tokens` reading stdin that the test keeps open (so it is surely mid-run when something is killed). */
function streamingClient(args: string[]): { child: ChildProcess; result: Promise<{ code: number; stderr: string }> } {
  const child = spawn(process.execPath, [curateBin, "tokens", ...args], {
    cwd: repoRoot,
    stdio: ["pipe", "ignore", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin!.on("error", () => {});
  const result = new Promise<{ code: number; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code: code ?? -1, stderr })),
  );
  return { child, result };
}

/** JSON without what differs between any two runs: timings, the creation time, the output folder. */
const withoutTimings = (json: string) =>
  JSON.stringify(JSON.parse(json), (key, value) => (/ms$|Ms$|^createdAt$|^out$/.test(key) ? undefined : value));

describe("curate tokenizer serve", () => {
  const input = join(dir, "chat.jsonl");
  writeFileSync(input, chatRecords(600));
  const socket = join(dir, "svc", "tok.sock");

  it("serves curate tokens and curate run with the in-process pool's results, byte for byte; status reports it", async () => {
    const service = await startService(socket, ["--threads", "2"]);
    expect(service.stderr()).toMatch(/listening on .*tok\.sock \(device cpu, 2 threads/);

    const local = await runCli(["tokens", input, "--tokenizer", "llama3", "--out", join(dir, "a.jsonl"), "--json"]);
    const remote = await runCli([
      "tokens",
      input,
      "--tokenizer",
      "llama3",
      "--out",
      join(dir, "b.jsonl"),
      "--json",
      "--tokenizer-service",
      socket,
    ]);
    expect(remote.exitCode, remote.stderr).toBe(0);
    expect(readFileSync(join(dir, "b.jsonl"))).toEqual(readFileSync(join(dir, "a.jsonl")));
    expect(withoutTimings(remote.stdout)).toBe(withoutTimings(local.stdout));

    // curate run, the service given by the environment: the dataset folder is identical, manifest included.
    const runArgs = (out: string) => ["run", input, "--tokenizer", "llama3", "--max-tokens", "80", "--out", out, "-q"];
    expect((await runCli(runArgs(join(dir, "run-local")))).exitCode).toBe(1); // some records are over 80 tokens
    const viaEnv = await runCli(runArgs(join(dir, "run-svc")), { env: { CURATE_TOKENIZER_SERVICE: socket } });
    expect(viaEnv.exitCode, viaEnv.stderr).toBe(1);
    for (const file of readdirSync(join(dir, "run-local")).filter((f) => !f.startsWith("."))) {
      const a = readFileSync(join(dir, "run-local", file), "utf8");
      const b = readFileSync(join(dir, "run-svc", file), "utf8");
      if (file === "manifest.json") expect(withoutTimings(b)).toBe(withoutTimings(a));
      else expect(b).toBe(a);
    }

    const s = await status(socket);
    expect(s).toMatchObject({ device: "cpu", threads: 2, clients: { connected: 0, served: 2 }, queueDepth: 0 });
    expect(s.tokenizers.map((t) => t.name)).toEqual(["llama3"]);
    expect(s.served.records).toBe(1200);
    expect(s.served.tokens).toBeGreaterThan(50_000);
    const text = await runCli(["tokenizer", "status", "--socket", socket]);
    expect(text.stderr).toMatch(/device\s+cpu, 2 threads/);
    expect(text.stderr).toMatch(/tokenizers loaded\s+llama3 \(fast, \d+ ms\)/);
    expect(text.stderr).toMatch(/records served\s+1,200/);

    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    expect(service.stderr()).toMatch(/stopping \(SIGTERM\) after \d+ batches/);
    expect(existsSync(socket)).toBe(false);
  });

  it("keeps serving others when a client is killed mid-request, and answers garbage with an error frame", async () => {
    const socket = join(dir, "svc", "killed-client.sock");
    const service = await startService(socket, ["--threads", "1"]);
    const victim = streamingClient(["--tokenizer", "o200k_base", "--tokenizer-service", socket, "--out", "/dev/null"]);
    victim.child.stdin!.write(chatRecords(3000, 2));
    await until(async () => {
      const s = await status(socket);
      return s.clients.connected === 1 && s.served.batches >= 1; // streaming: more batches are in flight
    });
    victim.child.kill("SIGKILL");
    await victim.result;

    const garbage = await new Promise<Buffer>((resolve, reject) => {
      const s = createConnection(socket);
      const got: Buffer[] = [];
      s.on("connect", () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      s.on("data", (c: Buffer) => got.push(c));
      s.on("close", () => resolve(Buffer.concat(got)));
      s.on("error", reject);
    });
    expect(garbage.readUInt8(4)).toBe(3); // an error frame
    expect(garbage.toString()).toMatch(/bad frame length .*not a curate tokenizer client/);

    const after = await runCli([
      "tokens",
      input,
      "--tokenizer",
      "o200k_base",
      "--tokenizer-service",
      socket,
      "--json",
      "--out",
      join(dir, "c.jsonl"),
    ]);
    expect(after.exitCode, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).tokens.records).toBe(600);
    await until(async () => (await status(socket)).clients.connected === 0);
    expect(service.child.exitCode).toBe(null);
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
  });

  it("makes a client exit 2 naming the socket when the service dies mid-run", async () => {
    const socket = join(dir, "svc", "killed-service.sock");
    const service = await startService(socket, ["--threads", "1"]);
    const client = streamingClient(["--tokenizer", "o200k_base", "--tokenizer-service", socket, "--out", "/dev/null"]);
    client.child.stdin!.write(chatRecords(600, 3));
    await until(async () => (await status(socket)).served.batches >= 1);
    service.child.kill("SIGKILL");
    await service.exited;
    client.child.stdin!.end(chatRecords(600, 4));
    const { code, stderr } = await client.result;
    expect(code).toBe(2);
    expect(stderr).toContain(`tokenizer service at ${socket}`);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe("clients without a service", () => {
  const input = join(dir, "small.jsonl");
  writeFileSync(input, chatRecords(10));

  it("exit 2 naming the socket when given a path", async () => {
    const socket = join(dir, "nobody.sock");
    const r = await runCli(["tokens", input, "--tokenizer", "o200k_base", "--tokenizer-service", socket]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`no tokenizer service at ${socket} (no socket there): start one with`);
    const s = await runCli(["tokenizer", "status", "--socket", socket]);
    expect(s.exitCode).toBe(2);
    expect(s.stderr).toContain(`no tokenizer service at ${socket}`);
  });

  it("fall back to in-process threads with auto, and say so", async () => {
    const runtime = join(dir, "runtime");
    const local = await runCli(["tokens", input, "--tokenizer", "o200k_base", "--json", "--out", join(dir, "l.jsonl")]);
    const auto = await runCli(["tokens", input, "--tokenizer", "o200k_base", "--json", "--out", join(dir, "m.jsonl")], {
      env: { CURATE_TOKENIZER_SERVICE: "auto", XDG_RUNTIME_DIR: runtime },
    });
    expect(auto.exitCode, auto.stderr).toBe(0);
    expect(auto.stderr).toContain(
      `no tokenizer service at ${join(runtime, "curate", "tokenizer.sock")}: counting with in-process threads`,
    );
    expect(withoutTimings(auto.stdout)).toBe(withoutTimings(local.stdout));
  });

  it("--device gpu is a usage error until a GPU backend is built in", async () => {
    const r = await runCli(["tokenizer", "serve", "--socket", join(dir, "gpu.sock"), "--device", "gpu"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/no GPU backend built in/);
  });
});
