// A map whose entries expire, with a bound: past `max` the entry set longest
// ago goes first. For tables keyed by what strangers send (names on a LAN):
// a flood costs a constant amount of memory and evicts only old entries.
export class ExpiringMap<V> {
  private entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Sets (or refreshes) an entry until `now + ttlMs`; it moves to the newest place. */
  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: this.now() + ttlMs });
  }

  /** The live value; an expired entry is removed on the way. */
  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every expired entry (the housekeeping sweep). */
  expire(): void {
    const t = this.now();
    for (const [k, e] of this.entries) if (e.until <= t) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}
