// What scripts/bench-browser.mjs runs in Chromium: the cost of one event from
// the WebSocket's message to the subscription's listener (the Hub's frame
// parsing, seq checks and hand-out), against JSON.parse alone and against
// socket.io-client's decoding of the same event (engine.io + socket.io parsers).
import { Hub, MemoryStorage } from "../src/index.js";
import { decodePacket } from "engine.io-parser";
import { Decoder } from "socket.io-parser";

const JOB = "job-0123456789abcdef01234567";
const line = (seq: number) =>
  `{"type":"event","jobId":"${JOB}","seq":${seq},"event":"model:chunk:v1","data":{"chunk":" token","index":${seq}},"ts":1733200000000}`;

/** A WebSocket whose node is this function: it answers connected and subscribed, and lets the bench push frames. */
class FakeSocket {
  static last: FakeSocket;
  readyState = 0;
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  constructor(_url: string) {
    FakeSocket.last = this;
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
      this.onmessage?.({ data: `{"type":"connected","sessionId":"s","nodeId":"bench","userId":"u"}` });
    }, 0);
  }
  send(data: string): void {
    const m = JSON.parse(data);
    if (m.type === "subscribe") {
      setTimeout(() => this.onmessage?.({ data: JSON.stringify({ type: "subscribed", id: m.id, jobId: m.jobId, status: "running", lastSequence: 0, epoch: 1 }) }), 0);
    }
  }
  close(): void {}
}

async function hubCost(n: number, perFrame: number): Promise<number> {
  const hub = new Hub({ urls: "ws://bench/ws", WebSocket: FakeSocket as never, storage: new MemoryStorage() });
  const sub = hub.subscribe(JOB, { fromSeq: 0 });
  let got = 0;
  sub.on("event", () => got++);
  await new Promise<void>((r) => sub.on("subscribed", () => r()));
  const frames: string[] = [];
  for (let s = 1; s <= n; s += perFrame) {
    const ls = [];
    for (let k = s; k < s + perFrame && k <= n; k++) ls.push(line(k));
    frames.push(ls.join("\n"));
  }
  const ws = FakeSocket.last;
  const t0 = performance.now();
  for (const f of frames) ws.onmessage!({ data: f });
  const t = performance.now() - t0;
  if (got !== n) throw new Error(`delivered ${got} of ${n}`);
  await hub.close();
  return (t * 1000) / n;
}

function parseCost(n: number): number {
  const lines = Array.from({ length: n }, (_, i) => line(i + 1));
  let sum = 0;
  const t0 = performance.now();
  for (const l of lines) sum += JSON.parse(l).seq;
  const t = performance.now() - t0;
  if (sum <= 0) throw new Error("no work");
  return (t * 1000) / n;
}

function socketIOCost(n: number): number {
  // what a Socket.IO server sends for socket.emit("chunk", {...}): engine.io "4" + socket.io "2[...]"
  const packets = Array.from({ length: n }, (_, i) => `42["chunk",${JSON.stringify({ jobId: JOB, seq: i + 1, event: "model:chunk:v1", data: { chunk: " token", index: i + 1 }, ts: 1733200000000 })}]`);
  const dec = new Decoder();
  let got = 0;
  dec.on("decoded", () => got++);
  const t0 = performance.now();
  for (const p of packets) {
    const pkt = decodePacket(p);
    dec.add(pkt.data as string);
  }
  const t = performance.now() - t0;
  if (got !== n) throw new Error(`socket.io decoded ${got} of ${n}`);
  return (t * 1000) / n;
}

(window as unknown as { runBench: unknown }).runBench = async (n: number) => {
  // five rounds; the first warms the JIT up; the median of the other four
  const runs: Record<string, number[]> = { hub1: [], hub10: [], parse: [], socketio: [] };
  for (let round = 0; round < 5; round++) {
    const r = { hub1: await hubCost(n, 1), hub10: await hubCost(n, 10), parse: parseCost(n), socketio: socketIOCost(n) };
    if (round === 0) continue;
    for (const k of Object.keys(r) as Array<keyof typeof r>) runs[k]!.push(r[k]);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, median(xs)]));
};
