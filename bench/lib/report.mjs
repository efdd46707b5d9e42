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

/** The two-thread rows and the one-thread rows they are compared with. */
const THREAD_PAIRS = [
  ["near dedup", "read+near-1t", "read+near-2t"],
  ["tokens o200k_base", "read+tokens-o200k-1t", "read+tokens-o200k-2t"],
  ["tokens llama3", "read+tokens-llama3-1t", "read+tokens-llama3-2t"],
];

/**
 * The issue's targets, checked against this run where the rows exist. Each check names the rows it needs and
 * computes a value from them; `pass` is undefined when a row did not run. Ratios hold on a busy machine;
 * absolute rates (near-dedup records/s, start-up ms) do not.
 */
export function checkTargets(rows, corpus) {
  const get = (name) => rows.find((r) => r.name === name && r.status === "ok");
  const checks = [];
  const check = (target, needs, compute) => {
    const found = needs.map(get);
    if (found.some((r) => r === undefined)) checks.push({ target, pass: undefined });
    else checks.push({ target, ...compute(...found) });
  };

  check("read + validate ≥ 0.75 × scan+parse ceiling", ["read+validate"], (v) => ({
    pass: v.ratio >= 0.75,
    value: `${v.ratio.toFixed(2)} ×`,
  }));
  check("exact dedup adds ≤ 25% to read", ["read", "read+exact"], (read, exact) => {
    const extra = exact.ms / read.ms - 1;
    return { pass: extra <= 0.25, value: `${extra >= 0 ? "+" : ""}${(extra * 100).toFixed(0)}%` };
  });
  check("near dedup ≥ 30k records/s on 1 thread (read included)", ["read+near-1t"], (near) => ({
    pass: near.recordsPerSecond >= 30_000,
    value: `${n(near.recordsPerSecond)} records/s`,
  }));
  for (const [what, one, two] of THREAD_PAIRS) {
    check(`${what}: 2 threads ≥ 1.7 × 1 thread`, [one, two], (a, b) => ({
      pass: a.ms / b.ms >= 1.7,
      value: `${(a.ms / b.ms).toFixed(2)} ×`,
    }));
    check(`${what}: same output on 1 and 2 threads`, [one, two], (a, b) => ({
      pass: a.detail?.digest !== undefined && a.detail.digest === b.detail?.digest,
      value: `digests ${a.detail?.digest} / ${b.detail?.digest}`,
    }));
  }
  const all = rows.find((r) => r.name === "run:all");
  const slowest = rows
    .filter((r) => r.status === "ok" && all?.stagesAlone?.includes(r.name))
    .sort((a, b) => b.ms - a.ms)[0];
  check(
    `curate run (all) ≤ 1.25 × its slowest stage alone${slowest ? ` (${slowest.name})` : ""}`,
    ["run:all", slowest?.name ?? "(no stage row)"],
    (run, stage) => ({ pass: run.ms / stage.ms <= 1.25, value: `${(run.ms / stage.ms).toFixed(2)} ×` }),
  );
  // The memory target is stated for 1M records; on a smaller corpus the row only shows what to compare with.
  const full = corpus.records >= 1_000_000;
  check(
    `curate run with exact dedup: peak RSS < 1 GiB at 1M records${full ? "" : ` (this run has ${n(corpus.records)})`}`,
    ["run:exact-only"],
    (run) => ({
      pass: run.maxRssKb === undefined || !full ? undefined : run.maxRssKb < 1024 * 1024,
      value: run.maxRssKb && `${rss(run.maxRssKb)}, ${n((run.maxRssKb * 1024) / corpus.records)} bytes/record`,
    }),
  );
  check("curate validate on 10 lines < 300 ms wall", ["startup:validate-10"], (startup) => ({
    pass: startup.ms < 300,
    value: `${n(startup.ms)} ms`,
  }));
  check("pre-commit hook entry on 10 lines < 300 ms wall", ["startup:hook-10"], (startup) => ({
    pass: startup.ms < 300,
    value: `${n(startup.ms)} ms`,
  }));
  check("exact dedup (read+exact) faster than jq | sort -u", ["read+exact", "baseline:jq-sort-u"], (exact, jq) => ({
    pass: exact.ms < jq.ms,
    value: `${(jq.ms / exact.ms).toFixed(2)} × the baseline's speed`,
  }));
  return checks;
}

/** The target checks as lines: ✓ met, ✗ missed, – not measured in this run. */
export function renderTargets(checks) {
  return checks
    .map((c) => `${c.pass === true ? "✓" : c.pass === false ? "✗" : "–"} ${c.target}${c.value ? `: ${c.value}` : ""}`)
    .join("\n");
}

/** Duplicates a curate row routed, over all its stages. */
function duplicatesOf(row) {
  const counts = row.detail?.counts;
  return Array.isArray(counts) ? counts.reduce((sum, c) => sum + (c.duplicates ?? 0), 0) : undefined;
}

/**
 * Each peer row beside the curate row it names in `vs`, from the same run: the ratio of their measured times (who is
 * faster, by how much) and whether their counts agree — tokens and strings for tokenizers (the same strings go in, so
 * they must be equal), duplicates for dedup (curate's, the peer's and the corpus's planted count). `agree` is
 * undefined when either row did not finish.
 */
export function comparePeers(rows, corpus) {
  const get = (name) => rows.find((r) => r.name === name);
  return rows
    .filter((r) => r.kind === "peer" && r.vs)
    .map((peer) => {
      const ours = get(peer.vs);
      if (peer.status !== "ok" || ours?.status !== "ok") {
        const why = peer.status !== "ok" ? peer.note : `${peer.vs} ${ours?.note ?? "did not run"}`;
        return { peer: peer.name, vs: peer.vs, note: why };
      }
      const timeRatio = peer.ms / ours.ms;
      let agree;
      let counts;
      if (peer.detail?.tokens !== undefined) {
        const [a, b] = [ours.detail?.tokens, peer.detail.tokens];
        const [ta, tb] = [ours.detail?.texts, peer.detail.texts];
        agree = a === b && ta === tb;
        counts = `tokens ${n(a)} (curate) vs ${n(b)}; strings ${n(ta)} vs ${n(tb)}`;
      } else {
        const a = duplicatesOf(ours);
        const b = peer.detail?.duplicates;
        const planted = corpus.planted?.exact;
        agree = a === b && (planted === undefined || a === planted);
        counts = `duplicates ${n(a)} (curate) vs ${n(b)}${planted === undefined ? "" : `, planted ${n(planted)}`}`;
      }
      return { peer: peer.name, vs: peer.vs, timeRatio, agree, counts };
    });
}

/** The peer comparisons as lines: "<peer> vs <row>: curate N× faster" and the count check (✗ COUNT MISMATCH). */
export function renderPeers(comparisons) {
  return comparisons
    .map((c) => {
      if (c.timeRatio === undefined) return `– ${c.peer} vs ${c.vs}: not compared (${c.note})`;
      const who =
        c.timeRatio >= 1
          ? `curate ${c.timeRatio.toFixed(2)}× faster (the peer took ${c.timeRatio.toFixed(2)}× curate's time)`
          : `the peer ${(1 / c.timeRatio).toFixed(2)}× faster (it took ${c.timeRatio.toFixed(2)}× curate's time)`;
      const check = c.agree ? `counts agree: ${c.counts}` : `✗ COUNT MISMATCH: ${c.counts}`;
      return `${c.agree ? "✓" : "✗"} ${c.peer} vs ${c.vs}: ${who}; ${check}`;
    })
    .join("\n");
}
