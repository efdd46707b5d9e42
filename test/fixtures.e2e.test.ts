import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { decompress } from "fzstd";
import { afterAll, describe, expect, it } from "vitest";
import { parseJsonl, repoRoot, runCli, tempDir } from "./helpers/cli.js";

// Runs the built `curate validate` on every data file under fixtures/ and checks, for each: the exit code, every
// diagnostic (line, severity, code, path) against the table below, and conservation: valid records written with
// --out plus rejected records written with --rejects equal the records in the file, counted here independently.

type Expected = [line: number, severity: "error" | "warning", code: string, path: string];

/** Every diagnostic of the mixed-errors fixtures, in the order curate prints them (by line). */
const diagnostics: Record<string, Expected[]> = {
  "chat/errors.jsonl": [
    [2, "error", "unrecognized_role", "messages[0].role"],
    [3, "error", "message_missing_key", "messages[0].role"],
    [3, "error", "message_missing_key", "messages[1].content"],
    [4, "error", "invalid_type", "messages[0].content"],
    [5, "error", "invalid_value", "messages[1].weight"],
    [6, "error", "missing_content", "messages[1].content"],
    [7, "error", "example_missing_assistant_message", "messages"],
    [8, "error", "last_message_not_assistant", "messages[2].role"],
    [9, "error", "no_trainable_message", "messages"],
    [10, "error", "unmatched_tool_call_id", "messages[1].tool_call_id"],
    [11, "error", "invalid_tool_arguments", "messages[1].tool_calls[0].function.arguments"],
    [12, "error", "missing_field", "messages[1].tool_calls[0].id"],
    [12, "warning", "non_alternating_turns", "messages[2].role"],
    [13, "warning", "system_not_first", "messages[1].role"],
    [13, "warning", "non_alternating_turns", "messages[2].role"],
    [14, "warning", "message_unrecognized_key", "messages[0].timestamp"],
    [14, "warning", "unknown_key", "id"],
    [15, "warning", "control_characters", "messages[0].content"],
    [15, "warning", "replacement_character", "messages[1].content"],
    [16, "warning", "undeclared_tool", "messages[1].tool_calls[1].function.name"],
    [16, "warning", "duplicate_tool_call_id", "messages[1].tool_calls[2].id"],
    [16, "warning", "missing_tool_response", "messages[1].tool_calls[1].id"],
    [17, "error", "format_mismatch", ""],
    [18, "error", "unknown_format", ""],
    [19, "error", "missing_messages_list", "messages"],
    [20, "error", "invalid_value", "messages[0].content[0].type"],
    [20, "error", "missing_field", "messages[0].content[0].text"],
    [20, "warning", "unknown_key", "messages[0].content[0].image_url"],
    [20, "error", "missing_content", "messages[0].content"],
    [22, "error", "invalid_type", "messages"],
    [23, "error", "unrecognized_role", "messages[0].role"],
    [23, "error", "missing_content", "messages[1].content"],
    [23, "error", "missing_content", "messages[2].content"],
  ],
  "alpaca/errors.jsonl": [
    [2, "error", "missing_field", "output"],
    [3, "error", "missing_content", "instruction"],
    [4, "error", "missing_content", "output"],
    [5, "error", "invalid_type", "input"],
    [6, "error", "invalid_value", "history[1]"],
    [7, "warning", "unknown_key", "id"],
    [7, "warning", "unknown_key", "source"],
    [8, "warning", "replacement_character", "instruction"],
    [9, "warning", "control_characters", "input"],
    [10, "error", "format_mismatch", ""],
    [11, "error", "invalid_type", "instruction"],
    [11, "error", "invalid_type", "output"],
    [12, "error", "unknown_format", ""],
  ],
  "prompt_completion/errors.jsonl": [
    [2, "error", "missing_field", "completion"],
    [3, "error", "missing_content", "completion"],
    [4, "error", "invalid_type", "completion"],
    [5, "warning", "unknown_key", "model"],
    [6, "warning", "control_characters", "prompt"],
    [7, "error", "format_mismatch", ""],
  ],
  "sharegpt/errors.jsonl": [
    [2, "error", "unrecognized_role", "conversations[0].from"],
    [3, "error", "message_missing_key", "conversations[1].value"],
    [4, "error", "missing_content", "conversations[1].value"],
    [5, "warning", "non_alternating_turns", "conversations[1].from"],
    [5, "error", "example_missing_assistant_message", "conversations"],
    [6, "error", "last_message_not_assistant", "conversations[2].from"],
    [7, "error", "unmatched_tool_call_id", "conversations[1].from"],
    [8, "error", "invalid_tool_arguments", "conversations[1].value"],
    // FastChat's `id` is part of ShareGPT: no unknown_key warning on line 9.
    [9, "warning", "system_not_first", "conversations[1].from"],
    [10, "error", "missing_messages_list", "conversations"],
    [11, "error", "format_mismatch", ""],
    [12, "warning", "replacement_character", "conversations[0].value"],
  ],
  "dpo/errors.jsonl": [
    [2, "error", "missing_field", "non_preferred_output"],
    [3, "error", "unrecognized_role", "preferred_output[0].role"],
    [3, "error", "example_missing_assistant_message", "preferred_output"],
    [4, "error", "identical_preference", "non_preferred_output"],
    [5, "error", "missing_content", "preferred_output[0].content"],
    [6, "error", "missing_messages_list", "input.messages"],
    [7, "warning", "unknown_key", "split"],
    [8, "error", "format_mismatch", ""],
  ],
  "pairs/errors.jsonl": [
    [2, "error", "missing_field", "rejected"],
    [3, "error", "identical_preference", "rejected"],
    [4, "error", "missing_content", "chosen"],
    [5, "error", "unrecognized_role", "chosen[0].role"],
    [5, "error", "example_missing_assistant_message", "chosen"],
    [6, "error", "invalid_type", "chosen"],
    [7, "error", "last_message_not_assistant", "chosen[1].role"],
    [8, "warning", "unknown_key", "score_chosen"],
    [8, "warning", "unknown_key", "score_rejected"],
    [9, "warning", "replacement_character", "prompt"],
    [10, "error", "format_mismatch", ""],
  ],
  "reader/problems.jsonl": [
    [3, "error", "invalid_json", ""],
    [4, "error", "not_an_object", ""],
    [7, "error", "invalid_utf8", ""],
    [9, "error", "truncated_line", ""],
  ],
  "raw/chat.jsonl": [
    [6, "warning", "unknown_key", "id"],
    [32, "error", "missing_content", "messages[1].content"],
    [39, "error", "invalid_json", ""],
    [54, "error", "unrecognized_role", "messages[1].role"],
    [54, "error", "example_missing_assistant_message", "messages"],
    [61, "warning", "control_characters", "messages[0].content"],
    [71, "error", "example_missing_assistant_message", "messages"],
    [87, "error", "invalid_value", "messages[1].weight"],
    [91, "warning", "system_not_first", "messages[1].role"],
    [94, "error", "unknown_format", ""],
    [115, "error", "invalid_json", ""],
    [118, "error", "missing_content", "messages[1].content"],
    [119, "error", "last_message_not_assistant", "messages[2].role"],
  ],
};

