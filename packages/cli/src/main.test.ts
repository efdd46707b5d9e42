import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "./main.js";

/** Runs the CLI in-process and returns what it wrote to stdout. */
async function stdoutOf(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const code = await main(["node", "curate", ...args]);
  vi.restoreAllMocks();
  return { code, out };
}

describe("help texts of lazily loaded commands", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it("`validate --help` and `help validate` both list the formats and the rules", async () => {
    const flag = await stdoutOf(["validate", "--help"]);
    const command = await stdoutOf(["help", "validate"]);
    expect(flag.code).toBe(0);
    expect(flag.out).toBe(command.out);
    expect(flag.out).toMatch(/-f, --format <name> +record format: auto or one of chat, alpaca,/);
    expect(flag.out).toContain("Formats (--format, default auto");
    expect(flag.out).toMatch(/\n {2}unrecognized_role +error +A role outside/);
    expect(flag.out).toMatch(/Exit codes: 0 every record is valid/);
  });

  it("`convert --help` names the target formats", async () => {
    const { out } = await stdoutOf(["help", "convert"]);
    expect(out).toMatch(/-t, --to <format> +target format: chat, alpaca, prompt_completion,/);
  });

  it("`curate --help` lists every command", async () => {
    const { code, out } = await stdoutOf(["--help"]);
    expect(code).toBe(0);
    for (const name of ["run", "validate", "convert", "dedup", "tokens", "split", "report"]) {
      expect(out).toMatch(new RegExp(`\\n {2}${name} \\[options\\]`));
    }
  });
});
