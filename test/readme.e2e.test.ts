import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { parseJsonl, repoRoot } from "./helpers/cli.js";

// Runs the README's library example exactly as written, so the README cannot drift from the API.
const generated = join(repoRoot, "test/.readme-example.gen.ts");
const out = join(repoRoot, "out/readme-example");

function readmeExample(): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const match = /<!-- readme-example -->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (!match?.[1]) throw new Error("README.md has no ```ts block after <!-- readme-example -->");
  return match[1];
}

describe("README library example", () => {
  afterAll(() => {
    rmSync(generated, { force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it("runs and writes a dataset whose manifest adds up", async () => {
    writeFileSync(generated, readmeExample());
    const logged: unknown[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((value: unknown) => void logged.push(value));
    const cwd = process.cwd();
    process.chdir(repoRoot);
    try {
      await import(/* @vite-ignore */ generated);
    } finally {
      process.chdir(cwd);
      log.mockRestore();
    }
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const input = parseJsonl(readFileSync(join(repoRoot, "fixtures/chat/valid.jsonl"), "utf8")).length;
    expect(manifest.conservation).toMatchObject({ input, holds: true });
    const train = parseJsonl(readFileSync(join(out, "train.jsonl"), "utf8")).length;
    const test = existsSync(join(out, "test.jsonl"))
      ? parseJsonl(readFileSync(join(out, "test.jsonl"), "utf8")).length
      : 0;
    expect(train + test + manifest.conservation.rejected + manifest.conservation.duplicates).toBe(input);
    expect(train).toBeGreaterThan(test);
    expect(logged).toEqual([manifest.conservation]);
  });
});
