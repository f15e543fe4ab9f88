/**
 * Ids seen within a horizon (Backtrace's offline database resends a report
 * with the same `uuid`), in bounded memory: at most `maxEntries` ids, the
 * oldest evicted first (counted). Insertion order = expiry order, since the
 * horizon is the same for all.
 */
export class SeenIds {
  private readonly seen = new Map<string, number>();
  /** ids forgotten before their horizon because the map was full */
  evicted = 0;

  constructor(
    private readonly horizonMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** true when `id` was added within the horizon; otherwise records it and returns false */
  checkAndAdd(id: string): boolean {
    const t = this.now();
    this.expire(t);
    const exp = this.seen.get(id);
    if (exp !== undefined && exp > t) return true;
    if (this.horizonMs <= 0) return false;
    if (this.seen.size >= this.maxEntries) {
      const oldest = this.seen.keys().next();
      if (!oldest.done) {
        this.seen.delete(oldest.value);
        this.evicted++;
      }
    }
    this.seen.set(id, t + this.horizonMs);
    return false;
  }

  /** true when `id` was added within the horizon (nothing recorded) */
  has(id: string): boolean {
    const t = this.now();
    this.expire(t);
    const exp = this.seen.get(id);
    return exp !== undefined && exp > t;
  }

  /** forget `id` (its report was not accepted after all, so a resend must count) */
  remove(id: string): void {
    this.seen.delete(id);
  }

  private expire(t: number): void {
    for (const [k, exp] of this.seen) {
      if (exp > t) break;
      this.seen.delete(k);
    }
  }
}
