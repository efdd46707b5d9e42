import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChatInput, resolveTokenizer, TokenizerPool } from "@curate/tokenizer-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTokenizerService, type TokenizerServiceClient } from "./client.js";
import { packStrings } from "./codec.js";
import { openDevice } from "./device.js";
import { encodeFrame, type Frame, FrameReader, REQUEST } from "./frames.js";
import { openServiceTokenizer } from "./open.js";
import { serveTokenizers, type TokenizerService } from "./server.js";

// The tokenizer package's golden corpus (multilingual text, emoji sequences, CRLF, odd whitespace, long words), plus
// what UTF-8 cannot carry as it is: lone surrogates must reach the tokenizer unchanged.
const corpus: string[] = JSON.parse(
  readFileSync(new URL("../../tokenizer-worker/src/golden/corpus.json", import.meta.url), "utf8"),
);
const texts = [...corpus, "", "plain ascii", "caf\u00e9 \ud83d\ude00", "lone \ud800 high", "lone \udfff low"];
const wellFormed = texts.filter((t) => t.isWellFormed());
const chats: ChatInput[] = [
  ...corpus.slice(0, 40).map((text, i) => ({
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: text },
      { role: "assistant", content: corpus[(i * 7) % corpus.length]! },
    ],
  })),
  // Not plain: a name, content parts, weights, tools: these travel as JSON and must count the same.
  {
    messages: [
      { role: "user", content: [{ type: "text", text: "What is 2+2?" }], name: "ann" },
      { role: "assistant", content: "4", weight: 0 },
      { role: "assistant", content: "Four." },
    ],
  },
  {
    messages: [
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } }],
      },
      { role: "tool", content: '{"c":21}', tool_call_id: "c1" },
      { role: "assistant", content: "21 °C." },
    ],
    tools: [{ type: "function", function: { name: "weather", parameters: { type: "object", properties: {} } } }],
  },
  { messages: [] },
];

