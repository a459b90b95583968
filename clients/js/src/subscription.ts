import { Emitter } from "./emitter.js";
import { HubError } from "./errors.js";
import { TerminalStatuses, type EventDataMap, type JobStatus, type KnownEventName } from "./protocol.js";

/** The data of event N: its payload type for a known event, any object for another. */
export type DataOf<N extends string> = N extends keyof EventDataMap ? EventDataMap[N] : Record<string, unknown>;

/** One event of a job, as a subscription hands it out. */
export interface JobEvent<N extends string = string> {
  jobId: string;
  /** 1, 2, 3, … per job: strictly increasing, no gaps, no duplicates. */
  seq: number;
  /** area:thing:vN */
  event: N;
  data: DataOf<N>;
  /** When the hub accepted it, ms since the Unix epoch. */
  ts?: number;
}

/** Narrows ev to a known event, e.g. `if (isEvent(ev, "model:chunk:v1")) text += ev.data.chunk`. */
export function isEvent<N extends KnownEventName>(ev: JobEvent, name: N): ev is JobEvent<N> {
  return ev.event === name;
}

/** Reports whether an event ends its job. */
export function isTerminal(ev: JobEvent): boolean {
  return ev.event === "job:completed:v1" || ev.event === "job:failed:v1" || ev.event === "job:cancelled:v1";
}

/** What a `subscribed` listener gets: the node's view of the job when the subscription (re)started. */
export interface SubscribedInfo {
  jobId: string;
  status: JobStatus;
  /** The job's last seq when the node subscribed it. */
  lastSequence: number;
  /** The incarnation of the job's owner (it rises when another node takes the job over). */
  epoch: number;
  /** The node this subscription runs through. */
  nodeId: string | undefined;
  /** The seq it resumed after. */
  fromSeq: number;
}

export interface SubscribeOptions {
  /**
   * Start after this seq. Without it, a subscription starts after the last seq
   * a subscription of this job handed out with the Hub's storage (0 when none
   * did).
   */
  fromSeq?: number;
}

type SubscriptionEvents = {
  event: (ev: JobEvent) => void;
  subscribed: (info: SubscribedInfo) => void;
  error: (err: HubError) => void;
  end: () => void;
};

/** What a Subscription needs from its Hub. */
export interface SubscriptionOwner {
  detach(sub: Subscription): void;
  saveSeq(jobId: string, seq: number): Promise<void>;
}

/**
 * Subscription follows one job: an AsyncIterable of its events and an
 * emitter of them (`on("event")`), in seq order, each once. After any
 * reconnect, on any node, the Hub resumes it after `lastSeq`. It ends after
 * the job's terminal event (the iteration finishes), on `close()`, or with an
 * error (the iteration throws it; `on("error")` gets it) when the node refuses
 * it for good, e.g. "Job not found".
 */
export class Subscription implements AsyncIterable<JobEvent> {
  readonly jobId: string;
  #owner: SubscriptionOwner;
  #seq: number;
  #status: JobStatus | undefined;
  #ended = false;
  #error: HubError | undefined;
  #em = new Emitter<SubscriptionEvents>();
  #queue: JobEvent[] = [];
  #readers: Array<{ resolve: (r: IteratorResult<JobEvent>) => void; reject: (e: unknown) => void }> = [];
  #saving: Promise<void> | undefined;
  #saved: number;
  // Events wait in #queue for an iteration once one began, or while nothing
  // listens to "event" (an iteration may begin later); a subscription used
  // only through on("event") keeps no queue.
  #iterating = false;

  /** @internal the Hub creates subscriptions (Hub.subscribe). */
  constructor(owner: SubscriptionOwner, jobId: string, fromSeq: number) {
    this.#owner = owner;
    this.jobId = jobId;
    this.#seq = fromSeq;
    this.#saved = fromSeq;
  }

  /** The seq of the last event handed out (or the seq it started after). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** The job's status as last seen (from `subscribed` and the events). */
  get status(): JobStatus | undefined {
    return this.#status;
  }

  /** Reports whether the subscription ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof SubscriptionEvents>(name: K, fn: SubscriptionEvents[K]): () => void {
    return this.#em.on(name, fn);
  }

  /** Removes a listener. */
  off<K extends keyof SubscriptionEvents>(name: K, fn: SubscriptionEvents[K]): void {
    this.#em.off(name, fn);
  }

  /** Ends the subscription (the iteration finishes); its lastSeq is saved. */
  close(): void {
    this.#end(undefined);
  }

  /** Resolves when the subscription ended; rejects with its error. */
  done(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#ended) return this.#error ? reject(this.#error) : resolve();
      this.#em.on("end", () => (this.#error ? reject(this.#error) : resolve()));
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<JobEvent> {
    this.#iterating = true;
    return {
      next: () => {
        const ev = this.#queue.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (this.#ended) {
          return this.#error ? Promise.reject(this.#error) : Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** @internal the seq it starts after, once storage said (before any event). */
  startAfter(seq: number): void {
    if (this.#ended || seq <= this.#seq) return;
    this.#seq = this.#saved = seq;
  }

  /** @internal an event from the wire; drops what it handed out already. */
  deliver(ev: JobEvent): void {
    if (this.#ended || ev.seq <= this.#seq) return;
    this.#seq = ev.seq;
    this.#status = statusAfter(this.#status, ev.event);
    const reader = this.#readers.shift();
    if (reader) reader.resolve({ value: ev, done: false });
    else if (this.#iterating || !this.#em.has("event")) this.#queue.push(ev); // kept for an iteration to come
    this.#em.emit("event", ev);
    this.#save();
    if (isTerminal(ev)) this.#end(undefined);
  }

  /** @internal the node (re)started the subscription. */
  subscribed(info: SubscribedInfo): void {
    if (this.#ended) return;
    this.#status ??= info.status;
    if (TerminalStatuses.includes(info.status)) this.#status = info.status;
    this.#em.emit("subscribed", info);
    if (TerminalStatuses.includes(info.status) && info.lastSequence <= this.#seq) this.#end(undefined);
  }

  /** @internal the node refused it for good. */
  fail(err: HubError): void {
    if (this.#ended) return;
    this.#em.emit("error", err);
    this.#end(err);
  }

  #end(err: HubError | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err;
    for (const r of this.#readers.splice(0)) {
      if (err) r.reject(err);
      else r.resolve({ value: undefined, done: true });
    }
    this.#owner.detach(this);
    this.#save();
    this.#em.emit("end");
  }

  /** Saves lastSeq, one write at a time (the latest wins). */
  #save(): void {
    if (this.#saving || this.#saved === this.#seq) return;
    const seq = this.#seq;
    this.#saving = this.#owner.saveSeq(this.jobId, seq).then(
      () => {
        this.#saved = seq;
        this.#saving = undefined;
        this.#save();
      },
      () => {
        this.#saving = undefined; // the next event tries again
      },
    );
  }

  /** @internal resolves once the last seq handed out is saved. */
  async flush(): Promise<void> {
    while (this.#saving) await this.#saving;
    if (this.#saved !== this.#seq) {
      this.#save();
      await this.#saving;
    }
  }
}

function statusAfter(s: JobStatus | undefined, event: string): JobStatus | undefined {
  switch (event) {
    case "job:completed:v1":
      return "completed";
    case "job:failed:v1":
      return "failed";
    case "job:cancelled:v1":
      return "cancelled";
    case "job:created:v1":
      return s ?? "created";
    default:
      return s === undefined || s === "created" ? "running" : s;
  }
}
