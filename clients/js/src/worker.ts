import { Connection, type ConnectionOptions, type Status } from "./connection.js";
import { Emitter } from "./emitter.js";
import { HubError } from "./errors.js";
import { isSeq } from "./frames.js";
import { checkJobId, utf8Length } from "./hub.js";
import type { EventDataMap, WorkerFrame } from "./protocol.js";
import type { DataOf } from "./subscription.js";

/** A Worker's options: its `urls` are `ws(s)://host:port/ws/worker` endpoints. */
export type WorkerOptions = ConnectionOptions;

/** What emit resolves with once the event is durable. */
export interface EmitAck {
  jobId: string;
  /** The offset this Worker gave the event (0, 1, 2, … per job). */
  offset: number;
  /** The job's last seq when the ack was sent. */
  lastSequence: number;
}

type WorkerEvents = {
  status: (s: Status) => void;
  /** A job this Worker emitted to was cancelled: stop working on it (its further emits reject with job_finished). */
  cancel: (jobId: string, reason: string) => void;
};

interface Pending {
  offset: number;
  line: string;
  /** The line's UTF-8 bytes. */
  size: number;
  /** The job's terminal event: once it is durable the stream ends. */
  terminal: boolean;
  promise: Promise<EmitAck>;
  resolve: (a: EmitAck) => void;
  reject: (e: unknown) => void;
}

interface JobStream {
  jobId: string;
  /** The offset the next emit gets. */
  next: number;
  /** Offsets below this are durable. */
  acked: number;
  /** Offsets below this were written on the current connection. */
  sent: number;
  /** The highest epoch heard: refusals from older incarnations are late answers. */
  epoch: number;
  lastSequence: number;
  queue: Pending[];
  /** Set once the job refuses every further event (finished, cancelled, unknown). */
  over: HubError | undefined;
}

/** The node's frame limit is 64 KiB: a Worker's frames stay within it. */
const FRAME_BYTES = 64 * 1024;
/** Jobs whose stream ended are remembered (so their emits reject at once) up to this many. */
const ENDED_KEPT = 10000;
const NAME = /^[a-z][a-z0-9_.-]*:[a-z][a-z0-9_.-]*:v[1-9][0-9]{0,8}$/;

/**
 * Worker emits a job's events through `/ws/worker`. It numbers them per job
 * (offsets 0, 1, 2, …), sends them in batches, and resolves each emit once the
 * node acks it as durable. After a failure it sends every unacked event again,
 * on another endpoint if the connection failed; offsets make that
 * idempotent. The node pushes a job's cancellation to the connections that
 * emit to it: `on("cancel")`.
 */
export class Worker extends Connection {
  readonly #em: Emitter<WorkerEvents>;
  readonly #jobs = new Map<string, JobStream>();
  #flushing = false;

  constructor(opts: WorkerOptions) {
    super(opts, "ws/worker");
    this.#em = new Emitter<WorkerEvents>();
    this.start();
  }

  /** Adds a listener: status, cancel. Returns a function that removes it. */
  on<K extends keyof WorkerEvents>(name: K, fn: WorkerEvents[K]): () => void {
    const off = this.#em.on(name, fn);
    if (name === "status") (fn as WorkerEvents["status"])(this.status);
    return off;
  }

  /** Removes a listener. */
  off<K extends keyof WorkerEvents>(name: K, fn: WorkerEvents[K]): void {
    this.#em.off(name, fn);
  }

