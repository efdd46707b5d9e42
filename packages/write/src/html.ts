import type { Manifest } from "./manifest.js";

/**
 * The HTML report: one self-contained page (inline CSS and SVG, no scripts, fonts or network), so it opens
 * offline and can be attached to a ticket. Charts are hand-drawn SVG because a chart library would either need a
 * CDN or a large bundled script for five bar charts.
 */

const COLORS = ["#3b6fd8", "#e07b39", "#3aa676", "#b44fb8", "#c9a227", "#4aa3b5", "#d24c5a", "#6b7280"];

function esc(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

function num(n: number): string {
  return n.toLocaleString("en-US");
}

/** Horizontal bars, one per label, with the value written after each bar. */
function horizontalBars(items: readonly (readonly [string, number])[], title: string): string {
  if (items.length === 0) return "";
  const row = 26;
  const labelWidth = Math.min(260, 12 + 7.2 * Math.max(...items.map(([l]) => l.length)));
  const barWidth = 420;
  const max = Math.max(1, ...items.map(([, v]) => v));
  const height = items.length * row + 10;
  const bars = items
    .map(([label, value], i) => {
      const y = 5 + i * row;
      const w = Math.max(value > 0 ? 2 : 0, (value / max) * barWidth);
      return (
        `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${esc(label)}</text>` +
        `<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 8}" rx="3" fill="${COLORS[i % COLORS.length]}"/>` +
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 16}">${num(value)}</text>`
      );
    })
    .join("");
  const width = labelWidth + barWidth + 90;
  return `<svg role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${bars}</svg>`;
}

/** The axis maximum: the smallest of 1, 2, 4, 5 or 10 × 10ⁿ at or above `value`, so half of it is round too. */
function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 4, 5, 10].map((m) => m * magnitude).find((v) => v >= value)!;
}

/** Vertical bars over labelled bins, with a y axis of three ticks. */
function columnChart(labels: readonly string[], counts: readonly number[], title: string, color: string): string {
  const left = 54;
  const bottom = 46;
  const top = 12;
  const plotHeight = 170;
  const step = Math.max(10, Math.min(36, 640 / Math.max(1, counts.length)));
  const width = left + step * counts.length + 20;
  const height = top + plotHeight + bottom;
  const max = niceCeiling(Math.max(1, ...counts));
  const parts: string[] = [];
  for (const fraction of [0, 0.5, 1]) {
    const y = top + plotHeight - fraction * plotHeight;
    parts.push(
      `<line x1="${left}" x2="${width - 10}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end" class="small">${num(Math.round(max * fraction))}</text>`,
    );
  }
  const labelEvery = Math.ceil(counts.length / 12);
  counts.forEach((c, i) => {
    const h = (c / max) * plotHeight;
    const x = left + i * step;
    parts.push(
      `<rect x="${(x + 1).toFixed(1)}" y="${(top + plotHeight - h).toFixed(1)}" width="${(step - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${esc(labels[i])}: ${num(c)}</title></rect>`,
    );
    if (i % labelEvery === 0) {
      parts.push(
        `<text x="${(x + step / 2).toFixed(1)}" y="${top + plotHeight + 14}" text-anchor="end" class="small" transform="rotate(-35 ${(x + step / 2).toFixed(1)} ${top + plotHeight + 14})">${esc(labels[i])}</text>`,
      );
    }
  });
  return `<svg role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${parts.join("")}</svg>`;
}

