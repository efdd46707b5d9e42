/**
 * The bench table and the target checks, from the rows' results. Throughput is the whole corpus (records and bytes
 * on disk) over the row's time; the ratio is the row's MB/s over the ceiling's MB/s from the same run.
 */
import { CEILING } from "./rows.mjs";

const n = (x) => Math.round(x).toLocaleString("en-US");

function rss(kb) {
  if (kb === undefined) return "n/a";
  return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(2)} GiB` : `${Math.round(kb / 1024)} MiB`;
}

/** Adds records/s, MB/s and the ratio to the ceiling to every finished row. */
export function withRates(results, corpus) {
  const ceiling = results.find((r) => r.name === CEILING && r.status === "ok");
  const ceilingMbps = ceiling ? corpus.bytes / 1e6 / (ceiling.ms / 1000) : undefined;
  return results.map((r) => {
    if (r.status !== "ok" || r.startup) return r;
    const seconds = r.ms / 1000;
    const mbps = corpus.bytes / 1e6 / seconds;
    return {
      ...r,
      recordsPerSecond: corpus.records / seconds,
      mbps,
      ratio: ceilingMbps ? mbps / ceilingMbps : undefined,
    };
  });
}

/** The one table: row, records/s, MB/s, peak RSS, × ceiling, time, notes. */
export function renderTable(rows) {
  const header = ["row", "records/s", "MB/s", "peak RSS", "× ceiling", "time", "notes"];
  const body = rows.map((r) => {
    if (r.status !== "ok") return [r.name, "", "", "", "", "", r.note ?? r.status];
    if (r.startup) return [r.name, "—", "—", rss(r.maxRssKb), "—", `${n(r.ms)} ms`, r.note ?? ""];
    return [
      r.name,
      n(r.recordsPerSecond),
      r.mbps.toFixed(1),
      rss(r.maxRssKb),
      r.ratio === undefined ? "" : r.ratio.toFixed(2),
      `${(r.ms / 1000).toFixed(2)} s`,
      r.note ?? "",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => String(row[i]).length)));
  const numeric = [false, true, true, true, true, true, false];
  const line = (cells) =>
    cells
      .map((cell, i) => (numeric[i] ? String(cell).padStart(widths[i]) : String(cell).padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/**
 * The issue's targets, checked against this run where the rows exist: `pass` true/false, or undefined when a row
 * it needs did not run. Ratios hold on a busy machine; absolute rates (near-dedup records/s, start-up ms) do not.
 */
export function checkTargets(rows, corpus) {
  const get = (name) => rows.find((r) => r.name === name && r.status === "ok");
  const checks = [];
  const add = (target, pass, value) => checks.push({ target, pass, value });

  const validate = get("read+validate");
  add("read + validate ≥ 0.75 × scan+parse ceiling", validate?.ratio && validate.ratio >= 0.75, validate?.ratio && `${validate.ratio.toFixed(2)} ×`);

  const read = get("read");
  const exact = get("read+exact");
  const extra = read && exact ? exact.ms / read.ms - 1 : undefined;
  add("exact dedup adds ≤ 25% to read", extra === undefined ? undefined : extra <= 0.25, extra !== undefined && `+${(extra * 100).toFixed(0)}%`);

  const near1 = get("read+near-1t");
  add("near-dedup signatures ≥ 30k records/s per thread (read included)", near1 && near1.recordsPerSecond >= 30_000, near1 && `${n(near1.recordsPerSecond)} records/s`);

  for (const [one, two, what] of [
    ["read+near-1t", "read+near-2t", "near dedup"],
    ["read+tokens-o200k-1t", "read+tokens-o200k-2t", "tokens o200k_base"],
    ["read+tokens-llama3-1t", "read+tokens-llama3-2t", "tokens llama3"],
  ]) {
    const a = get(one);
    const b = get(two);
    const speedup = a && b ? a.ms / b.ms : undefined;
    add(`${what}: 2 threads ≥ 1.7 × 1 thread`, speedup === undefined ? undefined : speedup >= 1.7, speedup && `${speedup.toFixed(2)} ×`);
    const same = a?.detail?.digest && b?.detail?.digest ? a.detail.digest === b.detail.digest : undefined;
    add(`${what}: same output on 1 and 2 threads`, same, same === undefined ? undefined : `${a.detail.digest} / ${b.detail.digest}`);
  }

  const all = get("run:all");
  if (all) {
    const parts = rows.filter((r) => r.status === "ok" && all.stagesAlone?.includes(r.name));
    const slowest = parts.sort((a, b) => b.ms - a.ms)[0];
    const factor = slowest ? all.ms / slowest.ms : undefined;
    add(`curate run (all) ≤ 1.25 × its slowest stage alone${slowest ? ` (${slowest.name})` : ""}`, factor === undefined ? undefined : factor <= 1.25, factor && `${factor.toFixed(2)} ×`);
  } else add("curate run (all) ≤ 1.25 × its slowest stage alone", undefined, undefined);

  const exactRun = get("run:exact-only");
  const perRecord = exactRun?.maxRssKb ? (exactRun.maxRssKb * 1024) / corpus.records : undefined;
  add(
    `curate run with exact dedup: peak RSS < 1 GiB at 1M records${corpus.records === 1_000_000 ? "" : " (this run: " + n(corpus.records) + ")"}`,
    exactRun?.maxRssKb === undefined ? undefined : corpus.records >= 1_000_000 ? exactRun.maxRssKb < 1024 * 1024 : undefined,
    perRecord && `${rss(exactRun.maxRssKb)}, ${n(perRecord)} bytes/record overall`,
  );

  const startup = get("startup:validate-10");
  add("curate validate on 10 lines < 300 ms wall", startup && startup.ms < 300, startup && `${n(startup.ms)} ms`);

  const jq = get("baseline:jq-sort-u");
  add("exact dedup (read+exact) faster than jq | sort -u", exact && jq ? exact.ms < jq.ms : undefined, exact && jq && `${(jq.ms / exact.ms).toFixed(2)} × faster`);
  return checks;
}

/** The target checks as lines: ✓ met, ✗ missed, – not measured in this run. */
export function renderTargets(checks) {
  return checks
    .map((c) => `${c.pass === true ? "✓" : c.pass === false ? "✗" : "–"} ${c.target}${c.value ? `: ${c.value}` : ""}`)
    .join("\n");
}
