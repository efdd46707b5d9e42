import { seededRandom } from "@curate/core/testing";
import { DEFAULT_RATIOS as splitDefault } from "@curate/split";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { DEFAULT_RATIOS } from "./commands/split.js";
import { beforeParse, formatCount, prepareHelp, table } from "./common.js";

describe("formatCount", () => {
  it("writes numbers exactly as toLocaleString('en-US') does", () => {
    const next = seededRandom(7);
    const values = [0, -0, 1, -1, 12, 999, 1000, -1000, 12_345, 999_999, 1_000_000, 2 ** 53 - 1, -(2 ** 53 - 1)];
    values.push(2 ** 53, 1e21, 0.5, 1234.5678, -0.0001, Number.NaN, Number.POSITIVE_INFINITY);
    for (let i = 0; i < 2000; i++) {
      const digits = 1 + Math.floor(next() * 16);
      const n = Math.floor(next() * 10 ** digits) * (next() < 0.2 ? -1 : 1);
      values.push(n);
    }
    for (const n of values) expect(formatCount(n), String(n)).toBe(n.toLocaleString("en-US"));
  });

  it("is what tables use for numbers", () => {
    expect(table([["records", 1234567]])).toBe("records  1,234,567");
  });
});

describe("split's default ratios", () => {
  it("are @curate/split's (repeated in the CLI so that registering the command does not load the package)", () => {
    expect(DEFAULT_RATIOS).toBe(splitDefault);
  });
});

describe("beforeParse / prepareHelp", () => {
  function program(log: string[]) {
    const root = new Command("curate").exitOverride();
    root.configureOutput({ writeOut: (s) => log.push(s), writeErr: (s) => log.push(s) });
    const heavy = root.command("heavy").description("needs a package for its help").exitOverride();
    const light = root.command("light").description("needs nothing").exitOverride();
    heavy.configureOutput({ writeOut: (s) => log.push(s), writeErr: (s) => log.push(s) });
    let prepared = 0;
    let help = "not prepared";
    beforeParse(heavy, async () => {
      prepared++;
      await new Promise((resolve) => setTimeout(resolve, 1));
      help = "the tables";
    });
    heavy.addHelpText("after", () => help);
    heavy.action(() => {
      log.push(`ran with ${help}`);
    });
    light.action(() => {
      log.push("light ran");
    });
    return { root, prepared: () => prepared };
  }

  it("prepares a command before it runs, once, and never for another command", async () => {
    const log: string[] = [];
    const p = program(log);
    await p.root.parseAsync(["light"], { from: "user" });
    expect(p.prepared()).toBe(0);
    await p.root.parseAsync(["heavy"], { from: "user" });
    await p.root.parseAsync(["heavy"], { from: "user" });
    expect(p.prepared()).toBe(1);
    expect(log).toEqual(["light ran", "ran with the tables", "ran with the tables"]);
  });

  it("prepares before `heavy --help` and, through prepareHelp, before `help heavy`", async () => {
    for (const args of [
      ["heavy", "--help"],
      ["help", "heavy"],
    ]) {
      const log: string[] = [];
      const p = program(log);
      await prepareHelp(p.root, args);
      // `--help` stops with commander.helpDisplayed, `help heavy` with commander.help: both after printing it.
      await expect(p.root.parseAsync(args, { from: "user" })).rejects.toMatchObject({
        code: expect.stringMatching(/^commander\.help/),
      });
      expect(log.join("")).toContain("the tables");
      expect(p.prepared()).toBe(1);
    }
  });

  it("prepareHelp leaves other command lines alone", async () => {
    const p = program([]);
    for (const args of [[], ["heavy"], ["help"], ["help", "light"], ["help", "nosuch"], ["--help"]]) {
      await prepareHelp(p.root, args);
    }
    expect(p.prepared()).toBe(0);
  });
});
