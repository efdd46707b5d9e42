import { InternalError } from "@curate/core";

const EPS = 1e-9;

/**
 * Rounds a table of fractional targets — one row per stratum, one column per split, each row summing to the
 * stratum's whole record count — to whole numbers such that every cell is its target rounded down or up, every
 * row sum is exact, and every column sum is at most its fractional sum rounded up (so exactly the requested size
 * when that sum is whole, as in absolute-size mode).
 *
 * Rounding each row on its own (largest remainder) keeps cells within one record but lets column totals drift by
 * up to one record per stratum; with many strata that shows as a visibly wrong test size. Such a rounding always
 * exists (the fractional table itself is a feasible flow, and transportation polytopes are integral), and a
 * max-flow finds it, in two phases for the columns' lower and upper bounds: a greedy pass places almost every
 * unit, Edmonds–Karp augmenting paths place the rest.
 * Hand-written because no flow library is a dependency, and the network is tiny (strata + splits nodes).
 * @example roundTable([[0.9 * 7, 0.1 * 7], [0.9 * 3, 0.1 * 3]], [7, 3]); // [[6, 1], [3, 0]]
 */
export function roundTable(targets: readonly (readonly number[])[], rowTotals: readonly number[]): number[][] {
  const rows = targets.length;
  const cols = targets[0]?.length ?? 0;
  const result = targets.map((row) => row.map((x) => Math.floor(x + EPS)));
  const fracs = targets.map((row, s) => row.map((x, j) => Math.max(0, x - result[s]![j]!)));
  const need = result.map((row, s) => rowTotals[s]! - row.reduce((a, b) => a + b, 0));
  // Column totals must land on their fractional sum rounded down or up: the flow first fills every split to the
  // rounded-down total (possible: scale the fractional table down), then may add one more where the sum allows.
  const lower: number[] = [];
  const upper: number[] = [];
  for (let j = 0; j < cols; j++) {
    let sum = 0;
    for (let s = 0; s < rows; s++) sum += fracs[s]![j]!;
    lower.push(Math.max(0, Math.floor(sum + 1e-6)));
    upper.push(Math.max(0, Math.ceil(sum - 1e-6)));
  }

  // Residual network: 0 source, 1..rows strata, then splits, then the sink. Edge e's reverse is e ^ 1.
  const source = 0;
  const sink = rows + cols + 1;
  const to: number[] = [];
  const cap: number[] = [];
  const head = new Int32Array(sink + 1).fill(-1);
  const next: number[] = [];
  const addEdge = (from: number, target: number, c: number): number => {
    const e = to.length;
    to.push(target, from);
    cap.push(c, 0);
    next.push(head[from]!, head[target]!);
    head[from] = e;
    head[target] = e + 1;
    return e;
  };
  const sourceEdge = need.map((n, s) => addEdge(source, 1 + s, Math.max(0, n)));
  const cellEdge: number[][] = fracs.map((row, s) =>
    row.map((f, j) => (f > EPS ? addEdge(1 + s, 1 + rows + j, 1) : -1)),
  );
  const sinkEdge = lower.map((c, j) => addEdge(1 + rows + j, sink, c));
  const push = (e: number) => {
    cap[e]!--;
    cap[e ^ 1]!++;
  };

  // Greedy: each stratum takes its largest remainders where the split still has room.
  let placed = 0;
  const greedy = () => {
    for (let s = 0; s < rows; s++) {
      const order = [...fracs[s]!.keys()].sort((a, b) => fracs[s]![b]! - fracs[s]![a]! || a - b);
      for (const j of order) {
        if (cap[sourceEdge[s]!] === 0) break;
        const cell = cellEdge[s]![j]!;
        if (cell < 0 || cap[cell] === 0 || cap[sinkEdge[j]!] === 0) continue;
        push(sourceEdge[s]!);
        push(cell);
        push(sinkEdge[j]!);
        placed++;
      }
    }
  };

  // Edmonds–Karp for whatever the greedy pass could not place. A path ends at the sink, so flow already sent
  // into the sink is never taken back: the first phase's lower bounds hold through the second.
  const via = new Int32Array(sink + 1);
  const augment = (): boolean => {
    via.fill(-1);
    via[source] = -2;
    const queue = [source];
    for (let q = 0; q < queue.length && via[sink] === -1; q++) {
      const node = queue[q]!;
      for (let e = head[node]!; e !== -1; e = next[e]!) {
        if (cap[e]! > 0 && via[to[e]!] === -1) {
          via[to[e]!] = e;
          queue.push(to[e]!);
        }
      }
    }
    if (via[sink] === -1) return false;
    for (let node = sink; node !== source; node = to[via[node]! ^ 1]!) push(via[node]!);
    placed++;
    return true;
  };

  const wanted = need.reduce((a, b) => a + Math.max(0, b), 0);
  greedy();
  while (placed < wanted && augment());
  lower.forEach((low, j) => {
    cap[sinkEdge[j]!]! += upper[j]! - low;
  });
  greedy();
  while (placed < wanted && augment());
  if (placed < wanted) {
    throw new InternalError(`split: could not round per-stratum targets (placed ${placed} of ${wanted})`);
  }

  for (let s = 0; s < rows; s++) {
    for (let j = 0; j < cols; j++) {
      const cell = cellEdge[s]![j]!;
      if (cell >= 0 && cap[cell] === 0) result[s]![j]!++;
    }
  }
  return result;
}
