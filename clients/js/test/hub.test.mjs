// The client against real nodes: streams, resumes, the durable outbox, the worker.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { Hub, Worker, MemoryStorage, HubError, isEvent } from "../dist/index.js";
import { FileStorage } from "../dist/node.js";
import { Node, bounded, runningNode, startCluster, until } from "./harness.mjs";

const cleanup = [];
after(async () => { for (const f of cleanup.reverse()) await f(); });

/** Follows a subscription to its end: the text of its chunks and every seq, in order. */
async function follow(sub) {
  const seqs = [];
  let text = "";
  for await (const ev of sub) {
    seqs.push(ev.seq);
    if (isEvent(ev, "model:chunk:v1")) text += ev.data.chunk;
  }
  return { seqs, text };
}

/** Asserts seqs run from..to with no gap or repeat. */
function contiguous(seqs, from, to) {
  assert.deepEqual(seqs, Array.from({ length: to - from + 1 }, (_, i) => from + i));
}

/** Emits n chunks then completes, each awaited (durable) before the next, with an optional hook after chunk k. */
async function stream(worker, jobId, n, at = {}) {
  let text = "";
  for (let i = 0; i < n; i++) {
    const chunk = `t${i} `;
    text += chunk;
    await worker.emit(jobId, "model:chunk:v1", { chunk, index: i });
    if (at[i]) await at[i]();
  }
  await worker.emit(jobId, "job:completed:v1", { tokens: n });
  return text;
}

test("one node: a job created through the hub streams to its subscription; the text equals the journal", async () => {
  const node = await runningNode(cleanup);
  const hub = new Hub({ urls: node.ws + "?user=alice", WebSocket, storage: new MemoryStorage() });
  const worker = new Worker({ urls: node.workerWs, WebSocket });
  try {
    const job = await hub.createJob({ type: "llm", input: { prompt: "hi" } });
    assert.match(job.jobId, /^job-[0-9a-f]{24}$/);
    assert.equal(job.existing, false);
    const again = await hub.createJob({ jobId: job.jobId, type: "llm" });
    assert.equal(again.existing, true, "a create sent twice finds the job");
    const got = follow(hub.subscribe(job.jobId));
    const sent = await stream(worker, job.jobId, 40);
    const { seqs, text } = await got;
    contiguous(seqs, 1, 42);
    assert.equal(text, sent);
    const st = await node.state(job.jobId);
    assert.equal(st.output, text);
    assert.equal(st.userId, "alice");
    assert.equal((await node.events(job.jobId)).filter((e) => e.event === "job:created:v1").length, 1);
  } finally {
    await hub.close();
    await worker.close();
  }
});

test("kill -9 and restart of the only node mid-stream: the subscription resumes with no gap or repeat", async () => {
  const node = await runningNode(cleanup);
  const hub = new Hub({ urls: node.ws, WebSocket, storage: new MemoryStorage(), backoff: { floorMs: 50, capMs: 500 } });
  const worker = new Worker({ urls: node.workerWs, WebSocket, backoff: { floorMs: 50, capMs: 500 } });
  const states = [];
  hub.on("status", (s) => states.push(s.state));
  try {
    const { jobId } = await hub.createJob({ type: "llm" });
    const sub = hub.subscribe(jobId);
    const got = follow(sub);
    const sent = await stream(worker, jobId, 30, {
      15: async () => {
        await until(() => sub.lastSeq >= 17, 10000, "the subscription at seq 17");
        await node.restart();
      },
    });
    const { seqs, text } = await got;
    contiguous(seqs, 1, 32);
    assert.equal(text, sent);
    assert.equal((await node.state(jobId)).output, text);
    assert.ok(states.includes("reconnecting"), `states ${states}`);
  } finally {
    await hub.close();
    await worker.close();
  }
});

