/**
 * A first-in first-out queue whose items can go stale (removed or replaced elsewhere) without being taken out:
 * `isLive` decides, stale items are skipped at the head and dropped in an O(n) compaction once they outnumber the
 * live ones, so every operation is amortised O(1). (A Map in insertion order would do the same on paper, but V8
 * leaves deleted entries as holes that each `keys().next()` walks over until the next rehash.)
 */
export class LazyFifo<T> {
  private items: T[] = [];
  private head = 0;
  private live = 0;

  constructor(private readonly isLive: (item: T) => boolean) {}

  /** Adds a live item at the tail. */
  push(item: T): void {
    this.items.push(item);
    this.live += 1;
  }

  /** Tells the queue that one of its items went stale (it stays until skipped or compacted). */
  staled(): void {
    this.live -= 1;
    if (this.items.length - this.head > 64 && this.live * 2 < this.items.length - this.head) this.compact();
  }

  /** The oldest live item, without taking it. */
  peek(): T | undefined {
    while (this.head < this.items.length && !this.isLive(this.items[this.head] as T)) this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }

  private compact(): void {
    this.items = this.items.slice(this.head).filter(this.isLive);
    this.head = 0;
    this.live = this.items.length;
  }
}