  /**
   * Appends an event to a job. Resolves once it is durable; rejects with a
   * HubError when the job refuses it for good (job_finished after its
   * terminal event or a cancellation, invalid_event, "Job not found"). Emits
   * of one job are kept in order.
   */
  emit<N extends string>(jobId: string, event: N, data?: N extends keyof EventDataMap ? DataOf<N> : Record<string, unknown>): Promise<EmitAck> {
    checkJobId(jobId);
    if (typeof event !== "string" || !NAME.test(event) || event.length > 128) {
      return Promise.reject(new TypeError(`actorhub: ${JSON.stringify(event)} is not an event name (area:thing:vN, e.g. model:chunk:v1)`));
    }
    const problem = checkData(event, data);
    if (problem) return Promise.reject(new TypeError(`actorhub: ${event}: ${problem}`));
    if (this.closed) return Promise.reject(new HubError("closed", "the worker is closed", jobId));
    const j = this.#job(jobId);
    if (j.over) return Promise.reject(j.over);
    const offset = j.next++;
    const frame: WorkerFrame = { type: "emit", jobId, offset, event, data: (data ?? {}) as Record<string, unknown> };
    const line = JSON.stringify(frame);
    const size = utf8Length(line);
    if (size > FRAME_BYTES) return Promise.reject(new TypeError(`actorhub: ${event} for job ${jobId} is ${size} bytes; a node takes events of up to 64 KiB`));
    let resolve!: (a: EmitAck) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<EmitAck>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const terminal = event === "job:completed:v1" || event === "job:failed:v1" || event === "job:cancelled:v1";
    j.queue.push({ offset, line, size, terminal, promise, resolve, reject });
    this.#schedule();
    return promise;
  }

  /**
   * Continues a job whose earlier events another process emitted: the next
   * emit gets offset nextOffset (GET /api/job/{id}/state tells it).
   */
  resumeJob(jobId: string, nextOffset: number): void {
    checkJobId(jobId);
    if (!isSeq(nextOffset)) throw new TypeError("actorhub: nextOffset must be an integer ≥ 0");
    const j = this.#job(jobId);
    if (j.queue.length > 0) throw new Error(`actorhub: job ${jobId} has emits waiting; resume it before emitting`);
    j.next = j.acked = j.sent = nextOffset;
  }

  /** Resolves once every emit made so far is durable or refused. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#jobs.values()].flatMap((j) => j.queue.map((p) => p.promise)));
  }

  /** Closes the connection; emits not yet durable reject with HubError "closed". */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stop();
    for (const j of this.#jobs.values()) this.#fail(j, 0, new HubError("closed", "the worker was closed before the node acked this event", j.jobId));
  }

