import { describe, expect, it } from "vitest";
import { explainFailures } from "./hints.js";

describe("explainFailures", () => {
  it("names the field under another name when most records miss a field and carry a synonym", () => {
    const hint = explainFailures({
      file: "gpteacher.jsonl",
      records: 6000,
      issues: new Map([
        ["missing_field output", 5990],
        ["unknown_key response", 5990],
        ["unknown_key id", 12],
      ]),
    });
    expect(hint).toBe(
      `gpteacher.jsonl: 5990 of 6000 records have no "output" but have "response" — did you mean "output"? Rename it (jq -c '.output = .response | del(.response)'), or convert the file.`,
    );
  });

  it("says what a file of unknown records looks like", () => {
    const hint = explainFailures({
      file: "qa.jsonl",
      records: 4,
      issues: new Map([["unknown_format ", 4]]),
      unknownFormatKeys: ["question", "answer"],
    });
    expect(hint).toMatch(
      /4 of 4 records fit no format \(keys question, answer\); this looks like a question\/answer set/,
    );
  });

  it("says nothing when failures are scattered", () => {
    const issues = new Map([
      ["missing_field output", 3],
      ["unknown_key response", 3],
      ["missing_content instruction", 2],
    ]);
    expect(explainFailures({ file: "ok.jsonl", records: 100, issues })).toBeUndefined();
  });
});