/** Compressed copies report exactly what their source does. */
const copies: Record<string, string> = {
  "chat/valid.jsonl.gz": "chat/valid.jsonl",
  "chat/valid.jsonl.zst": "chat/valid.jsonl",
  "alpaca/errors.jsonl.gz": "alpaca/errors.jsonl",
  "sharegpt/errors.jsonl.zst": "sharegpt/errors.jsonl",
};

/** Extra arguments for fixtures that are not one of the built-in formats. */
const extraArgs: Record<string, string[]> = {
  "custom/tickets.jsonl": ["--schema", "fixtures/schemas/ticket.schema.json"],
};
diagnostics["custom/tickets.jsonl"] = [
  [4, "error", "invalid_value", "ticket_id"],
  [4, "error", "invalid_value", "priority"],
  [5, "warning", "unknown_key", "channel"],
  [5, "error", "invalid_value", "agent_reply"],
];

/** Folders other helpers own (dedup and split test data): run too, but only exit code and conservation are checked. */
const foreign = ["dedup/", "eval/", "split/", "unfamiliar/"];

const fixturesDir = join(repoRoot, "fixtures");
const DATA = /\.(jsonl|ndjson|json)(\.(gz|zst))?$/;

function dataFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === "schemas" ? [] : dataFiles(full);
      return DATA.test(entry.name) ? [relative(fixturesDir, full)] : [];
    })
    .sort();
}

/** Records in a fixture, counted without curate: non-blank lines (or array elements), after decompressing. */
function countRecords(file: string): number {
  let bytes: Uint8Array = readFileSync(join(fixturesDir, file));
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  else if (bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd) bytes = decompress(bytes);
  const text = Buffer.from(bytes).toString("latin1"); // byte-level: one fixture holds invalid UTF-8 on purpose
  if (/\.json(\.|$)/.test(file) && !/\.jsonl/.test(file)) return (JSON.parse(text) as unknown[]).length;
  return text.split("\n").filter((line) => line.trim() !== "").length;
}

interface JsonDiagnostic {
  type: "diagnostic";
  file: string;
  line: number;
  severity: "error" | "warning";
  code: string;
  path: string;
  message: string;
}

const files = dataFiles(fixturesDir);
const { dir, cleanup } = tempDir("curate-fixtures-");
afterAll(cleanup);

interface Run {
  exitCode: number;
  stderr: string;
  diagnostics: JsonDiagnostic[];
  summary: { records: number; valid: number; invalid: number; inputs: { path: string; records: number }[] };
  valid: number;
  /** Rejected records per file, from the rejects file's `source.file`. */
  rejectedByFile: Map<string, number>;
}

