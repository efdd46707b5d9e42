import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, runCli, tempDir } from "./helpers/cli.js";

// `--device gpu` runs on whatever WebGPU adapter Dawn finds: on CI (no GPU) Mesa's llvmpipe, which .ci/run installs.
// CURATE_REQUIRE_GPU=1 (set by .ci/run) turns "no adapter" into a failure instead of a skip.
const requireGpu = process.env.CURATE_REQUIRE_GPU === "1";

describe("curate tokens / run --device", () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);
  const input = join(repoRoot, "fixtures/raw/chat.jsonl");

  it("gives the same annotated records on the GPU as on the CPU, and names the adapter on stderr", async () => {
    const outputs: string[] = [];
    let gpuLine = "";
    for (const device of ["cpu", "gpu"]) {
      const out = join(dir, `tokens-${device}.jsonl`);
      const { stderr, exitCode } = await runCli([
        "tokens",
        input,
        "--tokenizer",
        "cl100k_base",
        "--annotate",
        "_tokens",
        "--device",
        device,
        "--out",
        out,
      ]);
      if (device === "gpu" && /no WebGPU adapter/.test(stderr) && !requireGpu) {
        console.warn(`skipping the GPU half: ${stderr.trim()}`);
        return;
      }
      expect(stderr).not.toMatch(/curate: error/);
      expect(exitCode).toBe(1); // the fixture holds two unreadable lines on purpose
      if (device === "gpu") gpuLine = stderr.split("\n").find((l) => l.startsWith("device: "))!;
      outputs.push(readFileSync(out, "utf8"));
    }
    expect(gpuLine).toMatch(/^device: gpu, \S/);
    expect(outputs[1]).toBe(outputs[0]);
    expect(outputs[0]).toContain('"_tokens":{"total":');
  });

  it("keeps tokenizers the kernel does not implement on the CPU, and says so", async () => {
    const { stderr } = await runCli([
      "tokens",
      input,
      "--tokenizer",
      "p50k_base",
      "--device",
      "gpu",
      "--out",
      "/dev/null",
    ]);
    expect(stderr).toContain(
      "device: cpu (p50k_base stays on the CPU: the GPU kernel implements o200k_base and cl100k_base)",
    );
  });

  it("writes the same splits with curate run --device auto as with the CPU", async () => {
    const files: Record<string, string>[] = [];
    for (const device of ["cpu", "auto"]) {
      const out = join(dir, `run-${device}`);
      const { stderr } = await runCli([
        "run",
        input,
        "--model",
        "gpt-4o-mini",
        "--max-tokens",
        "60",
        "--split",
        "train=0.8,test=0.2",
        "--device",
        device,
        "--out",
        out,
      ]);
      if (device === "auto") expect(stderr).toMatch(/^device: (gpu|cpu)/m);
      files.push(
        Object.fromEntries(
          ["train.jsonl", "test.jsonl", "rejects.jsonl"].map((f) => [f, readFileSync(join(out, f), "utf8")]),
        ),
      );
    }
    expect(files[1]).toEqual(files[0]);
    expect(files[0]!["rejects.jsonl"]).toContain("too_many_tokens");
  });

  it("rejects an unknown device as a usage error", async () => {
    const { stderr, exitCode } = await runCli(["tokens", input, "--model", "gpt-4o", "--device", "tpu"]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/--device.*tpu|tpu.*--device|Allowed choices are cpu, gpu, auto/);
  });
});
