// The client against scripted servers: what a node may send that a client must
// survive (bad frames, unknown types and events), the reconnect rules, the backoff.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketServer } from "ws";
import WebSocket from "ws";
import { Hub, Worker, Backoff, parseFrame, MemoryStorage } from "../dist/index.js";
import { nextIndex } from "../dist/connection.js";
import { until } from "./harness.mjs";

/** A scripted /ws endpoint: onConn(socket, n) runs for the n-th connection. */
async function fakeNode(onConn) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  let n = 0;
  const conns = [];
  wss.on("connection", (sock, req) => {
    const c = { sock, url: req.url, got: [], at: Date.now() };
    conns.push(c);
    sock.on("message", (b) => { for (const l of b.toString().split("\n")) c.got.push(JSON.parse(l)); });
    onConn(sock, n++, c);
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}/ws`,
    conns,
    close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }),
  };
}

const connected = (node = "fake") => JSON.stringify({ type: "connected", sessionId: "s1", nodeId: node, userId: "u" });

test("Backoff: full jitter between the floor and a doubling cap", () => {
  const b = new Backoff({ floorMs: 100, capMs: 1000 });
  assert.equal(b.delay(0, () => 1), 100);
  assert.equal(b.delay(1, () => 1), 200);
  assert.equal(b.delay(3, () => 1), 800);
  assert.equal(b.delay(9, () => 1), 1000);
  assert.equal(b.delay(9, () => 0), 100);
  for (let i = 0; i < 1000; i++) {
    const d = b.delay(i % 12);
    assert.ok(d >= 100 && d <= 1000, `delay ${d}`);
  }
});

test("parseFrame skips what is not an object with a type and keeps the rest", () => {
  const bad = [];
  const got = parseFrame('{"type":"a"}\n\nnot json\n[1]\n{"no":"type"}\n{"type":5}\n  {"type":"b","x":1}  ', (l, why) => bad.push(why));
  assert.deepEqual(got.map((o) => o.type), ["a", "b"]);
  assert.equal(bad.length, 4);
  assert.deepEqual(parseFrame(new Uint8Array([1]), () => {}), []);
});

test("a hub survives garbage, unknown frame types and unknown events, and hands out every valid event once", async () => {
  const node = await fakeNode((sock) => {
    sock.send(connected());
    sock.on("message", (b) => {
      const m = JSON.parse(b.toString());
      if (m.type !== "subscribe") return;
      sock.send([
        JSON.stringify({ type: "subscribed", id: m.id, jobId: m.jobId, status: "running", lastSequence: 3, epoch: 1 }),
        "this is not json",
        JSON.stringify({ type: "something-new", payload: [1, 2] }),
        JSON.stringify({ type: "event", jobId: m.jobId, seq: 1, event: "job:created:v1", data: { userId: "u", type: "t" }, ts: 1 }),
        JSON.stringify({ type: "event", jobId: m.jobId, seq: 1, event: "job:created:v1", data: {}, ts: 1 }), // a duplicate
        JSON.stringify({ type: "event", jobId: m.jobId, seq: "x", event: "bad" }),
        JSON.stringify({ type: "event", jobId: m.jobId, seq: 2, event: "search:result:v7", data: { hits: [1] }, ts: 2 }),
        JSON.stringify({ type: "event", jobId: m.jobId, seq: 3, event: "model:chunk:v1", data: null, ts: 3 }),
        JSON.stringify({ type: "event", jobId: "other", seq: 9, event: "model:chunk:v1", data: { chunk: "x" } }),
        JSON.stringify({ type: "event", jobId: m.jobId, seq: 4, event: "job:completed:v1", data: { result: 1 }, ts: 4 }),
      ].join("\n"));
    });
  });
  const hub = new Hub({ urls: node.url, WebSocket, storage: new MemoryStorage() });
  try {
    const seen = [];
    for await (const ev of hub.subscribe("job-1")) seen.push([ev.seq, ev.event]);
    assert.deepEqual(seen, [[1, "job:created:v1"], [2, "search:result:v7"], [3, "model:chunk:v1"], [4, "job:completed:v1"]]);
    assert.equal(hub.stats.badFrames, 2);
    assert.equal(hub.stats.duplicatesDropped, 1);
  } finally {
    await hub.close();
    await node.close();
  }
});

test("a gap on the wire is never handed out: the hub asks again from its last seq", async () => {
  const node = await fakeNode((sock, _n, c) => {
    sock.send(connected());
    sock.on("message", (b) => {
      const m = JSON.parse(b.toString());
      if (m.type !== "subscribe") return;
      const ev = (seq) => JSON.stringify({ type: "event", jobId: m.jobId, seq, event: "model:chunk:v1", data: { chunk: String(seq) } });
      const sub = JSON.stringify({ type: "subscribed", id: m.id, jobId: m.jobId, status: "running", lastSequence: 3, epoch: 1 });
      if (c.got.filter((x) => x.type === "subscribe").length === 1) sock.send([sub, ev(1), ev(3)].join("\n")); // skips 2
      else sock.send([sub, ...[2, 3].filter((s) => s > m.fromSeq).map(ev), JSON.stringify({ type: "event", jobId: m.jobId, seq: 4, event: "job:failed:v1", data: {} })].join("\n"));
    });
  });
  const hub = new Hub({ urls: node.url, WebSocket, storage: new MemoryStorage() });
  try {
    const seqs = [];
    for await (const ev of hub.subscribe("job-gap")) seqs.push(ev.seq);
    assert.deepEqual(seqs, [1, 2, 3, 4]);
    assert.equal(hub.stats.gaps, 1);
    assert.equal(node.conns[0].got.filter((x) => x.type === "subscribe")[1].fromSeq, 1);
  } finally {
    await hub.close();
    await node.close();
  }
});

test("reconnect {afterMs} is honoured and another endpoint is used; 1013 backs off", async () => {
  const a = await fakeNode((sock, n) => {
    sock.send(connected("a"));
    if (n > 0) return;
    setTimeout(() => {
      sock.send(JSON.stringify({ type: "reconnect", afterMs: 400, reason: "node draining" }));
      sock.close(1001, "draining");
    }, 50);
  });
  const b = await fakeNode((sock) => sock.close(1013, "try again later"));
  const hub = new Hub({ urls: [a.url, b.url], WebSocket, storage: new MemoryStorage(), backoff: { floorMs: 300, capMs: 2000 } });
  const states = [];
  hub.on("status", (s) => states.push(s));
  try {
    await until(() => a.conns.length === 2 && hub.nodeId === "a", 10000, "the hub back on node a");
    const drainedAt = states.find((s) => s.state === "reconnecting").retryInMs;
    assert.equal(drainedAt, 400);
    assert.ok(b.conns[0].at - a.conns[0].at >= 400, "waited afterMs before the other node");
    assert.ok(a.conns[1].at - b.conns[0].at >= 300, "backed off after 1013");
  } finally {
    await hub.close();
    await Promise.all([a.close(), b.close()]);
  }
});

test("after an endpoint, another one at random: the clients of a node that went away spread over the rest", () => {
  assert.equal(nextIndex(0, 1), 0);
  assert.equal(nextIndex(1, 2), 0);
  const count = [0, 0, 0, 0];
  for (let k = 0; k < 4000; k++) {
    const j = nextIndex(2, 4);
    assert.ok(j !== 2 && j >= 0 && j < 4, `next of 2 of 4 is ${j}`);
    count[j]++;
  }
  for (const j of [0, 1, 3]) assert.ok(count[j] > 1000 && count[j] < 1700, `the others chosen ${count} times; want each about a third`);
});

test("a node that is down is not hammered: waits grow to the cap, and the state goes offline", async () => {
  const dead = await fakeNode(() => {});
  const url = dead.url;
  await dead.close(); // nothing listens there now
  const hub = new Hub({ urls: url, WebSocket, storage: new MemoryStorage(), backoff: { floorMs: 20, capMs: 200 } });
  const waits = [];
  hub.on("status", (s) => { if (s.retryInMs !== undefined) waits.push([s.state, s.retryInMs, s.attempt]); });
  try {
    await until(() => waits.length >= 8, 10000, "eight failed attempts");
    assert.ok(waits.every(([st]) => st === "offline"));
    assert.ok(waits.every(([, ms]) => ms >= 20 && ms <= 200));
    assert.deepEqual(waits.slice(0, 4).map(([, , n]) => n), [1, 2, 3, 4]);
  } finally {
    await hub.close();
  }
});

test("a silent node is pinged and then dropped", async () => {
  const mute = await fakeNode((sock) => { sock.send(connected("mute")); sock.on("message", () => {}); });
  const hub = new Hub({ urls: mute.url, WebSocket, storage: new MemoryStorage(), pingIntervalMs: 100, deadAfterMs: 200 });
  try {
    await until(() => mute.conns.length >= 2, 10000, "a second connection after the first went silent");
    assert.ok(mute.conns[0].got.some((m) => m.type === "ping"));
  } finally {
    await hub.close();
    await mute.close();
  }
});

test("a worker answers offset_gap by resending from the node's nextOffset and ignores late refusals of older epochs", async () => {
  const node = await fakeNode((sock, _n, c) => {
    sock.on("message", () => {
      const emits = c.got.filter((m) => m.type === "emit");
      const last = emits[emits.length - 1];
      if (emits.length === 3) { // the node had offset 0 from an earlier life: it wants 1 next
        sock.send(JSON.stringify({ type: "error", jobId: last.jobId, code: "offset_gap", message: "gap", nextOffset: 1, epoch: 2 }));
        sock.send(JSON.stringify({ type: "error", jobId: last.jobId, code: "offset_gap", message: "late", nextOffset: 0, epoch: 1 }));
        return;
      }
      if (emits.length > 3 && last.offset === 2) sock.send(JSON.stringify({ type: "ack", jobId: last.jobId, nextOffset: 3, lastSequence: 4, epoch: 2 }));
    });
  });
  const w = new Worker({ urls: node.url.replace("/ws", "/ws/worker"), WebSocket });
  try {
    const acks = await Promise.all([0, 1, 2].map((i) => w.emit("job-w", "model:chunk:v1", { chunk: String(i) })));
    assert.deepEqual(acks.map((a) => a.offset), [0, 1, 2]);
    const resent = node.conns[0].got.filter((m) => m.type === "emit").slice(3).map((m) => m.offset);
    assert.deepEqual(resent, [1, 2]);
    await assert.rejects(w.emit("job-w", "model:chunk:v1", {}), /data.chunk/);
    await assert.rejects(w.emit("job-w", "Bad Name", {}), /not an event name/);
  } finally {
    await w.close();
    await node.close();
  }
});
