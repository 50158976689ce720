import { MAX_TIMER_MS, type Timers } from '../../local/timers';

/**
 * A virtual clock for the engine's long timers, with Node's semantics (a delay above 2^31-1 ms, or below 1, fires
 * after 1 ms): `advance(ms)` runs every timer due by then, in order, timers armed meanwhile included.
 */
export class VirtualTimers implements Timers {
  now = 0;
  private next = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.due.set(id, { at: this.now + (ms > MAX_TIMER_MS || ms < 1 ? 1 : ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }

  /** Timers still armed. */
  get pending(): number {
    return this.due.size;
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (let i = 0; i < 100_000; i++) {
      const [id, first] = [...this.due].sort(([, a], [, b]) => a.at - b.at)[0] ?? [];
      if (id === undefined || !first || first.at > until) break;
      this.due.delete(id);
      this.now = first.at;
      first.fn();
    }
    this.now = until;
  }
}
