// The README's "What curate will never do silently" list, one test per item, on fixtures written for them
// (fixtures/unfamiliar: GPTeacher-Toolformer-like instruction/input/response records, LLaMA-Factory-style tool
// calls, a folder mixing FastChat ShareGPT, alpaca and chat).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { parseJsonl, runCli, tempDir } from "./helpers/cli.js";

const { dir, cleanup } = tempDir("curate-silent-");
afterAll(cleanup);
const toolformer = "fixtures/unfamiliar/toolformer.jsonl";

describe("what curate will never do silently", () => {
  it("dedup: a record of unknown shape is keyed by all of it, and curate says so", async () => {
    const out = join(dir, "dedup.jsonl");
    const near = await runCli(["dedup", toolformer, "--near", "--threads", "1", "--out", out]);
    expect(near.exitCode).toBe(0);
    // 21 records: one verbatim repeat and one near copy; the other 19 differ in their answers.
    expect(parseJsonl(readFileSync(out, "utf8"))).toHaveLength(19);
    expect(near.stderr).toMatch(/21 record\(s\) fit no known format \(keys input, instruction, response/);
    expect(near.stderr).toMatch(/--key input --key instruction --key response/);
    const exact = await runCli(["dedup", toolformer, "--out", out, "--json"]);
    expect(JSON.parse(exact.stdout)).toMatchObject({ kept: 20, exact: { duplicates: 1 } });
  });

  it("run: a folder of mixed formats gets a warning; --to chat --extra drop converts FastChat's id away", async () => {
    const mixed = await runCli(["run", "fixtures/unfamiliar/mixed", "--out", join(dir, "mixed"), "--json"]);
    expect(mixed.exitCode).toBe(0);
    expect(JSON.parse(mixed.stdout).warnings[0]).toMatch(/the output mixes formats \(sharegpt 3, alpaca 2, chat 2\)/);
    const strict = await runCli([
      "run",
      "fixtures/unfamiliar/mixed",
      "--to",
      "chat",
      "--out",
      join(dir, "s"),
      "--json",
    ]);
    expect(JSON.parse(strict.stdout)).toMatchObject({ rejected: 3, rejectedByCode: { unmapped_field: 3 } });
    const dropped = await runCli([
      ...["run", "fixtures/unfamiliar/mixed", "--to", "chat", "--extra", "drop", "--no-split"],
      ...["--out", join(dir, "chat"), "--json"],
    ]);
    const summary = JSON.parse(dropped.stdout);
    expect(summary).toMatchObject({ kept: 7, rejected: 0 });
    expect(summary.warnings).toBeUndefined();
    const train = parseJsonl(readFileSync(join(dir, "chat", "train.jsonl"), "utf8")) as Record<string, unknown>[];
    expect(train.every((r) => Object.keys(r).join() === "messages")).toBe(true);
  });

  it("convert: ShareGPT tool calls become chat tool calls, not rejects", async () => {
    const out = join(dir, "tools.jsonl");
    const result = await runCli(["convert", "--to", "chat", "fixtures/unfamiliar/glaive-tools.jsonl", "--out", out]);
    expect(result.exitCode).toBe(0);
    const chats = parseJsonl(readFileSync(out, "utf8")) as { messages: { role: string }[]; tools?: unknown[] }[];
    expect(chats).toHaveLength(3);
    expect(chats[1]!.messages.map((m) => m.role)).toEqual([
      ...["user", "assistant", "tool", "assistant"],
      ...["user", "assistant", "tool", "assistant"],
    ]);
    const check = await runCli(["validate", out]);
    expect(check.exitCode).toBe(0);
    expect(check.stderr).not.toMatch(/warning/);
  });

  it("validate: repeats are grouped and a file that is mostly one mistake is named", async () => {
    const result = await runCli(["validate", toolformer]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.match(/error missing_field output/g)).toHaveLength(10);
    expect(result.stderr).toMatch(/… 11 more missing_field errors like the 10 above/);
    expect(result.stderr).toMatch(/21 of 21 records have no "output" but have "response" — did you mean "output"\?/);
    expect(result.stderr).not.toMatch(/output output/);
  });

  it("validate: empty input says so, not 'all 0 records valid'", async () => {
    const result = await runCli(["validate"], { input: "" });
    expect(result.stderr).toMatch(/no records read: stdin was empty; nothing was checked/);
    expect(result.stderr).not.toMatch(/all 0 records valid/);
  });

  it("decontamination: an eval record shorter than the n-gram is checked by exact match, and counted", async () => {
    const train = join(dir, "train.jsonl");
    writeFileSync(
      train,
      `${JSON.stringify({ instruction: "What is 7 times 8?", output: "56" })}\n${JSON.stringify({ instruction: "Name a fjord.", output: "Geirangerfjord." })}\n`,
    );
    const result = await runCli([
      "dedup",
      train,
      "--against",
      "fixtures/eval/trivia.jsonl",
      "--out",
      join(dir, "d.jsonl"),
    ]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/checked by exact match of the normalised text: 1 training record\(s\) matched one/);
    expect(parseJsonl(readFileSync(join(dir, "d.jsonl"), "utf8"))).toHaveLength(1);
  });

  it("report: a file that is not a manifest is a usage error (exit 2)", async () => {
    const result = await runCli(["report", toolformer]);
    expect(result.exitCode).toBe(2);
    const missing = await runCli(["report", join(dir, "nope.json")]);
    expect(missing.exitCode).toBe(2);
  });

  it("split --help's pipeline example works, and empty .jsonl.gz splits are valid gzip", async () => {
    const help = await runCli(["split", "--help"]);
    expect(help.stdout).toContain("curate validate --out - | curate dedup --near | curate split --out out/ --compress");
    const raw = readFileSync("fixtures/unfamiliar/mixed/alpaca.jsonl", "utf8");
    const valid = await runCli(["validate", "--out", "-"], { input: raw });
    const deduped = await runCli(["dedup", "--near", "--threads", "1"], { input: valid.stdout });
    const out = join(dir, "piped");
    const split = await runCli(["split", "--out", out, "--compress"], { input: deduped.stdout });
    expect(split.exitCode).toBe(0);
    const lines = (name: string) => gunzipSync(readFileSync(join(out, name))).toString("utf8");
    const all = ["train", "validation", "test"].map((s) => lines(`${s}.jsonl.gz`)).join("");
    expect(parseJsonl(all)).toHaveLength(2);
    // With two records, at least one of the three splits is empty: still a gzip file gunzip accepts.
    expect(["train", "validation", "test"].some((s) => lines(`${s}.jsonl.gz`) === "")).toBe(true);
  });
});