test("offline: a create and a cancel wait in the outbox, go out once the node is up, and take effect once", async () => {
  const node = await Node.create();
  cleanup.push(() => node.stop());
  await node.start();
  const maker = new Hub({ urls: node.ws, WebSocket, storage: new MemoryStorage() });
  const { jobId: victim } = await maker.createJob({ type: "llm" });
  await maker.close();
  await node.kill();
  const hub = new Hub({ urls: node.ws, WebSocket, storage: new MemoryStorage(), backoff: { floorMs: 50, capMs: 300 } });
  try {
    const outboxes = [];
    hub.on("outbox", (o) => outboxes.push(o.length));
    const created = hub.createJob({ type: "llm", input: { prompt: "offline" } });
    const cancelled = hub.cancel(victim, "user left");
    await until(() => hub.outbox.length === 2, 5000, "two commands in the outbox");
    assert.deepEqual(hub.outbox.map((e) => e.kind), ["create", "cancel"]);
    await node.start();
    const job = await created;
    assert.deepEqual(await cancelled, { jobId: victim });
    assert.equal(hub.outbox.length, 0);
    assert.equal((await node.state(job.jobId)).status, "created");
    const evs = await node.events(victim);
    assert.equal(evs.filter((e) => e.event === "job:cancelled:v1").length, 1);
    assert.equal((await node.state(victim)).status, "cancelled");
    await assert.rejects(hub.cancel(job.jobId).then(() => hub.createJob({ jobId: job.jobId, type: "other" })), (e) => e instanceof HubError && e.code === "job_exists");
  } finally {
    await hub.close();
  }
});

test("the outbox survives a process restart (FileStorage): a new hub sends what the old one queued, once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "actorhub-outbox-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "hub.json");
  const node = await Node.create();
  cleanup.push(() => node.stop());
  const first = new Hub({ urls: node.ws, WebSocket, storage: new FileStorage(file) });
  const pending = first.createJob({ jobId: "job-restart-1", type: "llm" });
  const cancel = first.cancel("job-restart-1", "changed my mind");
  await until(() => first.outbox.length === 2, 5000, "queued");
  const refused = Promise.all([assert.rejects(pending, (e) => e.code === "closed"), assert.rejects(cancel, (e) => e.code === "closed")]);
  await first.close();
  await refused;
  await node.start();
  const second = new Hub({ urls: node.ws, WebSocket, storage: new FileStorage(file) });
  try {
    const done = [];
    second.on("done", (e) => done.push(e.kind));
    await until(() => done.length === 2, 20000, "both commands done");
    assert.deepEqual(done, ["create", "cancel"]);
    assert.equal((await node.state("job-restart-1")).status, "cancelled");
    const names = (await node.events("job-restart-1")).map((e) => e.event);
    assert.deepEqual(names, ["job:created:v1", "job:cancelled:v1"]);
    // the hub removes a sent command from storage without waiting for the write (a crash in between sends it
    // again, and both commands are idempotent): on a busy machine the file may still hold it when "done" fires
    await until(async () => (await new FileStorage(file).keys("actorhub/outbox/")).length === 0, 20000, "the outbox file emptied");
  } finally {
    await second.close();
  }
});

