import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { AtomicFileWriter } from "./atomic.js";

describe("AtomicFileWriter", () => {
  const dir = mkdtempSync(join(tmpdir(), "curate-atomic-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes an empty .gz as valid gzip (one empty member), not 0 bytes", () => {
    const path = join(dir, "test.jsonl.gz");
    const writer = new AtomicFileWriter(path, { gzip: true });
    writer.close();
    const bytes = readFileSync(path);
    expect(bytes.length).toBeGreaterThan(0);
    expect(gunzipSync(bytes).length).toBe(0);
  });
});