/** One `curate validate --json --out --rejects` run over several fixtures (one process start for all of them). */
async function validateFixtures(name: string, paths: readonly string[], args: readonly string[] = []): Promise<Run> {
  const out = join(dir, `${name}.valid.jsonl`);
  const rejects = join(dir, `${name}.rejects.jsonl`);
  const result = await runCli(["validate", ...paths, ...args, "--json", "--out", out, "--rejects", rejects]);
  const lines = result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const rejectedByFile = new Map<string, number>();
  for (const r of parseJsonl(readFileSync(rejects, "utf8")) as { source: { file: string } }[]) {
    rejectedByFile.set(r.source.file, (rejectedByFile.get(r.source.file) ?? 0) + 1);
  }
  return {
    exitCode: result.exitCode,
    stderr: result.stderr,
    diagnostics: lines.filter((l) => l.type === "diagnostic") as unknown as JsonDiagnostic[],
    summary: lines.at(-1) as unknown as Run["summary"],
    valid: parseJsonl(readFileSync(out, "utf8")).length,
    rejectedByFile,
  };
}

function checkFile(run: Run, file: string): void {
  const path = `fixtures/${file}`;
  // Conservation, against an independent count of the file's records.
  const records = countRecords(file);
  expect(run.summary.inputs.find((i) => i.path.endsWith(path))?.records, file).toBe(records);
  if (foreign.some((prefix) => file.startsWith(prefix))) return;
  const expected = diagnostics[copies[file] ?? file] ?? [];
  const found = run.diagnostics.filter((d) => d.file === path);
  expect(
    found.map((d) => [d.line, d.severity, d.code, d.path]),
    file,
  ).toEqual(expected);
  for (const d of found) expect(d.message.length).toBeGreaterThan(0);
  const invalidLines = new Set(expected.filter((e) => e[1] === "error").map((e) => e[0]));
  expect(run.rejectedByFile.get(path) ?? 0, file).toBe(invalidLines.size);
}

describe("curate validate on every fixture", () => {
  const builtIn = files.filter((f) => !f.startsWith("custom/"));
  let all: Run;

  it("finds the fixtures (a valid and an errors file per format, copies, reader problems, raw corpus)", () => {
    for (const format of ["chat", "alpaca", "prompt_completion", "sharegpt", "dpo", "pairs"]) {
      expect(files).toContain(`${format}/valid.jsonl`);
      expect(files).toContain(`${format}/errors.jsonl`);
    }
    expect(files).toEqual(
      expect.arrayContaining([...Object.keys(copies), "alpaca/valid.json", "reader/problems.jsonl", "raw/chat.jsonl"]),
    );
  });

  it("conserves records over all fixtures: valid + rejected = records read = records in the files", async () => {
    all = await validateFixtures(
      "all",
      builtIn.map((f) => `fixtures/${f}`),
    );
    const records = builtIn.reduce((sum, f) => sum + countRecords(f), 0);
    const rejected = [...all.rejectedByFile.values()].reduce((a, b) => a + b, 0);
    expect(all.summary).toMatchObject({ records, valid: all.valid, invalid: rejected });
    expect(all.valid + rejected).toBe(records);
    expect(all.exitCode, all.stderr).toBe(1);
  });

  it.each(builtIn)("%s: records, diagnostics (line, severity, code, path) and rejects", (file) => {
    checkFile(all, file);
  });

  it("custom/tickets.jsonl with --schema: diagnostics and conservation", async () => {
    const run = await validateFixtures("tickets", ["fixtures/custom/tickets.jsonl"], extraArgs["custom/tickets.jsonl"]);
    checkFile(run, "custom/tickets.jsonl");
    expect(run.valid + (run.rejectedByFile.get("fixtures/custom/tickets.jsonl") ?? 0)).toBe(6);
    expect(run.exitCode).toBe(1);
  });

  it("exits 0 on the valid fixtures, with no diagnostics at all", async () => {
    const valid = files.filter((f) => /\/valid\.json/.test(f));
    const run = await validateFixtures(
      "valid",
      valid.map((f) => `fixtures/${f}`),
    );
    expect(run.diagnostics).toEqual([]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.valid).toBe(valid.reduce((sum, f) => sum + countRecords(f), 0));
  });

  it("prints diagnostics as file:line[:col] severity code path message", async () => {
    const result = await runCli(["validate", "fixtures/reader/problems.jsonl", "fixtures/chat/errors.jsonl"]);
    expect(result.exitCode).toBe(1);
    const lines = result.stderr.split("\n");
    expect(lines).toContain(
      'fixtures/chat/errors.jsonl:2 error unrecognized_role messages[0].role expected one of system|developer|user|assistant|tool, found "wizard"',
    );
    expect(lines.find((l) => l.startsWith("fixtures/reader/problems.jsonl:3:"))).toMatch(
      /^fixtures\/reader\/problems\.jsonl:3:65 error invalid_json invalid JSON/,
    );
    expect(lines).toContain('fixtures/chat/errors.jsonl:14 warning unknown_key id unexpected key "id"');
    expect(result.stderr).toMatch(/curate validate: 21 of 31 records invalid in 2 files/);
  });
});
