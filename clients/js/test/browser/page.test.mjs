// The demo page in real Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core: no browser download) against real nodes: a prompt streams,
// a reload resumes, offline commands wait in the outbox, a node dies under the
// page, a node drains. In every case the page's text must equal the job's
// journal, with no seq missing or repeated.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import WebSocket from "ws";
import { Hub, Worker, MemoryStorage } from "../../dist/index.js";
import { spawn } from "node:child_process";
import { binary, freePort, runningNode, startCluster, until } from "../harness.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

let browser;
const cleanup = [];
before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set CHROMIUM)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
});
after(async () => {
  for (const f of cleanup.reverse()) await f();
  await browser?.close();
});

/** A fresh page (its own IndexedDB and localStorage) on url. */
async function open(url) {
  const ctx = await browser.newContext();
  cleanup.push(() => ctx.close());
  const page = await ctx.newPage();
  page.on("pageerror", (e) => { throw new Error("page error: " + e.message); });
  await page.goto(url);
  return page;
}

const pageState = (page) => page.evaluate(() => window.actorhub.state());

/** Waits for the page's job to end and checks it against the journal. */
async function checkAgainstJournal(page, node) {
  const st = await until(async () => {
    const s = await pageState(page);
    return ["completed", "failed", "cancelled"].includes(s.status) ? s : null;
  }, 60000, "the page's job to end");
  const journal = await node.state(st.jobId);
  assert.equal(st.status, journal.status);
  assert.equal(st.seq, journal.lastSequence);
  assert.equal(st.gaps, 0, "no seq missing");
  assert.equal(st.repeats, 0, "no seq repeated");
  assert.equal(st.text, journal.output);
  assert.equal(await page.locator("#output").innerText(), journal.output);
  return { st, journal };
}

async function ask(page, prompt) {
  await page.fill("#prompt", prompt);
  await page.click("#send");
  return until(async () => (await pageState(page)).jobId, 10000, "a job id on the page");
}

test("a prompt streams into the page; its text equals the journal", async () => {
  const node = await runningNode(cleanup, { demo: true });
  const page = await open(node.http + "/");
  await until(async () => (await page.locator("#f-conn").innerText()) === "live", 10000, "the page live");
  await ask(page, "what is an actor?");
  const { st } = await checkAgainstJournal(page, node);
  assert.equal(st.status, "completed");
  assert.match(await page.locator("#proof").innerText(), /0 missing, 0 repeated/);
});

test("a reload mid-stream resumes after the last seq shown", async () => {
  const node = await runningNode(cleanup, { demo: true });
  const page = await open(node.http + "/");
  await ask(page, "tell me about journals and snapshots");
  await until(async () => (await pageState(page)).seq >= 8, 20000, "a few tokens");
  await page.reload();
  await until(async () => (await page.locator("#log").innerText()).includes("resumed"), 10000, "the resume in the log");
  const { st } = await checkAgainstJournal(page, node);
  assert.equal(st.status, "completed");
});

test("offline: a prompt and a cancel wait in the outbox; the node comes back; one new job, one cancellation", async () => {
  const node = await runningNode(cleanup, { demo: true });
  const page = await open(node.http + "/");
  const first = await ask(page, "a long answer about failure detectors and gossip protocols, please");
  await until(async () => (await pageState(page)).seq >= 3, 20000, "the first job streaming");
  await node.kill(); // the page's node is gone
  await until(async () => (await page.locator("#f-conn").innerText()) !== "live", 10000, "the page offline");
  await page.click("#cancel"); // cancels the first job: queued
  const second = await ask(page, "and a second question while offline");
  await until(async () => (await page.locator("#outbox li").count()) === 2, 10000, "two commands in the outbox");
  assert.equal(await page.locator("#outbox-count").textContent(), "2 waiting");
  await node.start();
  await until(async () => (await page.locator("#outbox-count").textContent()) === "empty", 30000, "the outbox sent");
  const cancelled = await node.events(first);
  assert.equal(cancelled.filter((e) => e.event === "job:cancelled:v1").length, 1, "cancelled once");
  const created = await node.events(second);
  assert.equal(created.filter((e) => e.event === "job:created:v1").length, 1, "created once");
  await checkAgainstJournal(page, node); // the second job streams to its end
});

/** Streams n chunks into jobId through worker, pacing them so the page sees the stream live; hooks run after chunk k. */
async function stream(worker, jobId, n, at = {}) {
  for (let i = 0; i < n; i++) {
    await worker.emit(jobId, "model:chunk:v1", { chunk: `w${i} ` });
    if (at[i]) await at[i]();
    await new Promise((r) => setTimeout(r, 10));
  }
  await worker.emit(jobId, "job:completed:v1", { tokens: n });
}

async function watch(page, jobId) {
  await page.fill("#jobid", jobId);
  await page.click("#watch button[type=submit]");
}

const ORIGINS = ["--allowed-origins", "127.0.0.1:*"]; // the page of one node connects to the others

