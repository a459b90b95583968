import { Backoff, type BackoffOptions } from "./backoff.js";
import { parseFrame } from "./frames.js";

/** Takes the errors of a socket this side let go. */
const ignoreError = (): void => {};

/** What a WebSocket implementation must offer: the browser's, or Node's `ws` package. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `ws`'s default export. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** A token, or a function that gives one (called again before every connection). */
export type TokenSource = string | (() => string | Promise<string>);

/** Where a connection is. */
export type ConnectionState = "connecting" | "live" | "reconnecting" | "offline";

/** What a `status` listener gets. */
export interface Status {
  state: ConnectionState;
  /** The node of the live connection (once it said who it is). */
  nodeId?: string;
  /** The endpoint in use or next in turn. */
  url: string;
  /** Failed attempts in a row (0 once a connection held). */
  attempt: number;
  /** When reconnecting or offline: how long until the next attempt, in ms. */
  retryInMs?: number;
  /** Why the last connection ended, when it did. */
  reason?: string;
}

/** What a Hub and a Worker take alike. */
export interface ConnectionOptions {
  /** One or more endpoints (`ws(s)://host:port/ws` for a Hub, `…/ws/worker` for a Worker), tried in turn when one fails. */
  urls: string | string[];
  /** A token (sent as `?token=`), or a function called again before every connection. */
  token?: TokenSource;
  /** The WebSocket implementation (Node ≥ 20: pass the `ws` package's default export). */
  WebSocket?: WebSocketConstructor;
  /** Reconnect waits: full jitter between floorMs (100) and capMs (5000). */
  backoff?: BackoffOptions;
  /** Ping the node after this long without a frame (default 15000 ms). */
  pingIntervalMs?: number;
  /** Drop a connection that stays silent this long after a ping or a dial (default 10000 ms). */
  deadAfterMs?: number;
}

/** A connection that holds this long counts as a success: the next failure starts the backoff over. */
const HELD_MS = 1000;

const OPEN = 1;

/**
 * nextIndex returns the endpoint to dial after endpoint i of n: another one, at
 * random. The clients of a node that goes away (or sends them away) thus spread
 * over the others, where they all went to the next one before.
 */
export function nextIndex(i: number, n: number): number {
  if (n <= 2) return (i + 1) % n;
  return (i + 1 + Math.floor(Math.random() * (n - 1))) % n;
}

/**
 * Connection keeps one WebSocket to one of several endpoints at a time. It
 * dials, tells its owner about frames and about the socket going down, and
 * after a failure dials another endpoint (one of the others at random, so the
 * clients of a node that went away spread over the rest) after a full-jitter
 * backoff. A
 * `reconnect {afterMs}` from a draining node, and a close with 1008 (slow
 * consumer) or 1013 (try again later), make it wait (afterMs, or at least one
 * backoff step) and go to the next endpoint. Attempts that fail in a row make
 * the waits grow to the cap, so a node that is down is not hammered; once
 * every endpoint has failed in a row the state is `offline`. A silent
 * connection is pinged, and dropped when nothing answers.
 */
export abstract class Connection {
  protected readonly urls: string[];
  protected readonly backoff: Backoff;
  readonly #token: TokenSource | undefined;
  readonly #WS: WebSocketConstructor;
  readonly #pingMs: number;
  readonly #deadMs: number;

  #ws: WebSocketLike | undefined;
  #index = 0;
  #attempt = 0;
  #live = false;
  #liveSince = 0;
  #lastFrame = 0;
  #hint: number | undefined; // afterMs of a reconnect frame
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #status: Status;
  #onOnline = () => this.#dialSoon(0);

  constructor(opts: ConnectionOptions, path: string) {
    const urls = Array.isArray(opts.urls) ? opts.urls : [opts.urls];
    if (urls.length === 0 || urls.some((u) => !/^wss?:\/\/[^/]/.test(u))) {
      throw new TypeError(`actorhub: urls must be ws(s)://host:port/${path} endpoints, got ${JSON.stringify(opts.urls)}`);
    }
    this.urls = urls;
    this.#token = opts.token;
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) {
      throw new TypeError("actorhub: no WebSocket here: pass one, e.g. new Hub({ urls, WebSocket }) with `import WebSocket from \"ws\"`");
    }
    this.#WS = WS;
    this.backoff = new Backoff(opts.backoff);
    this.#pingMs = opts.pingIntervalMs ?? 15000;
    this.#deadMs = opts.deadAfterMs ?? 10000;
    this.#status = { state: "connecting", url: urls[0]!, attempt: 0 };
    const g = globalThis as { addEventListener?: (t: string, fn: () => void) => void };
    g.addEventListener?.("online", this.#onOnline);
  }