function table(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cell = (v: unknown) => (typeof v === "number" ? `<td class="n">${num(v)}</td>` : `<td>${esc(v ?? "")}</td>`);
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map(cell).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

function section(title: string, body: string): string {
  return `<section><h2>${esc(title)}</h2>${body}</section>`;
}

function tokenSection(manifest: Manifest): string {
  const splits = Object.entries(manifest.splits).filter(([, s]) => s.tokens);
  if (splits.length === 0) {
    return section(
      "Token lengths",
      `<p class="muted">No token counts in this dataset (the tokens stage did not run).</p>`,
    );
  }
  const charts = splits
    .map(([name, s], i) => {
      const t = s.tokens!;
      const edges = t.histogram.edges;
      const labels = t.histogram.counts.map((_, b) => `${num(edges[b]!)}–${num(edges[b + 1]! - 1)}`);
      return `<figure><figcaption>${esc(name)} · ${num(t.records)} records · mean ${num(t.mean)} · p95 ${num(t.p95)} · max ${num(t.max)} tokens</figcaption>${columnChart(labels, t.histogram.counts, `token-length histogram, ${name}`, COLORS[i % COLORS.length]!)}</figure>`;
    })
    .join("");
  return section("Token lengths (records per token-count bin)", charts);
}

/**
 * Renders a manifest as a self-contained HTML page: split sizes, token-length histogram per split, rejects by
 * code, duplicate cluster sizes, leakage, per-stage counts and times, inputs and outputs with checksums.
 * @example writeFileSync("report.html", renderReportHtml(readManifest("out/manifest.json")));
 */
export function renderReportHtml(manifest: Manifest): string {
  const c = manifest.conservation;
  const cards = [
    ["records read", c.input],
    ["kept", c.splits],
    ["rejected", c.rejected],
    ["duplicates", c.duplicates],
  ]
    .map(([label, value]) => `<div class="card"><div class="big">${num(value as number)}</div>${esc(label)}</div>`)
    .join("");

  const splitEntries = Object.entries(manifest.splits);
  const withTokens = splitEntries.some(([, s]) => s.tokens);
  const splitRows = splitEntries.map(([name, s]) => [
    name,
    s.file,
    s.records,
    ...(withTokens
      ? [s.tokens?.sum ?? "", s.tokens?.mean ?? "", s.tokens?.p50 ?? "", s.tokens?.p95 ?? "", s.tokens?.max ?? ""]
      : []),
  ]);
  const splits = section(
    "Splits",
    horizontalBars(
      splitEntries.map(([name, s]) => [name, s.records] as const),
      "records per split",
    ) + table(["split", "file", "records", ...(withTokens ? ["tokens", "mean", "p50", "p95", "max"] : [])], splitRows),
  );

  const rejectItems = Object.entries(manifest.rejects.byCode).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const rejects = section(
    "Rejects by code",
    rejectItems.length === 0
      ? `<p class="muted">No records were rejected.</p>`
      : horizontalBars(rejectItems, "rejects by code"),
  );

  const sizes = Object.entries(manifest.duplicates.clusterSizes)
    .map(([size, n]) => [Number(size), n] as const)
    .sort((a, b) => a[0] - b[0]);
  const methods = Object.entries(manifest.duplicates.byMethod)
    .map(([m, n]) => `${esc(m)}: ${num(n)}`)
    .join(" · ");
  const duplicates = section(
    "Duplicate cluster sizes",
    sizes.length === 0
      ? `<p class="muted">No duplicates were found.</p>`
      : `<p>${num(manifest.duplicates.total)} duplicates (${methods}) in ${num(sizes.reduce((a, [, n]) => a + n, 0))} clusters; a cluster is a kept record and its duplicates.</p>` +
          columnChart(
            sizes.map(([s]) => `size ${s}`),
            sizes.map(([, n]) => n),
            "clusters per cluster size",
            COLORS[1]!,
          ),
  );

  const leakage = manifest.leakage
    ? section(
        "Leakage between splits",
        table(
          ["held-out split", "records", "exact copies in train", `sharing a ${manifest.leakage.ngram}-gram with train`],
          Object.entries(manifest.leakage.splits).map(([name, l]) => [name, l.records, l.exact, l.ngram]),
        ) +
          (Object.values(manifest.leakage.splits).some((l) => l.examples.length > 0)
            ? `<p>Examples (up to 5 per split):</p>${table(
                ["split", "overlap", "held-out record", "training record"],
                Object.entries(manifest.leakage.splits).flatMap(([name, l]) =>
                  l.examples.map((e) => [
                    name,
                    e.kind === "exact" ? "exact copy" : `${manifest.leakage!.ngram}-gram`,
                    `${e.heldOut.file}:${e.heldOut.line}`,
                    `${e.train.file}:${e.train.line}`,
                  ]),
                ),
              )}`
            : ""),
      )
    : "";

  const stages = section(
    "Stages",
    table(
      ["stage", "in", "out", "rejected", "duplicates", "warnings", "ms"],
      manifest.stages.map((s) => [s.name, s.in, s.out, s.rejected, s.duplicates, s.warnings, Math.round(s.selfMs)]),
    ),
  );
  const inputs = section(
    "Inputs",
    manifest.inputs.length === 0
      ? `<p class="muted">No per-input statistics were recorded.</p>`
      : table(
          ["path", "bytes", "records", "sha256"],
          manifest.inputs.map((i) => [i.path, i.bytes ?? "", i.records ?? "", i.sha256 ?? ""]),
        ),
  );
  const outputs = section(
    "Outputs",
    table(
      ["file", "records", "bytes", "sha256"],
      manifest.outputs.map((o) => [o.path, o.records, o.bytes, o.sha256]),
    ),
  );
  const config = section("Configuration", `<pre>${esc(JSON.stringify(manifest.config, null, 2))}</pre>`);

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>curate report</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; margin: 0; background: #f6f7f9; }
main { max-width: 980px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 10px; }
section { background: #fff; border: 1px solid #e3e5e8; border-radius: 8px; padding: 16px 18px; margin: 14px 0; overflow-x: auto; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid #e3e5e8; border-radius: 8px; padding: 12px 16px; min-width: 150px; color: #57606a; }
.big { font-size: 24px; font-weight: 600; color: #1f2328; }
table { border-collapse: collapse; margin-top: 8px; font-size: 13px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eef0f2; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td:last-child { word-break: break-all; }
svg { display: block; margin: 6px 0; font-size: 12px; fill: #1f2328; }
svg .small { font-size: 10px; fill: #57606a; }
figure { margin: 0 0 14px; }
figcaption { font-weight: 600; }
.muted { color: #6e7781; }
.ok { color: #1a7f37; font-weight: 600; }
pre { font-size: 12px; background: #f6f8fa; padding: 10px; border-radius: 6px; overflow-x: auto; }
</style>
</head>
<body>
<main>
<h1>curate dataset report</h1>
<p class="muted">curate ${esc(manifest.tool.version)} · ${esc(manifest.createdAt)} · seed ${esc(manifest.seed ?? "—")} · ${num(manifest.wallMs)} ms</p>
<div class="cards">${cards}</div>
<p class="ok">Conservation law holds: ${num(c.input)} records read = ${num(c.splits)} in splits + ${num(c.rejected)} rejected + ${num(c.duplicates)} duplicates.</p>
${splits}
${tokenSection(manifest)}
${rejects}
${duplicates}
${leakage}
${stages}
${inputs}
${outputs}
${config}
</main>
</body>
</html>
`;
}
