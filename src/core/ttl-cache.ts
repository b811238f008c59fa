/**
 * A small in-process cache for values the store holds, so the per-message path does not read
 * them every time: entries live `ttlMs` (how stale another instance's change may be seen here),
 * and the oldest entry goes when `maxEntries` is reached (memory stays bounded on big servers).
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The live entry for `key` (its value may itself be undefined), or undefined on a miss. */
  get(key: string): { value: V } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, value: V): void {
    this.entries.delete(key); // re-inserted last: Map order is the eviction order
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
  }
}
