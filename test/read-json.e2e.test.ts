import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, tempDir } from "./helpers/cli.js";

// Pretty-printed JSON through the built `curate validate`: `.json` files of concatenated objects (what
// `jq . data.jsonl > data.json` writes) are read record by record; JSONL inputs that hold such text say so.
// The files are written here rather than kept under fixtures/: fixtures.e2e.test.ts counts every .json file there
// as one JSON array, and Biome would lint them as (invalid) JSON anywhere else.

const { dir, cleanup } = tempDir("curate-read-json-");
afterAll(cleanup);

const support = {
  messages: [
    { role: "system", content: "You are a support assistant for a bike shop." },
    { role: "user", content: "My chain keeps slipping on the smallest cog. What should I check?" },
    {
      role: "assistant",
      content:
        "Check chain wear first (a 0.75% stretch means replace it), then the limit screw and cable tension of the rear derailleur.",
    },
  ],
};
const hours = {
  messages: [
    { role: "user", content: "Do you open on Sundays?" },
    { role: "assistant", content: "Yes, from 10:00 to 16:00." },
  ],
};
/** What `jq . chats.jsonl` prints: 16 + 12 lines. */
const prettyChats = [support, hours].map((v) => `${JSON.stringify(v, null, 2)}\n`).join("");
/** Hand-edited jq output: a missing comma (line 10), a duplicate key (line 15), and a line of text at the end. */
const prettyErrors = `{
  "messages": [
    { "role": "user", "content": "How much is a tune-up?" },
    { "role": "assistant", "content": "A basic tune-up is 49 euros." }
  ]
}
{
  "messages": [
    { "role": "user", "content": "Can you true a wheel?" }
    { "role": "assistant", "content": "Yes, usually the same day." }
  ]
}
{
  "messages": [
    { "role": "user", "content": "Which tyre pressure?", "content": "Which pressure for 28 mm tyres?" },
    { "role": "assistant", "content": "Around 5.5 to 6.5 bar, depending on your weight." }
  ]
}
Exported 3 conversations
`;

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

interface Summary {
  records: number;
  valid: number;
  invalid: number;
  inputs: { path: string; records: number; container: string; compression: string }[];
}

function summaryOf(stdout: string): Summary {
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Summary;
}

describe("curate validate on pretty-printed JSON", () => {
  it("reads a .json file of two pretty chat records as two valid records (exit 0)", async () => {
    const result = await runCli(["validate", file("chats.json", prettyChats), "--json"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(summaryOf(result.stdout)).toMatchObject({
      records: 2,
      valid: 2,
      invalid: 0,
      inputs: [{ records: 2, container: "json-values", compression: "none" }],
    });
  });

  it("reports a broken, a duplicate-key and trailing text with their lines, keeps the good record (exit 1)", async () => {
    const out = join(dir, "kept.jsonl");
    const errors = file("errors.json", prettyErrors);
    const result = await runCli(["validate", errors, "--out", out]);
    expect(result.exitCode).toBe(1);
    const lines = result.stderr.split("\n").filter((l) => l.startsWith(errors));
    // The record starts on line 7; the prefix names the line the error is on, so an editor jumps to it.
    expect(lines).toEqual([
      `${errors}:10:5 #2 error invalid_json invalid JSON at line 10 column 5: Expected ',' or ']' after array element near "…ou true a wheel?\\" }\\n    { \\"role\\": \\"assistant\\", \\"…"`,
      `${errors}:13 #3 error duplicate_key messages[0].content key "content" appears more than once in the same object`,
      `${errors}:19:1 #4 error invalid_json invalid JSON at column 1: Unexpected token 'E' near "Exported 3 conversations"`,
    ]);
    expect(result.stderr).toMatch(/curate validate: 3 of 4 records invalid in 1 file/);
    const kept = readFileSync(out, "utf8").trim().split("\n");
    expect(kept.map((l) => (JSON.parse(l) as { messages: { content: string }[] }).messages[0]!.content)).toEqual([
      "How much is a tune-up?",
    ]);
  });

  it("reads .json.gz the same way", async () => {
    const gz = file("chats.json.gz", gzipSync(prettyChats));
    const result = await runCli(["validate", gz, "--json"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(summaryOf(result.stdout).inputs[0]).toMatchObject({
      records: 2,
      container: "json-values",
      compression: "gzip",
    });
  });

  it("hints once, in a .jsonl file and on stdin, that the input looks pretty-printed and how to fix it", async () => {
    const jsonl = file("chats.jsonl", prettyChats);
    const read = await runCli(["validate", jsonl]);
    expect(read.exitCode).toBe(1);
    expect(read.stderr).toMatch(/curate validate: 2\d of 2\d records invalid/);
    const hinted = read.stderr.split("\n").filter((l) => l.includes("pretty-printed"));
    expect(hinted).toEqual([
      `${jsonl}:1:2 error invalid_json invalid JSON at column 2: Expected property name or '}'; this looks like pretty-printed JSON: one record per line is expected — \`jq -c . ${jsonl}\` converts it, or name the file ${join(dir, "chats.json")} near "{"`,
    ]);

    const stdin = await runCli(["validate"], { input: prettyChats });
    expect(stdin.exitCode).toBe(1);
    expect(stdin.stderr.split("\n")[0]).toMatch(
      /^<stdin>:1:2 error invalid_json .*this looks like pretty-printed JSON: one record per line is expected — pipe it through `jq -c \.` first/,
    );
    expect(stdin.stderr.match(/pretty-printed/g)).toHaveLength(1);
  });
});