  #job(jobId: string): JobStream {
    let j = this.#jobs.get(jobId);
    if (!j) {
      j = { jobId, next: 0, acked: 0, sent: 0, epoch: 0, lastSequence: 0, queue: [], over: undefined };
      this.#jobs.set(jobId, j);
    }
    return j;
  }

  protected override onStatus(s: Status): void {
    this.#em.emit("status", s);
  }

  protected override onOpen(): void {
    this.markLive(); // a worker connection says nothing first
    this.#schedule();
  }

  protected override onDown(): void {
    for (const j of this.#jobs.values()) j.sent = j.acked; // every unacked event goes again
  }

  protected override onFrame(o: { type: string } & Record<string, unknown>): void {
    const j = typeof o.jobId === "string" ? this.#jobs.get(o.jobId) : undefined;
    switch (o.type) {
      case "ack":
        if (j && isSeq(o.nextOffset)) this.#ack(j, o.nextOffset, o);
        return;
      case "error":
        if (j) this.#refused(j, o);
        return;
      case "cancelled": {
        const jobId = typeof o.jobId === "string" ? o.jobId : "";
        const reason = typeof o.reason === "string" ? o.reason : "";
        if (j && !j.over) this.#end(j, new HubError("job_finished", `the job was cancelled${reason ? ": " + reason : ""}`, j.jobId));
        if (jobId) this.#em.emit("cancel", jobId, reason);
        return;
      }
      default: // pong, reconnect, and types of newer nodes
        return;
    }
  }

  #ack(j: JobStream, next: number, o: Record<string, unknown>): void {
    if (isSeq(o.epoch)) j.epoch = Math.max(j.epoch, o.epoch);
    if (isSeq(o.lastSequence)) j.lastSequence = Math.max(j.lastSequence, o.lastSequence);
    this.#durable(j, next);
    this.#forget(j);
  }

  /** Offsets below next are durable: their emits resolve. */
  #durable(j: JobStream, next: number): void {
    if (next <= j.acked) return;
    j.acked = next;
    j.sent = Math.max(j.sent, next);
    let n = 0;
    while (n < j.queue.length && j.queue[n]!.offset < next) n++;
    let ended = false;
    for (const p of j.queue.splice(0, n)) {
      p.resolve({ jobId: j.jobId, offset: p.offset, lastSequence: j.lastSequence });
      ended ||= p.terminal;
    }
    if (ended && !j.over) this.#end(j, new HubError("job_finished", "the job ended with its terminal event", j.jobId));
  }

  #refused(j: JobStream, o: Record<string, unknown>): void {
    const code = typeof o.code === "string" ? o.code : "internal";
    const message = typeof o.message === "string" ? o.message : "";
    const epoch = isSeq(o.epoch) ? o.epoch : 0;
    const next = isSeq(o.nextOffset) ? o.nextOffset : undefined;
    switch (code) {
      case "offset_gap":
        if ((epoch !== 0 && epoch < j.epoch) || next === undefined || next < j.acked) return; // a late answer of an older path
        if (epoch !== 0) j.epoch = epoch;
        this.#durable(j, next); // the node has everything below next
        j.sent = Math.min(j.sent, next); // and wants the rest again
        this.#schedule();
        return;
      case "job_finished":
        if (next !== undefined) this.#durable(j, next);
        this.#end(j, new HubError(code, message, j.jobId));
        return;
      case "unavailable":
      case "timeout":
      case "rate_limited":
        return; // the node closes the connection (1013); everything unacked goes again on the next one
      default: // what sending again cannot fix: invalid_event, "Job not found", forbidden, …
        this.#end(j, new HubError(code, message, j.jobId));
    }
  }

  /** The job takes no more events: what waits rejects, and so does every later emit. */
  #end(j: JobStream, err: HubError): void {
    j.over = err;
    this.#fail(j, 0, err);
    this.#forget(j);
  }

  #fail(j: JobStream, from: number, err: HubError): void {
    for (const p of j.queue.splice(from)) p.reject(err);
  }

  /**
   * Bounds what ended streams cost: an open stream keeps its offsets (the next
   * emit continues them); ended ones are kept, up to ENDED_KEPT, so that their
   * emits reject at once.
   */
  #forget(j: JobStream): void {
    if (j.queue.length > 0 || !j.over) return;
    if (this.#jobs.size > ENDED_KEPT) {
      for (const [id, s] of this.#jobs) {
        if (this.#jobs.size <= ENDED_KEPT) break;
        if (s.over && s.queue.length === 0) this.#jobs.delete(id);
      }
    }
  }

  #schedule(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      this.#send();
    });
  }

  /** Writes every unsent event, a job's consecutive emits together, in frames below the node's limit. */
  #send(): void {
    if (!this.live) return;
    let frame: string[] = [];
    let bytes = 0;
    for (const j of this.#jobs.values()) {
      if (j.over) continue;
      for (const p of j.queue) {
        if (p.offset < j.sent) continue;
        if (bytes + p.size + 1 > FRAME_BYTES && frame.length > 0) {
          if (!this.sendText(frame.join("\n"))) return;
          frame = [];
          bytes = 0;
        }
        frame.push(p.line);
        bytes += p.size + 1;
        j.sent = p.offset + 1;
      }
    }
    if (frame.length > 0) this.sendText(frame.join("\n"));
  }
}

/** What the node checks of a known event's data, checked here first so a bad event fails at its emit. */
function checkData(event: string, data: unknown): string | undefined {
  if (data === undefined || data === null) return event === "model:chunk:v1" ? "data.chunk (a string) is required" : undefined;
  if (typeof data !== "object" || Array.isArray(data)) return "data must be an object";
  const d = data as Record<string, unknown>;
  switch (event) {
    case "model:chunk:v1":
      return typeof d.chunk === "string" ? undefined : "data.chunk (a string) is required";
    case "job:progress:v1":
      return d.progress === undefined || (typeof d.progress === "number" && d.progress >= 0 && d.progress <= 100)
        ? undefined
        : "data.progress must be a number within 0–100";
    case "job:checkpointed:v1":
      return d.checkpoint !== null && typeof d.checkpoint === "object" && !Array.isArray(d.checkpoint) ? undefined : "data.checkpoint must be an object";
    case "job:created:v1":
      return "job:created:v1 is the hub's own first event of a job";
  }
  return undefined;
}
