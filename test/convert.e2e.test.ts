import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseJsonl, repoRoot, runCli, tempDir } from "./helpers/cli.js";

const { dir, cleanup } = tempDir("curate-convert-");
afterAll(cleanup);

const jsonl = (records: unknown[]) => `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;
const fixture = (path: string) => parseJsonl(readFileSync(join(repoRoot, "fixtures", path), "utf8"));

describe("curate convert", () => {
  it("converts alpaca to chat on stdout; the result validates as chat", async () => {
    const result = await runCli(["convert", "--to", "chat", "fixtures/alpaca/valid.jsonl"]);
    expect(result.exitCode, result.stderr).toBe(0);
    const records = parseJsonl(result.stdout) as { messages: { role: string; content: string }[] }[];
    expect(records).toHaveLength(fixture("alpaca/valid.jsonl").length);
    expect(records[1]).toEqual({
      messages: [
        { role: "user", content: "Translate the sentence into German.\n\nWhere is the nearest pharmacy?" },
        { role: "assistant", content: "Wo ist die nächste Apotheke?" },
      ],
    });
    expect(result.stderr).toMatch(/^kept\s+26$/m);
    const check = await runCli(["validate", "--format", "chat"], { input: result.stdout });
    expect(check.exitCode, check.stderr).toBe(0);
  });

  it("round-trips ShareGPT through chat, tool turns included", async () => {
    const chat = await runCli([
      "convert",
      "--to",
      "chat",
      "fixtures/sharegpt/valid.jsonl",
      "--rejects",
      join(dir, "sg.rejects.jsonl"),
    ]);
    // The function_call/observation record (line 11) becomes chat tool_calls and a tool message.
    expect(chat.exitCode, chat.stderr).toBe(0);
    const back = await runCli(["convert", "--to", "sharegpt"], { input: chat.stdout });
    expect(back.exitCode, back.stderr).toBe(0);
    // Tool call values come back as the same JSON, written without spaces.
    const reserialized = (record: { conversations: { from: string; value: string }[] }) => ({
      ...record,
      conversations: record.conversations.map((t) =>
        t.from === "function_call" ? { ...t, value: JSON.stringify(JSON.parse(t.value)) } : t,
      ),
    });
    const original = (fixture("sharegpt/valid.jsonl") as Parameters<typeof reserialized>[0][]).map(reserialized);
    // A top-level ShareGPT `system` comes back as a system turn: the same conversation, not the same bytes.
    const last = original.at(-1) as { conversations: unknown[]; system?: string };
    const expected = [
      ...original.slice(0, -1),
      { conversations: [{ from: "system", value: last.system }, ...last.conversations] },
    ];
    expect(parseJsonl(back.stdout)).toEqual(expected);
  });

  it("rejects what the target cannot hold, one diagnostic per field, and conserves records", async () => {
    const out = join(dir, "alpaca.jsonl");
    const rejects = join(dir, "rejects.jsonl");
    const result = await runCli([
      "convert",
      "fixtures/chat/valid.jsonl",
      "--to",
      "alpaca",
      "-o",
      out,
      "--rejects",
      rejects,
    ]);
    expect(result.exitCode).toBe(1);
    const kept = parseJsonl(readFileSync(out, "utf8"));
    const rejected = parseJsonl(readFileSync(rejects, "utf8")) as { source: { line: number }; code: string }[];
    expect(kept.length + rejected.length).toBe(31);
    expect(rejected.map((r) => r.source.line)).toEqual([12, 13, 14, 15, 17, 18, 31]);
    expect(rejected.every((r) => r.code === "unmapped_field")).toBe(true);
    expect(result.stderr).toContain(
      "fixtures/chat/valid.jsonl:17 error unmapped_field messages[1].weight weight 0 has no place in the alpaca format (a message excluded from training)",
    );
    expect(result.stderr).toContain(
      'fixtures/chat/valid.jsonl:18 error unmapped_field messages[0].name "name" has no place',
    );
  });

  it("--extra decides for keys outside the source format", async () => {
    const input = jsonl([{ id: "q-1", instruction: "Name a citrus fruit.", output: "Lemon." }]);
    const strict = await runCli(["convert", "--to", "chat"], { input });
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr).toContain('<stdin>:1 error unmapped_field id "id" has no place in the chat format');
    const keep = await runCli(["convert", "--to", "chat", "--extra", "keep"], { input });
    expect(parseJsonl(keep.stdout)).toEqual([
      {
        messages: [
          { role: "user", content: "Name a citrus fruit." },
          { role: "assistant", content: "Lemon." },
        ],
        id: "q-1",
      },
    ]);
    const drop = await runCli(["convert", "--to", "prompt_completion", "--extra", "drop"], { input });
    expect(parseJsonl(drop.stdout)).toEqual([{ prompt: "Name a citrus fruit.", completion: "Lemon." }]);
  });

  it("converts preference pairs to DPO and back", async () => {
    const input = join(dir, "pairs.jsonl");
    const pairs = fixture("pairs/valid.jsonl").filter((r) => Object.hasOwn(r as object, "prompt"));
    writeFileSync(input, jsonl(pairs));
    const dpo = await runCli(["convert", "--to", "dpo", input]);
    expect(dpo.exitCode, dpo.stderr).toBe(0);
    const check = await runCli(["validate", "--format", "dpo"], { input: dpo.stdout });
    expect(check.exitCode, check.stderr).toBe(0);
    const back = await runCli(["convert", "--to", "pairs"], { input: dpo.stdout });
    const lists = (side: unknown, role: string) => (typeof side === "string" ? [{ role, content: side }] : side);
    expect(parseJsonl(back.stdout)).toEqual(
      pairs.map((p) => {
        const { prompt, chosen, rejected } = p as Record<string, unknown>;
        return {
          prompt: lists(prompt, "user"),
          chosen: lists(chosen, "assistant"),
          rejected: lists(rejected, "assistant"),
        };
      }),
    );
  });

  it("rejects records that fail the source format's shape before converting", async () => {
    const result = await runCli([
      "convert",
      "--to",
      "chat",
      "fixtures/alpaca/errors.jsonl",
      "-o",
      join(dir, "x.jsonl"),
    ]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('fixtures/alpaca/errors.jsonl:2 error missing_field output expected key "output"');
    expect(result.stderr).toContain('fixtures/alpaca/errors.jsonl:7 error unmapped_field id "id" has no place');
  });

  it("exits 2 on usage errors", async () => {
    const cases: [string[], RegExp][] = [
      [["convert", "fixtures/chat/valid.jsonl"], /required option '-t, --to <format>' not specified/],
      [["convert", "--to", "csv", "fixtures/chat/valid.jsonl"], /--to must be one of chat, alpaca/],
      [["convert", "--from", "chat", "--to", "dpo", "fixtures/chat/valid.jsonl"], /cannot convert chat to dpo/],
      [
        ["convert", "--to", "chat", "--extra", "maybe", "fixtures/chat/valid.jsonl"],
        /Allowed choices are error, keep, drop/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(message);
    }
  });
});