test("a subscription resumes after its last seq across a process restart (FileStorage) and subscribes a queued create once it is durable", async () => {
  const dir = mkdtempSync(join(tmpdir(), "actorhub-seq-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "hub.json");
  const node = await runningNode(cleanup);
  const worker = new Worker({ urls: node.workerWs, WebSocket });
  let hub = new Hub({ urls: node.ws, WebSocket, storage: new FileStorage(file) });
  try {
    const { jobId } = await hub.createJob({ type: "llm" });
    const sub = hub.subscribe(jobId);
    const first = [];
    sub.on("event", (ev) => first.push(ev.seq));
    for (let i = 0; i < 5; i++) await worker.emit(jobId, "model:chunk:v1", { chunk: "a" });
    await until(() => sub.lastSeq === 6, 10000, "seq 6");
    await hub.close();
    for (let i = 0; i < 5; i++) await worker.emit(jobId, "model:chunk:v1", { chunk: "b" });
    await worker.emit(jobId, "job:completed:v1", {});
    hub = new Hub({ urls: node.ws, WebSocket, storage: new FileStorage(file) });
    const { seqs } = await follow(hub.subscribe(jobId));
    contiguous(first, 1, 6);
    contiguous(seqs, 7, 12);
  } finally {
    await hub.close();
    await worker.close();
  }
});

test("a worker learns of a cancellation at once, and its later emits are refused", async () => {
  const node = await runningNode(cleanup);
  const hub = new Hub({ urls: node.ws, WebSocket, storage: new MemoryStorage() });
  const worker = new Worker({ urls: node.workerWs, WebSocket });
  try {
    const { jobId } = await hub.createJob({ type: "llm" });
    await worker.emit(jobId, "model:chunk:v1", { chunk: "x" });
    const told = new Promise((res) => worker.on("cancel", (id, reason) => res([id, reason])));
    await hub.cancel(jobId, "stop");
    assert.deepEqual(await told, [jobId, "stop"]);
    await assert.rejects(worker.emit(jobId, "model:chunk:v1", { chunk: "y" }), (e) => e.code === "job_finished");
  } finally {
    await hub.close();
    await worker.close();
  }
});

test("three nodes on Redis: kill -9 the node the hub is on mid-stream; the hub goes on through another and misses nothing; a worker over two nodes too", async () => {
  const c = await startCluster(3);
  cleanup.push(() => c.stop());
  const [a, b, d] = c.nodes;
  const hub = new Hub({ urls: [a.ws, b.ws, d.ws], WebSocket, storage: new MemoryStorage(), backoff: { floorMs: 50, capMs: 500 } });
  const worker = new Worker({ urls: [b.workerWs, d.workerWs], WebSocket, backoff: { floorMs: 50, capMs: 500 } });
  try {
    await until(() => hub.nodeId === "js1", 10000, "the hub on js1");
    const { jobId } = await hub.createJob({ type: "llm" }); // it lives on js1
    const sub = hub.subscribe(jobId);
    const got = follow(sub);
    const [sent, { seqs, text }] = await bounded(Promise.all([stream(worker, jobId, 40, {
      10: async () => {
        await until(() => sub.lastSeq >= 12, 10000, "seq 12");
        await a.kill(); // the hub's node, and the job's
      },
      25: async () => {
        await until(() => sub.lastSeq >= 27, 20000, "seq 27");
        await b.kill(); // the worker's first node
      },
    }), got]), 120000, () => `the stream across two kills (the hub at seq ${sub.lastSeq}, on ${hub.nodeId})`, c.nodes);
    contiguous(seqs, 1, 42);
    assert.equal(text, sent);
    assert.equal((await d.state(jobId)).output, text);
    assert.notEqual(hub.nodeId, "js1");
  } finally {
    await hub.close();
    await worker.close();
  }
});

test("SIGTERM drain: the hub follows the node's reconnect hint to another node and the stream goes on", async () => {
  const c = await startCluster(2);
  cleanup.push(() => c.stop());
  const [a, b] = c.nodes;
  const hub = new Hub({ urls: [a.ws, b.ws], WebSocket, storage: new MemoryStorage() });
  const worker = new Worker({ urls: [b.workerWs], WebSocket });
  const statuses = [];
  hub.on("status", (s) => statuses.push(s));
  try {
    await until(() => hub.nodeId === "js1", 10000, "the hub on js1");
    const { jobId } = await hub.createJob({ type: "llm" });
    const sub = hub.subscribe(jobId);
    const got = follow(sub);
    const sent = await stream(worker, jobId, 20, {
      8: async () => {
        await until(() => sub.lastSeq >= 10, 10000, "seq 10");
        await a.kill("SIGTERM");
      },
    });
    const { seqs, text } = await got;
    contiguous(seqs, 1, 22);
    assert.equal(text, sent);
    assert.ok(statuses.some((s) => s.state === "reconnecting" && /reconnect elsewhere/.test(s.reason ?? "")), "followed the hint");
    assert.equal(hub.nodeId, "js2");
  } finally {
    await hub.close();
    await worker.close();
  }
});

/** An HS256 JWT for sub, valid for ttl seconds. */
function jwt(secret, sub, ttl = 60) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + ttl })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