describe("tokenizer service", () => {
  const dir = mkdtempSync(join(tmpdir(), "curate-svc-"));
  const socket = join(dir, "tok.sock");
  const log: string[] = [];
  let service: TokenizerService;
  let client: TokenizerServiceClient;
  const pool = new TokenizerPool({ threads: 1 });

  beforeAll(async () => {
    service = await serveTokenizers({ socket, threads: 2, device: "cpu", log: (l) => log.push(l) });
    client = await connectTokenizerService(socket);
  });
  afterAll(async () => {
    await client?.close();
    await service?.close();
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(["o200k_base", "llama3"])("gives the in-process pool's results, record for record (%s)", async (name) => {
    const spec = resolveTokenizer(name);
    const remote = client.tokenizer(spec);
    const local = pool.tokenizer(spec);
    expect(await remote.info()).toEqual(await local.info());
    expect(await remote.count(texts)).toEqual(await local.count(texts));
    const ids = await remote.encode(texts);
    expect(ids).toEqual(await local.encode(texts));
    expect(ids.every((a) => a instanceof Uint32Array)).toBe(true);
    expect(await remote.decode(ids.slice(0, 50))).toEqual(await local.decode(ids.slice(0, 50)));
    expect(await remote.countChats(chats)).toEqual(await local.countChats(chats));
    expect(await remote.count([])).toEqual(new Uint32Array(0));
  });

  it("loads each tokenizer once and reports it, the clients and the traffic in status", async () => {
    const status = await client.status();
    expect(status.device).toBe("cpu");
    expect(status.threads).toBe(2);
    expect(status.tokenizers.map((t) => t.name).sort()).toEqual(["llama3", "o200k_base"]);
    expect(status.served.records).toBeGreaterThan(2 * texts.length);
    expect(status.served.tokens).toBeGreaterThan(1000);
    expect(status.clients).toEqual({ connected: 1, served: 1 });
    expect(log.filter((l) => l.startsWith("loaded llama3"))).toHaveLength(1);
    expect(log[0]).toMatch(/^listening on .*tok\.sock \(device cpu, 2 threads/);
  });

  it("serves a small client between a big client's batches (round-robin)", async () => {
    const spec = resolveTokenizer("o200k_base");
    const big = await connectTokenizerService(socket);
    const small = await connectTokenizerService(socket);
    try {
      const batch = Array.from({ length: 50 }, (_, i) => `${corpus[i % corpus.length]} ${i}`.repeat(8));
      let bigDone = 0;
      const bigRun = Promise.all(
        Array.from({ length: 80 }, () =>
          big
            .tokenizer(spec)
            .count(batch)
            .then(() => bigDone++),
        ),
      );
      // Let the big client fill the service's queue first.
      await new Promise((r) => setTimeout(r, 30));
      const before = bigDone;
      const [counts] = await Promise.all([small.tokenizer(spec).count(wellFormed.slice(0, 10))]);
      const waitedFor = bigDone - before;
      expect(counts).toEqual(await pool.tokenizer(spec).count(wellFormed.slice(0, 10)));
      // The service runs 8 batches at once (2 threads × 4); taking clients in turn, the small one's batch starts
      // after at most those and one more of the big one's, not after the big one's whole queue (first come, first
      // served: ~70 here).
      expect(waitedFor).toBeLessThan(16);
      await bigRun;
      expect(bigDone).toBe(80);
    } finally {
      await Promise.all([big.close(), small.close()]);
    }
  });

  it("answers bad frames with an error frame and keeps serving", async () => {
    const answers = await rawExchange(
      socket,
      [
        // Unknown op.
        ...encodeFrame({ type: REQUEST, id: 7, header: { op: "explode" }, parts: [] }),
        // A count whose lengths run past its text.
        ...encodeFrame({
          type: REQUEST,
          id: 8,
          header: { op: "count", spec: { kind: "openai", encoding: "o200k_base" }, strings: "utf16" },
          parts: [new Uint8Array(new Uint32Array([5, 99]).buffer), Buffer.from("hello", "utf16le")],
        }),
        // A spec that is not one.
        ...encodeFrame({ type: REQUEST, id: 9, header: { op: "info", spec: { kind: "shell", cmd: "rm" } }, parts: [] }),
        // A header that is not JSON.
        Buffer.from(frameWithHeader(10, "{not json")),
      ],
      4,
    );
    expect(answers.map((a) => [a.id, a.type, a.header.code])).toEqual([
      [7, 3, "CURATE_BAD_FRAME"],
      [8, 3, "CURATE_BAD_FRAME"],
      [9, 3, "CURATE_BAD_FRAME"],
      [10, 3, "CURATE_BAD_FRAME"],
    ]);
    expect(String(answers[1]!.header.message)).toMatch(/string lengths run past the text/);
    // A length no frame can have: one error frame (id 0), then that connection (only) is closed.
    const garbage = await rawExchange(socket, [Buffer.from("GET / HTTP/1.1\r\n\r\n")], 2);
    expect(garbage).toHaveLength(1);
    expect(garbage[0]).toMatchObject({ id: 0, type: 3, header: { code: "CURATE_BAD_FRAME" } });
    expect(await client.tokenizer(resolveTokenizer("o200k_base")).count(["still here"])).toEqual(
      await pool.tokenizer(resolveTokenizer("o200k_base")).count(["still here"]),
    );
  });

  it("does not let a client that vanishes mid-request disturb the others", async () => {
    const s = createConnection(socket);
    await new Promise((r) => s.once("connect", r));
    const big = Array.from({ length: 2000 }, (_, i) => `${corpus[i % corpus.length]} ${i}`);
    for (const chunk of encodeFrame({
      type: REQUEST,
      id: 1,
      ...packedCount(big),
    }))
      s.write(chunk);
    s.destroy();
    const spec = resolveTokenizer("cl100k_base");
    expect(await client.tokenizer(spec).count(wellFormed)).toEqual(await pool.tokenizer(spec).count(wellFormed));
    await new Promise((r) => setTimeout(r, 50));
    expect((await client.status()).clients.connected).toBe(1);
  });

  it("refuses a second service on a live socket, and takes over a stale one", async () => {
    await expect(serveTokenizers({ socket, threads: 1, device: "cpu" })).rejects.toThrow(/already listens on/);
    const stale = join(dir, "stale.sock");
    const first = await serveTokenizers({ socket: stale, threads: 1, device: "cpu" });
    // Simulate kill -9: the file stays, nothing listens.
    const { writeFileSync } = await import("node:fs");
    await first.close();
    writeFileSync(stale, "");
    const second = await serveTokenizers({ socket: stale, threads: 1, device: "cpu" });
    await second.close();
  });
});

describe("clients without a service", () => {
  const dir = mkdtempSync(join(tmpdir(), "curate-svc-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("fail with a message naming the socket", async () => {
    const socket = join(dir, "none.sock");
    await expect(connectTokenizerService(socket)).rejects.toMatchObject({
      code: "CURATE_TOKENIZER_SERVICE",
      exitCode: 2,
      message: expect.stringContaining(`no tokenizer service at ${socket} (no socket there)`),
    });
  });

  it("fall back to the in-process pool with auto, and say so", async () => {
    const notices: string[] = [];
    const previous = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = dir;
    try {
      const spec = resolveTokenizer("o200k_base");
      const tokenizer = await openServiceTokenizer(spec, {
        service: "auto",
        pool: { threads: 1 },
        onNotice: (m) => notices.push(m),
      });
      expect(Array.from(await tokenizer.count(["hello world"]))).toEqual([2]);
      expect(notices).toEqual([
        `no tokenizer service at ${join(dir, "curate", "tokenizer.sock")}: counting with in-process threads (start one with: curate tokenizer serve)`,
      ]);
    } finally {
      if (previous === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = previous;
    }
  });

  it("switch to the in-process pool when the service goes away mid-run, with auto", async () => {
    const previous = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = dir;
    const service = await serveTokenizers({ socket: "auto", threads: 1, device: "cpu" });
    try {
      const notices: string[] = [];
      const spec = resolveTokenizer("o200k_base");
      const tokenizer = await openServiceTokenizer(spec, { service: "auto", onNotice: (m) => notices.push(m) });
      expect(Array.from(await tokenizer.count(["hello world"]))).toEqual([2]);
      expect(notices).toEqual([]);
      await service.close();
      expect(Array.from(await tokenizer.count(["hello world", "bonjour"]))).toEqual([2, 1]);
      expect(notices).toEqual([expect.stringMatching(/went away: counting the rest with in-process threads/)]);
      await tokenizer.close();
    } finally {
      await service.close();
      if (previous === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = previous;
    }
  });

  it("--device gpu is a usage error until a GPU backend is registered; auto is the CPU", async () => {
    await expect(openDevice("gpu", { threads: 1 })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining("no GPU backend built in"),
    });
    const device = await openDevice("auto", { threads: 1 });
    expect(device.name).toBe("cpu");
    await device.close();
  });
});

function packedCount(texts: string[]): Pick<Frame, "header" | "parts"> {
  const { mode, parts } = packStrings(texts);
  return { header: { op: "count", spec: { kind: "openai", encoding: "cl100k_base" }, strings: mode }, parts };
}

/** A frame whose header bytes are `header` as given (not JSON-encoded). */
function frameWithHeader(id: number, header: string): Uint8Array {
  const h = Buffer.from(header);
  const out = Buffer.alloc(16 + h.length);
  out.writeUInt32LE(12 + h.length, 0);
  out.writeUInt8(REQUEST, 4);
  out.writeUInt8(1, 5);
  out.writeUInt32LE(id, 8);
  out.writeUInt32LE(h.length, 12);
  h.copy(out, 16);
  return out;
}

/** Writes raw bytes to the service and collects `expected` answers (or what came before it hung up), by id. */
function rawExchange(socket: string, chunks: Uint8Array[], expected: number): Promise<Frame[]> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socket);
    const reader = new FrameReader();
    const frames: Frame[] = [];
    const finish = () => {
      s.destroy();
      resolve(frames.sort((a, b) => a.id - b.id));
    };
    s.on("data", (chunk: Buffer) => {
      for (const f of reader.push(chunk)) if (!(f instanceof Error)) frames.push(f);
      if (frames.length >= expected) finish();
    });
    s.on("close", finish);
    s.on("error", reject);
    s.on("connect", () => {
      for (const c of chunks) s.write(c);
    });
  });
}
