/**
 * `@actorhub/client/node`: what only Node has. FileStorage keeps a Hub's outbox
 * and seqs in a JSON file, so that they survive a process restart.
 */
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import type { Storage } from "./storage.js";

export * from "./index.js";

/**
 * FileStorage keeps every key in one JSON file at path. A write resolves once
 * the new file is on disk (written to a temporary file, fsynced, then renamed
 * over the old one, so a crash leaves the old or the new file, never half of
 * one); writes that come while one is in progress go together in the next.
 * One process at a time may use a file.
 */
export class FileStorage implements Storage {
  readonly path: string;
  #m: Map<string, unknown> | undefined;
  #loading: Promise<Map<string, unknown>> | undefined;
  #writing: Promise<void> | undefined;
  #again = false;
  #waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(path: string) {
    this.path = path;
  }

  async #load(): Promise<Map<string, unknown>> {
    if (this.#m) return this.#m;
    this.#loading ??= (async () => {
      let text: string | undefined;
      try {
        text = await readFile(this.path, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      const m = new Map<string, unknown>();
      if (text !== undefined && text.trim() !== "") {
        let obj: unknown;
        try {
          obj = JSON.parse(text);
        } catch (err) {
          throw new Error(`FileStorage: ${this.path} is not JSON (${(err as Error).message}); move it away to start empty`);
        }
        if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
          throw new Error(`FileStorage: ${this.path} does not hold a JSON object; move it away to start empty`);
        }
        for (const [k, v] of Object.entries(obj)) m.set(k, v);
      }
      this.#m = m;
      return m;
    })();
    return this.#loading;
  }

  async get(key: string): Promise<unknown> {
    const v = (await this.#load()).get(key);
    return v === undefined ? undefined : structuredClone(v);
  }

  async set(key: string, value: unknown): Promise<void> {
    (await this.#load()).set(key, JSON.parse(JSON.stringify(value)));
    return this.#flush();
  }

  async delete(key: string): Promise<void> {
    if ((await this.#load()).delete(key)) return this.#flush();
  }

  async keys(prefix: string): Promise<string[]> {
    return [...(await this.#load()).keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Writes the map out; resolves when a write that began after this call has finished. */
  #flush(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#writing) {
      this.#again = true;
    } else {
      this.#writing = this.#writeLoop();
    }
    return done;
  }

  async #writeLoop(): Promise<void> {
    do {
      this.#again = false;
      const waiters = this.#waiters;
      this.#waiters = [];
      try {
        await this.#writeOnce();
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    } while (this.#again || this.#waiters.length > 0);
    this.#writing = undefined;
  }

  async #writeOnce(): Promise<void> {
    const text = JSON.stringify(Object.fromEntries(this.#m ?? []));
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(text, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
  }
}
