/**
 * Union-find over cluster ids (`meta.cluster`), for clusters that a later record joined: A~B and C~D are two
 * clusters until E~B and E~D make them one, after A..D have gone downstream under the ids "A" and "C". Holds only
 * the ids that were merged, so it stays small whatever the input size. Deterministic: the surviving id is the one
 * the caller names (the cluster that came first in input order).
 * @example const links = new ClusterLinks(); links.link("a.jsonl#3", "a.jsonl#1"); links.resolve("a.jsonl#3"); // "a.jsonl#1"
 */
export class ClusterLinks {
  private readonly parent = new Map<string, string>();

  /** Records that cluster `from` is now part of cluster `into` (which keeps its id). */
  link(from: string, into: string): void {
    const a = this.resolve(from);
    const b = this.resolve(into);
    if (a !== b) this.parent.set(a, b);
  }

  /** The id cluster `id` now goes by (itself when it never merged). */
  resolve(id: string): string {
    let root = id;
    for (let next = this.parent.get(root); next !== undefined; next = this.parent.get(root)) root = next;
    // Path compression: later look-ups of `id` take one step.
    if (root !== id && this.parent.get(id) !== root) this.parent.set(id, root);
    return root;
  }

  /** Every merged id with the id it resolves to. */
  *aliases(): IterableIterator<[string, string]> {
    for (const id of [...this.parent.keys()]) yield [id, this.resolve(id)];
  }

  /** Merged ids held. */
  get size(): number {
    return this.parent.size;
  }
}
