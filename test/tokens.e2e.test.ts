import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { get_encoding } from "tiktoken";
import { afterAll, describe, expect, it } from "vitest";
import { parseJsonl, repoRoot, runCli, tempDir } from "./helpers/cli.js";

const o200k = get_encoding("o200k_base");
const n = (text: string) => o200k.encode_ordinary(text).length;

const records = [
  {
    messages: [
      { role: "user", content: "Hi there" },
      { role: "assistant", content: "Hello! How can I help?" },
    ],
  },
  { instruction: "Add the numbers", input: "2 and 2", output: "4" },
  { prompt: "The capital of France is", completion: " Paris." },
  { text: "A long plain text record. ".repeat(40) },
];

describe("curate tokens", () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);
  const input = join(dir, "mixed.jsonl");
  writeFileSync(input, `${records.map((r) => JSON.stringify(r)).join("\n")}\nnot json\n`);

  it("passes records through, prints statistics and a cost estimate on stderr", async () => {
    const { stdout, stderr, exitCode } = await runCli(["tokens", input, "--model", "gpt-4o-mini"]);
    expect(parseJsonl(stdout)).toEqual(records);
    expect(stderr).toMatch(/rejected \(read: invalid_json\)\s+1/);
    expect(stderr).toMatch(/records counted\s+4/);
    expect(stderr).toMatch(/tokens per record/);
    expect(stderr).toMatch(/fine-tuning estimate for gpt-4o-mini: 4 examples × 25 epochs/);
    expect(exitCode).toBe(1); // the unreadable line
  });

  it("counts chats with OpenAI's 3/1/3 accounting and reports JSON with --json", async () => {
    const chat = join(dir, "chat.jsonl");
    writeFileSync(chat, `${JSON.stringify(records[0])}\n`);
    const { stdout, exitCode } = await runCli([
      "tokens",
      chat,
      "--model",
      "gpt-4o",
      "--json",
      "--out",
      join(dir, "o.jsonl"),
    ]);
    expect(exitCode).toBe(0);
    const json = JSON.parse(stdout) as { tokens: Record<string, unknown>; kept: number };
    const total = 3 + n("user") + n("Hi there") + 3 + n("assistant") + n("Hello! How can I help?") + 3;
    expect(json.kept).toBe(1);
    expect(json.tokens).toMatchObject({
      records: 1,
      totalTokens: total,
      min: total,
      p95: total,
      trainableTokens: n("Hello! How can I help?"),
    });
    expect(json.tokens.cost).toMatchObject({ model: "gpt-4o", epochs: 25, billedTokens: total * 25 });
  });

  it("rejects records over --max-tokens into --rejects with the count", async () => {
    const rejects = join(dir, "rejects.jsonl");
    const out = join(dir, "kept.jsonl");
    const { exitCode } = await runCli([
      "tokens",
      input,
      "--tokenizer",
      "o200k_base",
      "--max-tokens",
      "50",
      "--out",
      out,
      "--rejects",
      rejects,
    ]);
    expect(exitCode).toBe(1);
    const reasons = parseJsonl(readFileSync(rejects, "utf8")) as {
      code: string;
      tokens?: number;
      source: { line: number };
    }[];
    // The reader rejects the bad line at once; the tokens stage routes a batch at a time: order by line.
    reasons.sort((a, b) => a.source.line - b.source.line);
    expect(reasons.map((r) => [r.source.line, r.code])).toEqual([
      [4, "too_many_tokens"],
      [5, "invalid_json"],
    ]);
    expect(reasons[0]!.tokens).toBe(n("A long plain text record. ".repeat(40)));
    expect(parseJsonl(readFileSync(out, "utf8"))).toEqual(records.slice(0, 3));
  });

  it("truncates and annotates when asked", async () => {
    const { stdout } = await runCli(
      [
        "tokens",
        "--tokenizer",
        "o200k_base",
        "--max-tokens",
        "20",
        "--on-overflow",
        "truncate",
        "--annotate",
        "_tokens",
      ],
      { input: `${JSON.stringify(records[3])}\n` },
    );
    const [record] = parseJsonl(stdout) as { text: string; _tokens: { total: number } }[];
    expect(record!._tokens.total).toBe(20);
    expect(n(record!.text)).toBe(20);
    expect(records[3]!.text!.startsWith(record!.text)).toBe(true);
  });

  it("gives identical output on 1 and 2 threads (the built worker)", async () => {
    const many = join(dir, "many.jsonl");
    const lines: string[] = [];
    for (const file of ["chat/valid.jsonl", "alpaca/valid.jsonl", "sharegpt/valid.jsonl", "dpo/valid.jsonl"]) {
      lines.push(
        ...readFileSync(join(repoRoot, "fixtures", file), "utf8")
          .split("\n")
          .filter(Boolean),
      );
    }
    writeFileSync(many, `${Array.from({ length: 6 }, () => lines.join("\n")).join("\n")}\n`);
    const args = ["tokens", many, "--tokenizer", "qwen3", "--annotate", "_tokens", "--json"];
    const one = await runCli([...args, "--threads", "1", "--out", join(dir, "t1.jsonl")]);
    const two = await runCli([...args, "--threads", "2", "--out", join(dir, "t2.jsonl")]);
    expect(one.exitCode).toBe(0);
    expect(readFileSync(join(dir, "t2.jsonl"), "utf8")).toBe(readFileSync(join(dir, "t1.jsonl"), "utf8"));
    const stats = (r: typeof one) => {
      const { wallMs: _w, stages: _s, inputs: _i, ...rest } = JSON.parse(r.stdout) as Record<string, unknown>;
      return rest;
    };
    expect(stats(two)).toEqual(stats(one));
    expect(parseJsonl(readFileSync(join(dir, "t1.jsonl"), "utf8"))).toHaveLength(lines.length * 6);
  });

  it("counts with a Hugging Face chat template by name, offline", async () => {
    const chat = join(dir, "llama.jsonl");
    writeFileSync(
      chat,
      `${JSON.stringify({
        messages: [
          { role: "user", content: "What is 2+2?" },
          { role: "assistant", content: "4." },
        ],
      })}\n`,
    );
    const { stdout, exitCode } = await runCli([
      "tokens",
      chat,
      "--tokenizer",
      "llama3",
      "--json",
      "--out",
      join(dir, "l.jsonl"),
    ]);
    expect(exitCode).toBe(0);
    // Worked out in packages/tokens/src/stage.test.ts: 24 tokens, 3 of them trainable.
    expect(JSON.parse(stdout).tokens).toMatchObject({
      totalTokens: 24,
      trainableTokens: 3,
      tokenizer: { chatAccounting: "chat-template" },
    });
  });

  it("explains usage errors with exit code 2", async () => {
    const none = await runCli(["tokens", input]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/needs --tokenizer NAME\|DIR or --model NAME/);
    const hub = await runCli(["tokens", input, "--tokenizer", "meta-llama/Llama-3.1-8B-Instruct"]);
    expect(hub.exitCode).toBe(2);
    expect(hub.stderr).toMatch(/huggingface-cli download meta-llama\/Llama-3\.1-8B-Instruct tokenizer\.json/);
    const truncate = await runCli(["tokens", input, "--model", "gpt-4o", "--on-overflow", "truncate"]);
    expect(truncate.exitCode).toBe(2);
    expect(truncate.stderr).toMatch(/truncate needs --max-tokens/);
    const help = await runCli(["tokens", "--help"]);
    expect(help.stdout).toMatch(/Examples:/);
  });

  it("refuses a misspelt model (never priced as another model) and --json with records on stdout", async () => {
    const typo = await runCli(["tokens", input, "--model", "gpt-4o-mni"]);
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toMatch(/gpt-4o-mni is not an OpenAI model curate knows \(closest: gpt-4o-mini/);
    expect(typo.stderr).not.toMatch(/estimate/);
    const json = await runCli(["tokens", input, "--model", "gpt-4o-mini", "--json"]);
    expect(json.exitCode).toBe(2);
    expect(json.stdout).toBe("");
  });
});
