import { statSync } from "node:fs";
import { join } from "node:path";
import { isCurateError, UsageError } from "@curate/core";
import type { Command } from "commander";
import { note, printJson, table } from "../common.js";

const examples = `
Examples:
  $ curate report out/manifest.json                 the summary table of a finished run
  $ curate report out/ --html report.html           also a self-contained HTML page with charts
  $ curate report out/manifest.json --json | jq .splits

The HTML page has no scripts and loads nothing from the network: it opens offline and can be attached
to a ticket. Charts: records per split, token-length histogram per split (when the tokens stage ran),
rejects by code, duplicate cluster sizes; tables: leakage, stages, inputs and outputs with checksums.`;

interface ReportOptions {
  html?: string;
  json?: boolean;
}

/**
 * `curate report`: prints a manifest's summary again (stdout: it is this command's output, not a diagnostic) and
 * optionally writes the HTML report.
 * @example registerReport(program); // curate report out/manifest.json --html report.html
 */
export function registerReport(program: Command): void {
  program
    .command("report")
    .summary("summarise a finished run from its manifest; --html for a page with charts")
    .description("Print the summary of a dataset from its manifest.json, and optionally write an HTML report.")
    .argument("<manifest>", "a manifest.json, or the output folder that holds one")
    .option("--html <file>", "write a self-contained HTML report (inline SVG charts, no network) to this file")
    .option("--json", "print the summary as JSON")
    .addHelpText("after", examples)
    .action(async (path: string, options: ReportOptions) => {
      // Loaded here, not at the top: the manifest schema is zod, which `curate --help` must not pay for.
      const { AtomicFileWriter, manifestSummaryJson, readManifest, renderReportHtml, summaryNotes, summaryRows } =
        await import("@curate/write");
      const file = isFolder(path) ? join(path, "manifest.json") : path;
      let manifest: ReturnType<typeof readManifest>;
      try {
        manifest = readManifest(file);
      } catch (error) {
        // Not a manifest (not JSON, another JSON file, a missing file) is a wrong argument: a usage error, exit 2.
        if (isCurateError(error) && error.exitCode !== 2) throw new UsageError(error.message, { cause: error });
        throw error;
      }
      if (options.json) printJson(manifestSummaryJson(manifest));
      else process.stdout.write(`${[table(summaryRows(manifest)), ...summaryNotes(manifest)].join("\n")}\n`);
      if (options.html !== undefined) {
        const out = new AtomicFileWriter(options.html);
        out.write(renderReportHtml(manifest));
        out.close();
        note(`wrote ${options.html}`);
      }
    });
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
