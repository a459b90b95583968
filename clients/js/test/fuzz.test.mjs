// Outside bytes into the client: seeded random frames (valid events, garbage,
// JSON of every shape, unknown types, fields of the wrong type) through the
// Hub's and the Worker's whole receive path. Nothing may throw, and a
// subscription may hand out only seq+1 after seq.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hub, Worker, MemoryStorage, parseFrame } from "../dist/index.js";
import { until } from "./harness.mjs";

/** mulberry32: a small seeded PRNG, so a failure replays with its seed. */
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JOB = "job-fuzz";
const values = [null, true, 0, -1, 1.5, 2 ** 60, NaN, "", "x", "job-fuzz", [], [1, "a"], {}, { chunk: 5 }, { chunk: "ok" }, "\u2028", "\ud800"];

function randomObject(r, seqHint) {
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  switch (Math.floor(r() * 8)) {
    case 0: return { type: "event", jobId: JOB, seq: seqHint, event: "model:chunk:v1", data: { chunk: "t" }, ts: 1 };
    case 1: return { type: "event", jobId: pick([JOB, "other", 5, null]), seq: pick([seqHint, seqHint + 1, seqHint - 1, pick(values)]), event: pick(["model:chunk:v1", "x:y:v9", 7, "", null]), data: pick(values), ts: pick(values) };
    case 2: return { type: pick(["subscribed", "created", "ack", "error", "reconnect", "pong", "connected", "unsubscribed", "zzz"]), id: pick(values), jobId: pick([JOB, pick(values)]), status: pick(values), lastSequence: pick(values), code: pick(values), afterMs: pick([5, -1, "x", 1e12]) };
    case 3: return pick(values);
    case 4: return { type: pick(values) };
    case 5: return { type: "cancelled", jobId: pick([JOB, pick(values)]), reason: pick(values) };
    case 6: return { type: "event", jobId: JOB, seq: seqHint, event: "job:progress:v1", data: { progress: pick(values) } };
    default: return { type: "error", jobId: JOB, code: pick(["offset_gap", "job_finished", "unavailable", "Job not found", 3]), nextOffset: pick(values), epoch: pick(values) };
  }
}

function randomLine(r, seqHint) {
  const roll = r();
  if (roll < 0.05) return "{\"type\":\"event\",\"jobId\":"; // cut short
  if (roll < 0.08) return String.fromCharCode(...Array.from({ length: 1 + Math.floor(r() * 20) }, () => Math.floor(r() * 0xffff)));
  return JSON.stringify(randomObject(r, seqHint));
}

/** A WebSocket whose node is the test: it answers connected and subscribed, then the test pushes frames. */
function fakeSocketClass(hello) {
  return class {
    static last;
    readyState = 0; onopen = null; onmessage = null; onclose = null; onerror = null;
    constructor() {
      this.constructor.last = this;
      setTimeout(() => { this.readyState = 1; this.onopen?.({}); if (hello) this.onmessage?.({ data: hello }); }, 0);
    }
    send(data) {
      for (const m of data.split("\n").map((l) => JSON.parse(l))) {
        if (m.type === "subscribe") setTimeout(() => this.onmessage?.({ data: JSON.stringify({ type: "subscribed", id: m.id, jobId: m.jobId, status: "running", lastSequence: 0, epoch: 1 }) }), 0);
      }
    }
    close() {}
  };
}

for (const seed of [1, 2, 3, 4, 5]) {
  test(`hub: 3000 random frames (seed ${seed})`, async () => {
    const r = rng(seed);
    const WS = fakeSocketClass(JSON.stringify({ type: "connected", sessionId: "s", nodeId: "n", userId: "u" }));
    const hub = new Hub({ urls: "ws://fuzz/ws", WebSocket: WS, storage: new MemoryStorage() });
    const sub = hub.subscribe(JOB, { fromSeq: 0 });
    const seqs = [];
    sub.on("event", (ev) => seqs.push(ev.seq));
    await until(() => hub.live && WS.last, 5000, "live");
    await new Promise((res) => setTimeout(res, 5));
    for (let i = 0; i < 3000 && !sub.ended; i++) {
      const n = 1 + Math.floor(r() * 4);
      const lines = Array.from({ length: n }, () => randomLine(r, sub.lastSeq + 1));
      WS.last.onmessage({ data: r() < 0.02 ? new Uint8Array([1, 2, 3]) : lines.join("\n") });
    }
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `seq ${seqs[i]} after ${seqs[i - 1]}`);
    assert.ok(seqs.length > 0 && seqs[0] === 1, "some events went through");
    await hub.close();
  });
}

test("worker: 3000 random frames never throw and never resolve an emit the node did not ack", async () => {
  const r = rng(42);
  const WS = fakeSocketClass(undefined);
  const w = new Worker({ urls: "ws://fuzz/ws/worker", WebSocket: WS });
  const settled = [];
  for (let i = 0; i < 50; i++) w.emit(JOB, "model:chunk:v1", { chunk: "x" }).then((a) => settled.push(["ok", a.offset]), (e) => settled.push(["err", e.code]));
  await until(() => w.live && WS.last, 5000, "live");
  for (let i = 0; i < 3000; i++) WS.last.onmessage({ data: randomLine(r, 0) });
  await new Promise((res) => setTimeout(res, 10));
  for (const [kind, v] of settled) if (kind === "ok") assert.ok(Number.isInteger(v) && v >= 0 && v < 50);
  await w.close();
});

test("parseFrame: random strings never throw", () => {
  const r = rng(7);
  for (let i = 0; i < 20000; i++) {
    const s = randomLine(r, i) + (r() < 0.5 ? "\n" + randomLine(r, i) : "");
    for (const o of parseFrame(s)) assert.equal(typeof o.type, "string");
  }
});