test("--auth jwt: the token function is called again before every connection, and its user owns what the hub creates", async () => {
  const secret = "test-secret-of-32-bytes-or-more!!";
  const node = await runningNode(cleanup, { extra: ["--auth", "jwt", "--jwt-secret", secret] });
  let calls = 0;
  const hub = new Hub({ urls: node.ws, WebSocket, storage: new MemoryStorage(), backoff: { floorMs: 50, capMs: 300 },
    token: async () => { calls++; return jwt(secret, "carol"); } });
  const refused = new Hub({ urls: node.ws, WebSocket, storage: new MemoryStorage(), backoff: { floorMs: 50, capMs: 300 }, token: "not-a-jwt" });
  const states = [];
  refused.on("status", (s) => states.push(s.state));
  try {
    const { jobId } = await hub.createJob({ type: "llm" });
    assert.equal((await node.state(jobId, jwt(secret, "carol"))).userId, "carol");
    await assert.rejects(node.state(jobId, jwt(secret, "dave")), /403/); // another user may not read it
    assert.equal(hub.session.userId, "carol");
    assert.equal(calls, 1);
    await node.restart();
    // every attempt calls it: on a busy machine the hub may try while the node is still down, so at least twice
    await until(() => hub.live && calls >= 2, 20000, "a second connection with a fresh token");
    await until(() => states.filter((s) => s === "offline" || s === "reconnecting").length >= 2, 10000, "the bad token refused, again");
    assert.equal(refused.live, false);
  } finally {
    await hub.close();
    await refused.close();
  }
});

test("--auth jwt: a connection whose token runs out is refreshed in place by the token function, not dropped", async () => {
  const secret = "test-secret-of-32-bytes-or-more!!";
  const node = await runningNode(cleanup, { extra: ["--auth", "jwt", "--jwt-secret", secret] });
  let calls = 0;
  const hub = new Hub({ urls: node.ws, WebSocket, storage: new MemoryStorage(), token: () => { calls++; return jwt(secret, "erin", 4); } });
  const states = [];
  hub.on("status", (s) => states.push(s.state));
  try {
    const { jobId } = await hub.createJob({ type: "llm" });
    const session = hub.session.sessionId;
    await until(() => calls >= 3, 20000, "two refreshes of a 4 s token");
    await hub.cancel(jobId); // still the same connection, and it still works
    assert.equal(hub.session.sessionId, session);
    assert.deepEqual(states.filter((s) => s === "reconnecting" || s === "offline"), []);
  } finally {
    await hub.close();
  }
});

test("a worker packs multi-byte text into frames the node takes, and refuses an event over 64 KiB at once", async () => {
  const node = await runningNode(cleanup);
  const hub = new Hub({ urls: node.ws, WebSocket, storage: new MemoryStorage() });
  const worker = new Worker({ urls: node.workerWs, WebSocket });
  try {
    const { jobId } = await hub.createJob({ type: "llm" });
    const chunk = "日本語".repeat(400); // 3,600 bytes of UTF-8 in 1,200 UTF-16 units
    await Promise.all(Array.from({ length: 100 }, () => worker.emit(jobId, "model:chunk:v1", { chunk })));
    assert.equal((await node.state(jobId)).output, chunk.repeat(100));
    await assert.rejects(worker.emit(jobId, "model:chunk:v1", { chunk: "é".repeat(40000) }), /64 KiB/);
    await assert.rejects(hub.createJob({ type: "llm", input: { big: "x".repeat(70000) } }), /64 KiB/);
  } finally {
    await hub.close();
    await worker.close();
  }
});