test("three nodes on Redis: kill -9 the node the page is on mid-stream; the page goes on through another", async () => {
  const c = await startCluster(3, { extra: ORIGINS });
  cleanup.push(() => c.stop());
  const [a, b, d] = c.nodes;
  const worker = new Worker({ urls: [b.workerWs, d.workerWs], WebSocket });
  cleanup.push(() => worker.close());
  const page = await open(a.http + "/");
  await until(async () => (await page.locator("#nodes li").count()) === 3, 10000, "three nodes listed");
  await until(async () => (await page.locator("#f-node").innerText()) === a.id, 10000, "the page on its node");
  const hub = new Hub({ urls: b.ws + "?user=demo", WebSocket, storage: new MemoryStorage() });
  cleanup.push(() => hub.close());
  const { jobId } = await hub.createJob({ type: "llm" }); // it lives on b
  await watch(page, jobId);
  await stream(worker, jobId, 60, {
    15: async () => {
      await until(async () => (await pageState(page)).seq >= 10, 20000, "the page at seq 10");
      await a.kill();
    },
  });
  const { st } = await checkAgainstJournal(page, b);
  assert.equal(st.status, "completed");
  assert.notEqual(await page.locator("#f-node").innerText(), a.id);
  assert.ok(st.reconnects >= 1);
});

test("a SIGTERM drain: the page follows the node's reconnect hint to another node", async () => {
  const c = await startCluster(2, { extra: ORIGINS });
  cleanup.push(() => c.stop());
  const [a, b] = c.nodes;
  const worker = new Worker({ urls: [b.workerWs], WebSocket });
  cleanup.push(() => worker.close());
  const page = await open(a.http + "/");
  await until(async () => (await page.locator("#f-node").innerText()) === a.id, 10000, "the page on its node");
  const hub = new Hub({ urls: b.ws + "?user=demo", WebSocket, storage: new MemoryStorage() });
  cleanup.push(() => hub.close());
  const { jobId } = await hub.createJob({ type: "llm" });
  await watch(page, jobId);
  await stream(worker, jobId, 40, {
    10: async () => {
      await until(async () => (await pageState(page)).seq >= 8, 20000, "the page at seq 8");
      await a.kill("SIGTERM");
    },
  });
  await checkAgainstJournal(page, b);
  assert.match(await page.locator("#log").innerText(), /reconnect elsewhere/);
  assert.equal(await page.locator("#f-node").innerText(), b.id);
});

test("the demo's shape: the model in its own process, the page's node (and the job's) killed mid-answer; the answer goes on", async () => {
  const workerPort = await freePort();
  const c = await startCluster(3, { extra: [...ORIGINS, "--demo-worker", `http://127.0.0.1:${workerPort}`] });
  cleanup.push(() => c.stop());
  const [a, b, d] = c.nodes;
  const model = spawn(binary(), ["demo-worker", "--http", `127.0.0.1:${workerPort}`, "--nodes", [a.http, b.http, d.http].join(",")], { stdio: "ignore" });
  cleanup.push(async () => { if (model.exitCode === null) { model.kill("SIGKILL"); await new Promise((r) => model.once("exit", r)); } });
  await until(async () => (await fetch(`http://127.0.0.1:${workerPort}/healthz`)).ok, 10000, "the demo worker");
  const page = await open(a.http + "/");
  await until(async () => (await page.locator("#f-node").innerText()) === a.id, 10000, "the page on its node");
  await ask(page, "keep streaming while a node dies");
  await until(async () => (await page.locator("#f-owner").innerText()) === a.id, 10000, "the job on the page's node");
  await until(async () => (await pageState(page)).seq >= 10, 20000, "tokens flowing");
  await a.kill();
  const { st } = await checkAgainstJournal(page, b);
  assert.equal(st.status, "completed");
  assert.ok(st.reconnects >= 1);
  assert.notEqual(await page.locator("#f-node").innerText(), a.id);
});

test("the analytics view charts what the hub's events add up to", async () => {
  const node = await runningNode(cleanup, { demo: true });
  const page = await open(node.http + "/");
  await ask(page, "something to count");
  await until(async () => ["completed", "failed", "cancelled"].includes((await pageState(page)).status), 60000, "the job to end");
  const view = await open(node.http + "/analytics");
  await until(async () => (await view.locator("#k-dau").textContent()) === "1", 20000, "one daily active user");
  await until(async () => (await view.locator("canvas").count()) >= 3, 10000, "three charts");
  await until(async () => /1 created · 1 completed/.test(await view.locator("#k-jobs").textContent()), 10000, "the job counted");
  assert.match(await view.locator("#types").innerText(), /demo:llm/);
  // the node's connection count arrives with its next analytics flush: later on a busy machine
  await until(async () => /1 client connections|2 client connections/.test(await view.locator("#nodes").innerText()), 20000,
    "the page's connection counted on its node");
  assert.equal(await view.locator("#error").textContent(), "");
});
