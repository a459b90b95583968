/**
 * Where a Hub keeps what must outlive a connection, a page or a process: the
 * durable outbox (commands not yet acknowledged) and the last seq handed out
 * per job. Values are plain JSON values. Implementations: MemoryStorage (Node's
 * default), IndexedDBStorage (the browser's default) and FileStorage
 * (`@actorhub/client/node`).
 */
export interface Storage {
  /** The value under key, or undefined. */
  get(key: string): Promise<unknown>;
  /** Stores value under key; resolves once it is durable in this storage. */
  set(key: string, value: unknown): Promise<void>;
  /** Removes key (no error when it is absent). */
  delete(key: string): Promise<void>;
  /** Every key that starts with prefix, in ascending (code unit) order. */
  keys(prefix: string): Promise<string[]>;
}

/** MemoryStorage keeps everything in the process: it survives reconnects, not restarts. */
export class MemoryStorage implements Storage {
  #m = new Map<string, string>();

  async get(key: string): Promise<unknown> {
    const v = this.#m.get(key);
    return v === undefined ? undefined : JSON.parse(v);
  }

  async set(key: string, value: unknown): Promise<void> {
    this.#m.set(key, JSON.stringify(value));
  }

  async delete(key: string): Promise<void> {
    this.#m.delete(key);
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.#m.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}

/**
 * IndexedDBStorage keeps everything in the browser's IndexedDB (one object
 * store in database `name`), so the outbox and the seqs survive a reload or a
 * closed tab. A write resolves when its transaction has committed.
 */
export class IndexedDBStorage implements Storage {
  readonly name: string;
  #db: Promise<IDBDatabase> | undefined;

  constructor(name = "actorhub") {
    this.name = name;
  }

  /** Reports whether this environment has IndexedDB. */
  static available(): boolean {
    return typeof indexedDB !== "undefined";
  }

  #open(): Promise<IDBDatabase> {
    this.#db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(this.name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore("kv");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error("indexedDB.open failed"));
      req.onblocked = () => reject(new Error(`indexedDB ${this.name} is blocked by another tab's older version`));
    });
    return this.#db;
  }

  async #run<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.#open();
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction("kv", mode);
      const req = fn(tx.objectStore("kv"));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? req.error ?? new Error("indexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("indexedDB transaction aborted"));
    });
  }

  get(key: string): Promise<unknown> {
    return this.#run("readonly", (s) => s.get(key));
  }

  async set(key: string, value: unknown): Promise<void> {
    await this.#run("readwrite", (s) => s.put(value, key));
  }

  async delete(key: string): Promise<void> {
    await this.#run("readwrite", (s) => s.delete(key));
  }

  async keys(prefix: string): Promise<string[]> {
    const range = IDBKeyRange.bound(prefix, prefix + "\uffff");
    const keys = await this.#run("readonly", (s) => s.getAllKeys(range));
    return (keys as string[]).filter((k) => typeof k === "string").sort();
  }
}

/** The storage a Hub uses when none is given: IndexedDB in a browser, memory elsewhere. */
export function defaultStorage(): Storage {
  return IndexedDBStorage.available() ? new IndexedDBStorage() : new MemoryStorage();
}
