import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseJsonl, runCli, tempDir } from "./helpers/cli.js";

const { dir, cleanup } = tempDir("curate-validate-");
afterAll(cleanup);

const jsonl = (records: unknown[]) => `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;
const turn = (q: string, a: string) => ({
  messages: [
    { role: "user", content: q },
    { role: "assistant", content: a },
  ],
});
const good = [turn("What is 12 × 12?", "144."), turn("Say hi in French.", "Bonjour !")];
const mixed = [
  good[0],
  {
    messages: [
      { role: "wizard", content: "Cast a spell." },
      { role: "assistant", content: "Poof." },
    ],
  },
  { messages: [{ role: "user", content: "Anyone there?" }] },
  { ...good[1], id: "c-3" },
];

describe("curate validate", () => {
  it("exits 0 on valid records and prints a summary on stderr, nothing on stdout", async () => {
    const result = await runCli(["validate", "fixtures/chat/valid.jsonl"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^records\s+31$/m);
    expect(result.stderr).toContain("curate validate: 1 file, all 31 records valid");
  });

  it("reads stdin, lists every problem and exits 1", async () => {
    const result = await runCli(["validate"], { input: jsonl(mixed) });
    expect(result.exitCode).toBe(1);
    const diagnostics = result.stderr.split("\n").filter((l) => l.startsWith("<stdin>:"));
    expect(diagnostics).toEqual([
      '<stdin>:2 error unrecognized_role messages[0].role expected one of system|developer|user|assistant|tool, found "wizard"',
      "<stdin>:3 error example_missing_assistant_message messages no assistant message to learn from",
      '<stdin>:4 warning unknown_key id unexpected key "id"',
    ]);
    expect(result.stderr).toMatch(/^invalid\s+2$/m);
    expect(result.stderr).toMatch(/^ {2}unrecognized_role\s+1$/m);
    expect(result.stderr).toContain("curate validate: 2 of 4 records invalid in 1 file");
  });

  it("cleans a file: --out gets the valid records, --rejects the others with their reasons", async () => {
    const input = join(dir, "mixed.jsonl");
    writeFileSync(input, jsonl(mixed));
    const out = join(dir, "clean.jsonl");
    const rejects = join(dir, "rejects.jsonl");
    const result = await runCli(["validate", input, "--out", out, "--rejects", rejects]);
    expect(result.exitCode).toBe(1);
    expect(parseJsonl(readFileSync(out, "utf8"))).toEqual([mixed[0], mixed[3]]);
    const rejected = parseJsonl(readFileSync(rejects, "utf8")) as Record<string, unknown>[];
    expect(rejected).toHaveLength(2);
    expect(rejected[0]).toMatchObject({
      source: { file: input, line: 2 },
      stage: "validate",
      code: "unrecognized_role",
      issues: [{ code: "unrecognized_role", path: "messages[0].role", found: '"wizard"' }],
      record: mixed[1],
    });
  });

  it("--out - writes records to stdout and diagnostics to stderr; --json with --out - is refused", async () => {
    const text = await runCli(["validate", "--out", "-"], { input: jsonl(mixed) });
    expect(parseJsonl(text.stdout)).toEqual([mixed[0], mixed[3]]);
    expect(text.stderr).toContain("<stdin>:2 error unrecognized_role");

    // --json always prints to stdout; records and JSON never share it.
    const json = await runCli(["validate", "--out", "-", "--json"], { input: jsonl(mixed) });
    expect(json.exitCode).toBe(2);
    expect(json.stdout).toBe("");
    expect(json.stderr).toContain("give --out FILE for the records");
  });

  it("--json prints one JSON diagnostic per line and a summary line on stdout", async () => {
    const result = await runCli(["validate", "--json"], { input: jsonl(mixed) });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("");
    const lines = parseJsonl(result.stdout) as Record<string, unknown>[];
    expect(lines.slice(0, -1)).toEqual([
      {
        type: "diagnostic",
        file: "<stdin>",
        line: 2,
        severity: "error",
        code: "unrecognized_role",
        path: "messages[0].role",
        message: 'expected one of system|developer|user|assistant|tool, found "wizard"',
        expected: "one of system|developer|user|assistant|tool",
        found: '"wizard"',
        stage: "validate",
      },
      expect.objectContaining({ line: 3, code: "example_missing_assistant_message" }),
      expect.objectContaining({ line: 4, severity: "warning", code: "unknown_key", path: "id" }),
    ]);
    expect(lines.at(-1)).toMatchObject({
      type: "summary",
      records: 4,
      valid: 2,
      invalid: 2,
      errors: 2,
      warnings: 1,
      errorsByCode: { unrecognized_role: 1, example_missing_assistant_message: 1 },
      warningsByCode: { unknown_key: 1 },
    });
  });

  it("--max-errors caps the list but not the counts", async () => {
    const result = await runCli(["validate", "fixtures/chat/errors.jsonl", "--max-errors", "3"]);
    expect(result.exitCode).toBe(1);
    const errors = result.stderr.split("\n").filter((l) => / error /.test(l) && l.startsWith("fixtures/"));
    expect(errors).toHaveLength(3);
    expect(result.stderr).toMatch(/… 19 more errors and 8 more warnings not shown \(--max-errors 3\)/);
    expect(result.stderr).toMatch(/^errors\s+22$/m);
  });

  it("--strict makes unknown keys errors; --rule sets any rule", async () => {
    const input = jsonl([{ ...good[0], source: "forum" }]);
    expect((await runCli(["validate"], { input })).exitCode).toBe(0);
    const strict = await runCli(["validate", "--strict"], { input });
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr).toContain('<stdin>:1 error unknown_key source unexpected key "source"');

    const late = jsonl([
      {
        messages: [
          { role: "user", content: "Hi" },
          { role: "system", content: "Be brief." },
          { role: "assistant", content: "Hi." },
        ],
      },
    ]);
    expect((await runCli(["validate"], { input: late })).exitCode).toBe(0);
    const raised = await runCli(["validate", "--rule", "system_not_first=error"], { input: late });
    expect(raised.exitCode).toBe(1);
    expect(raised.stderr).toContain("<stdin>:1 error system_not_first messages[1].role");
    const off = await runCli(["validate", "--rule", "system_not_first=off", "-q"], { input: late });
    expect(off).toMatchObject({ exitCode: 0, stderr: "" });
  });

  it("--format forces a format: other records are format_mismatch", async () => {
    const result = await runCli(["validate", "fixtures/alpaca/valid.jsonl", "--format", "chat", "--max-errors", "1"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      "fixtures/alpaca/valid.jsonl:1 error format_mismatch the record's keys instruction, input, output fit alpaca, not chat (--format chat)",
    );
    expect(result.stderr).toMatch(/^invalid\s+26$/m);
  });

  it("--schema checks a user's JSON Schema or zod module", async () => {
    const json = await runCli([
      "validate",
      "fixtures/custom/tickets.jsonl",
      "--schema",
      "fixtures/schemas/ticket.schema.json",
    ]);
    expect(json.exitCode).toBe(1);
    expect(json.stderr).toContain(
      'fixtures/custom/tickets.jsonl:4 error invalid_value priority expected one of low|normal|high, found "urgent"',
    );
    const zod = await runCli(["validate", "fixtures/custom/tickets.jsonl", "--schema", "fixtures/schemas/ticket.mjs"]);
    expect(zod.exitCode).toBe(1);
    expect(zod.stderr).toContain(
      'fixtures/custom/tickets.jsonl:4 error invalid_value ticket_id expected a string matching /^T-\\d{4,}$/, found "10234"',
    );
    expect(zod.stderr).toContain("curate validate: 2 of 6 records invalid in 1 file");
  });

  it("exits 2 on usage errors, with a message", async () => {
    const cases: [string[], RegExp][] = [
      [["validate", "--format", "csv", "fixtures/chat/valid.jsonl"], /--format must be auto or one of chat, alpaca/],
      [["validate", "--rule", "no_such_rule=error", "fixtures/chat/valid.jsonl"], /unknown rule "no_such_rule"/],
      [["validate", "--rule", "system_not_first", "fixtures/chat/valid.jsonl"], /--rule expects code=error\|warn\|off/],
      [["validate", "--schema", "fixtures/schemas/missing.json", "fixtures/chat/valid.jsonl"], /schema file not found/],
      [["validate", "fixtures/no/such/file.jsonl"], /not found/],
      [["validate", "--max-errors", "many", "fixtures/chat/valid.jsonl"], /expected a whole number/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(message);
    }
  });

  it("--help lists the formats, every rule with its default, the output rules and exit codes", async () => {
    const result = await runCli(["validate", "--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^ {2}unrecognized_role\s+error\s+A role outside/m);
    expect(result.stdout).toMatch(/^ {2}system_not_first\s+warn\s+/m);
    expect(result.stdout).toContain("sharegpt");
    expect(result.stdout).toContain("stdout never mixes records and diagnostics");
    expect(result.stdout).toContain("Exit codes: 0");
  });

  it("does not load tokenizers or other heavy modules", async () => {
    const trace = join(dir, "modules.txt");
    writeFileSync(trace, "");
    writeFileSync(
      join(dir, "hooks.mjs"),
      `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(trace)}, result.url + "\\n");
  return result;
}
`,
    );
    writeFileSync(
      join(dir, "register.mjs"),
      `import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n`,
    );
    const result = await runCli(["validate", "fixtures/chat/valid.jsonl"], {
      env: { NODE_OPTIONS: `--import=${join(dir, "register.mjs")}` },
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const modules = readFileSync(trace, "utf8").split("\n").filter(Boolean);
    expect(modules.some((url) => url.includes("/packages/validate/"))).toBe(true);
    expect(modules.filter((url) => /tiktoken|tokenizer|@huggingface|@lenml|onnx/i.test(url))).toEqual([]);
  });
});
