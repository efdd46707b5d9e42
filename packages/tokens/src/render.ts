import type { TokenizerInfo } from "@curate/tokenizer-worker";
import type { CostEstimate } from "./cost.js";
import type { TokenSummary } from "./stats.js";

const number = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });

function accounting(info: TokenizerInfo): string {
  switch (info.chatAccounting) {
    case "openai-estimate":
      return "chats: OpenAI message accounting (3/message, 1/name, 3 reply priming), an estimate";
    case "chat-template":
      return "chats: the tokenizer's chat template, rendered and tokenized";
    default:
      return "chats: no chat template, role-tagged text (an estimate)";
  }
}

/**
 * The statistics as a text table with a terminal histogram, for stderr.
 * @example process.stderr.write(renderStats(stage.stats.summary(), { info, cost }));
 */
export function renderStats(
  summary: TokenSummary,
  context: { readonly info?: TokenizerInfo; readonly cost?: CostEstimate; readonly width?: number } = {},
): string {
  const lines: string[] = [];
  const { info, cost } = context;
  if (info !== undefined) {
    lines.push(
      `tokens: ${info.name}${info.model ? ` (${info.model})` : ""}, ${info.engine} engine; ${accounting(info)}`,
    );
  }
  const rows: [string, string][] = [
    ["records counted", number(summary.records)],
    ["total tokens", number(summary.totalTokens)],
    ["trainable tokens", number(summary.trainableTokens)],
    ["min / max", `${number(summary.min)} / ${number(summary.max)}`],
    ["mean / median", `${number(summary.mean)} / ${number(summary.median)}`],
    ["p5 / p95", `${number(summary.p5)} / ${number(summary.p95)}`],
  ];
  if (summary.maxTokens !== undefined)
    rows.push([`over --max-tokens ${number(summary.maxTokens)}`, number(summary.overMax)]);
  if (summary.truncated > 0) rows.push(["truncated (counted as written)", number(summary.truncated)]);
  if (summary.minTokens !== undefined)
    rows.push([`under --min-tokens ${number(summary.minTokens)}`, number(summary.underMin)]);
  if (summary.estimated > 0) rows.push(["estimated counts", number(summary.estimated)]);
  for (const [shape, n] of Object.entries(summary.shapes).sort()) rows.push([`  ${shape} records`, number(n)]);
  for (const [field, n] of Object.entries(summary.fields).sort()) rows.push([`  ${field} tokens`, number(n)]);
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  for (const [label, value] of rows) lines.push(`${label.padEnd(labelWidth)}  ${value.padStart(valueWidth)}`);

  if (summary.histogram.length > 0) {
    lines.push("", "tokens per record");
    const barWidth = context.width ?? 40;
    const most = Math.max(...summary.histogram.map((b) => b.records));
    const ranges = summary.histogram.map((b) => `${number(b.from)}–${number(b.to)}`);
    const rangeWidth = Math.max(...ranges.map((r) => r.length));
    summary.histogram.forEach((bin, i) => {
      // Eighth-block characters give the bars sub-character resolution.
      const eighths = most === 0 ? 0 : Math.round((bin.records / most) * barWidth * 8);
      const bar = "█".repeat(Math.floor(eighths / 8)) + (eighths % 8 === 0 ? "" : " ▏▎▍▌▋▊▉"[eighths % 8]!);
      lines.push(`  ${ranges[i]!.padStart(rangeWidth)}  ${bar.padEnd(barWidth)}  ${number(bin.records)}`);
    });
  }

  if (cost !== undefined) {
    lines.push("");
    const limit = cost.contextLimit === undefined ? "" : `, each capped at ${number(cost.contextLimit)}`;
    lines.push(
      `fine-tuning estimate${cost.model ? ` for ${cost.model}` : ""}: ${number(cost.examples)} examples × ${cost.epochs} epochs (${cost.epochsFrom})${limit}`,
    );
    lines.push(`  billed training tokens  ${number(cost.billedTokens)} (${number(cost.tokensPerEpoch)} per epoch)`);
    if (cost.cost !== undefined) {
      const from = cost.priceFrom === "table" ? `built-in price of ${cost.priceDate}` : "--price";
      lines.push(`  cost                    $${cost.cost.toFixed(2)} at $${cost.pricePerMillion}/1M tokens (${from})`);
    } else lines.push("  cost                    unknown: no price for this model; pass --price USD-per-1M-tokens");
  }
  return `${lines.join("\n")}\n`;
}

/**
 * The statistics as one JSON-ready object, for `--json`.
 * @example printJson(statsJson(stage.stats.summary(), { info, cost }));
 */
export function statsJson(
  summary: TokenSummary,
  context: { readonly info?: TokenizerInfo; readonly cost?: CostEstimate } = {},
): Record<string, unknown> {
  return {
    ...(context.info === undefined ? {} : { tokenizer: context.info }),
    ...summary,
    ...(context.cost === undefined ? {} : { cost: context.cost }),
  };
}