  /** The connection's current status. */
  get status(): Status {
    return { ...this.#status };
  }

  /** Reports whether a connection is live (frames may be sent). */
  get live(): boolean {
    return this.#live;
  }

  /** Reports whether close was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Called with each status change. */
  protected abstract onStatus(s: Status): void;
  /** Called with each object the node sends. */
  protected abstract onFrame(obj: { type: string } & Record<string, unknown>): void;
  /** Called when the socket opened (the owner decides when it is live). */
  protected abstract onOpen(): void;
  /** Called when a live or opening socket went down. */
  protected abstract onDown(): void;
  /** Called for a line that is not a JSON object with a type. */
  protected onBadFrame(_line: string, _why: string): void {}

  /** Starts dialing. */
  protected start(): void {
    this.#dialSoon(0);
  }

  /** The owner says the connection is live (after `connected`, or at once for a worker). */
  protected markLive(nodeId?: string): void {
    if (this.#live) return;
    this.#live = true;
    this.#liveSince = Date.now();
    this.#setStatus({ state: "live", nodeId, url: this.urls[this.#index]!, attempt: this.#attempt });
  }

  /** Sends objects as one text frame; false when no connection is live. */
  protected sendObjects(objs: unknown[]): boolean {
    return objs.length > 0 && this.sendText(objs.map((o) => JSON.stringify(o)).join("\n"));
  }

  /** Sends a prepared text frame; false when no connection is live. */
  protected sendText(text: string): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return false;
    try {
      ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  /** Drops the current socket (as if it failed) so that the next endpoint is tried. */
  protected drop(reason: string): void {
    const ws = this.#ws;
    if (!ws) return;
    this.#down(ws, 4000, reason);
    try {
      ws.close(4000, reason.slice(0, 120));
    } catch {
      /* already closing */
    }
  }

  /** Stops: closes the socket and dials no more. */
  protected stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#ticker);
    const g = globalThis as { removeEventListener?: (t: string, fn: () => void) => void };
    g.removeEventListener?.("online", this.#onOnline);
    const ws = this.#ws;
    this.#ws = undefined;
    const wasLive = this.#live;
    this.#live = false;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = null;
      ws.onerror = ignoreError; // closing a socket that still connects reports an error: with nobody to hear it, Node's ws throws it
      try {
        ws.close(1000, "client closed");
      } catch {
        /* already closing */
      }
      if (wasLive) this.onDown();
    }
    this.#setStatus({ state: "offline", url: this.urls[this.#index]!, attempt: this.#attempt, reason: "closed" });
  }

  #dialSoon(ms: number): void {
    if (this.#closed || this.#ws) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#dial(), ms);
  }

  async #dial(): Promise<void> {
    if (this.#closed || this.#ws) return;
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    if (nav?.onLine === false) { // the browser says there is no network: wait for its online event
      this.#setStatus({ state: "offline", url: this.urls[this.#index]!, attempt: this.#attempt, reason: "the browser is offline" });
      this.#timer = setTimeout(() => void this.#dial(), this.backoff.capMs);
      return;
    }
    const base = this.urls[this.#index]!;
    this.#setStatus({ state: "connecting", url: base, attempt: this.#attempt });
    let url = base;
    if (this.#token !== undefined) {
      let token: string;
      try {
        token = typeof this.#token === "function" ? await this.#token() : this.#token;
      } catch (err) {
        this.#failed(`the token function failed: ${(err as Error)?.message ?? err}`, undefined);
        return;
      }
      if (this.#closed || this.#ws) return;
      const u = new URL(base);
      u.searchParams.set("token", token);
      url = u.toString();
    }
    let ws: WebSocketLike;
    try {
      ws = new this.#WS(url);
    } catch (err) {
      this.#failed(`cannot open ${base}: ${(err as Error)?.message ?? err}`, undefined);
      return;
    }
    this.#ws = ws;
    this.#hint = undefined;
    this.#lastFrame = Date.now();
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      this.#lastFrame = Date.now();
      this.onOpen();
    };
    ws.onmessage = (ev) => {
      if (this.#ws !== ws) return;
      this.#lastFrame = Date.now();
      let data = ev.data;
      if (typeof data !== "string" && data instanceof Uint8Array) data = new TextDecoder().decode(data);
      for (const obj of parseFrame<{ type: string } & Record<string, unknown>>(data, (l, why) => this.onBadFrame(l, why))) {
        if (obj.type === "reconnect" && typeof obj.afterMs === "number" && obj.afterMs >= 0) {
          this.#hint = Math.min(obj.afterMs, 60000);
        }
        if (obj.type === "token_expiring") { // the node closes at expiresAt unless it gets a fresh token
          void this.#refresh(ws);
          continue;
        }
        if (obj.type === "refreshed") continue;
        this.onFrame(obj);
        if (this.#ws !== ws) return; // the owner dropped it
      }
    };
    ws.onclose = (ev) => this.#down(ws, ev.code, ev.reason || `closed with ${ev.code}`);
    ws.onerror = () => {}; // a close follows
    clearInterval(this.#ticker);
    this.#ticker = setInterval(() => this.#tick(ws), Math.min(this.#pingMs, this.#deadMs) / 2);
  }

  /**
   * Hands the live connection a fresh token from the token function (a fixed token cannot be refreshed: the
   * node closes the connection at its expiry and the next connection fails the same way until it is replaced).
   * A refusal or a failing function changes nothing: the node closes at expiry and the reconnect asks again.
   */
  async #refresh(ws: WebSocketLike): Promise<void> {
    if (typeof this.#token !== "function") return;
    let token: string;
    try {
      token = await this.#token();
    } catch {
      return;
    }
    if (this.#ws === ws) this.sendObjects([{ type: "refresh", token }]);
  }

  /** Pings a quiet connection and drops one that stays silent. */
  #tick(ws: WebSocketLike): void {
    if (this.#ws !== ws) return;
    const quiet = Date.now() - this.#lastFrame;
    if (!this.#live && quiet > this.#deadMs) {
      this.drop(`no answer from ${this.urls[this.#index]} within ${this.#deadMs} ms of dialing`);
    } else if (this.#live && quiet > this.#pingMs + this.#deadMs) {
      this.drop(`the node did not answer a ping within ${this.#deadMs} ms`);
    } else if (this.#live && quiet > this.#pingMs) {
      this.sendObjects([{ type: "ping" }]);
    }
  }

  #down(ws: WebSocketLike, code: number, reason: string): void {
    if (this.#ws !== ws) return;
    ws.onclose = ws.onmessage = ws.onopen = null;
    ws.onerror = ignoreError; // closing a socket that still connects reports an error: with nobody to hear it, Node's ws throws it
    this.#ws = undefined;
    clearInterval(this.#ticker);
    const wasLive = this.#live;
    const held = wasLive && Date.now() - this.#liveSince >= HELD_MS;
    this.#live = false;
    this.onDown();
    if (this.#closed) return;
    if (this.#hint !== undefined) { // a draining node said when and to go elsewhere
      this.#index = nextIndex(this.#index, this.urls.length);
      this.#attempt = 0;
      this.#wait(this.#hint, "reconnecting", `the node asked to reconnect elsewhere (${reason})`);
      return;
    }
    if (code === 1008 || code === 1013) { // slow consumer / try again later: back off, then go elsewhere
      this.#attempt = Math.max(this.#attempt, 1);
      this.#failed(reason, "reconnecting");
      return;
    }
    if (held) { // a connection that held broke: try the next endpoint at once (the node may be gone)
      this.#attempt = 0;
      this.#index = nextIndex(this.#index, this.urls.length);
      this.#wait(this.backoff.delay(0), "reconnecting", reason);
      return;
    }
    this.#failed(reason, wasLive ? "reconnecting" : undefined);
  }

  /** An attempt failed: the next endpoint, after a longer wait. */
  #failed(reason: string, state: ConnectionState | undefined): void {
    if (this.#closed) return;
    this.#attempt++;
    this.#index = nextIndex(this.#index, this.urls.length);
    const s = state ?? (this.#attempt >= this.urls.length ? "offline" : "reconnecting");
    this.#wait(this.backoff.delay(this.#attempt), s, reason);
  }

  #wait(ms: number, state: ConnectionState, reason: string): void {
    this.#setStatus({ state, url: this.urls[this.#index]!, attempt: this.#attempt, retryInMs: Math.round(ms), reason });
    this.#dialSoon(ms);
  }

  #setStatus(s: Status): void {
    if (s.state === "live" && this.#attempt !== 0) {
      s.attempt = this.#attempt;
    }
    this.#status = s;
    this.onStatus({ ...s });
    if (s.state === "live") { // it holds once it stayed up a moment
      const since = this.#liveSince;
      unref(setTimeout(() => {
        if (this.#live && this.#liveSince === since) this.#attempt = 0;
      }, HELD_MS));
    }
  }
}

/** Lets Node exit while only this timer is left (a browser's timers have no unref). */
export function unref<T>(t: T): T {
  (t as { unref?: () => void }).unref?.();
  return t;
}
