/**
 * A small typed event emitter: listeners are called in the order they were
 * added; one that throws is reported to the `error` handler passed in, never
 * to the code that emitted.
 */
export class Emitter<Events extends Record<string, (...args: any[]) => void>> {
  #listeners = new Map<keyof Events, Set<(...args: any[]) => void>>();
  #onThrow: (err: unknown) => void;

  constructor(onThrow?: (err: unknown) => void) {
    this.#onThrow = onThrow ?? ((err) => queueMicrotask(() => { throw err; }));
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, fn: Events[K]): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => this.off(name, fn);
  }

  /** Removes a listener. */
  off<K extends keyof Events>(name: K, fn: Events[K]): void {
    this.#listeners.get(name)?.delete(fn);
  }

  /** Calls every listener of name with args. */
  emit<K extends keyof Events>(name: K, ...args: Parameters<Events[K]>): void {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        this.#onThrow(err);
      }
    }
  }

  /** Reports whether name has a listener. */
  has(name: keyof Events): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0;
  }
}
