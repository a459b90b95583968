// Real nodes for the client's tests: `actorhub serve` processes of the repository's
// binary (bin/actorhub, built when missing, or $ACTORHUB_BIN) on free loopback
// ports, and a private redis-server for clusters. Every wait is for a condition,
// with a deadline.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import * as dgram from "node:dgram";
import * as net from "node:net";
const { createServer } = net;
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../../..");

let built;
/** The path of the actorhub binary, built once when missing. */
export function binary() {
  if (process.env.ACTORHUB_BIN) return process.env.ACTORHUB_BIN;
  const bin = join(repo, "bin/actorhub");
  if (!built && !existsSync(bin)) execFileSync("go", ["build", "-o", bin, "./cmd/actorhub"], { cwd: repo, stdio: "inherit" });
  built = true;
  return bin;
}

/**
 * A loopback port free for TCP and UDP a moment ago, outside the kernel's
 * ephemeral range (32768–60999), where outgoing connections take their local
 * ports: a port picked with listen(0) and bound again later by a node could
 * meanwhile be some client's (a busy machine's, CI's). As internal/freeport
 * does for the Go tests; a port handed out is not handed out again.
 */
const given = new Set();
export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const port = 15000 + Math.floor(Math.random() * (32700 - 15000));
    if (given.has(port) || !(await bindable(port))) continue;
    given.add(port);
    return port;
  }
  throw new Error("freePort: no free port in 15000–32700 after 200 tries");
}

function bindable(port) {
  return new Promise((res) => {
    const s = createServer();
    s.unref();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => {
      s.close(() => {
        const u = dgram.createSocket("udp4");
        u.unref();
        u.once("error", () => { u.close(); res(false); });
        u.bind(port, "127.0.0.1", () => u.close(() => res(true)));
      });
    });
  });
}

/** Waits until fn() returns a truthy value (polled every 25 ms), or throws after ms. */
export async function until(fn, ms = 20000, what = "condition") {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ": " + last.message : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Waits for p, or throws after ms (what: a text or a function giving one, read
 * then) with the tail of each node's log: a test whose
 * stream stops fails with what the nodes said instead of running into the
 * file's timeout with nothing to show.
 */
export async function bounded(p, ms, what, nodes = []) {
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? what() : what}\n` +
      nodes.map((n) => `--- node ${n.id} (log tail) ---\n${n.log.slice(-4000)}`).join("\n"))), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A private redis-server on a free port (no persistence). */
export async function startRedis() {
  const port = await freePort();
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const r = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGKILL");
        await new Promise((res) => proc.once("exit", res));
      }
    },
  };
  await until(() => new Promise((res) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.on("connect", () => { sock.end(); res(true); });
    sock.on("error", () => res(false));
  }), 10000, "redis-server");
  return r;
}


/** One `actorhub serve` process on fixed ports, so that a restart comes back at the same addresses. */
export class Node {
  constructor({ store, join: joinAddrs = [], demo = false, id, extra = [] } = {}) {
    this.store = store;
    this.joinAddrs = joinAddrs;
    this.demo = demo;
    this.id = id;
    this.extra = extra;
    this.proc = undefined;
    this.log = "";
  }

  static async create(opts = {}) {
    const n = new Node(opts);
    [n.httpPort, n.gossipPort, n.remotePort] = [await freePort(), await freePort(), await freePort()];
    if (!n.store) {
      n.dir = mkdtempSync(join(tmpdir(), "actorhub-js-"));
      n.store = "bolt:" + join(n.dir, "hub.db");
    }
    n.id ??= "n" + n.httpPort;
    return n;
  }

  get http() { return `http://127.0.0.1:${this.httpPort}`; }
  get ws() { return `ws://127.0.0.1:${this.httpPort}/ws`; }
  get workerWs() { return `ws://127.0.0.1:${this.httpPort}/ws/worker`; }
  get gossip() { return `127.0.0.1:${this.gossipPort}`; }

  /** Starts the process and waits for /readyz. */
  async start() {
    const args = ["serve", "--http", `127.0.0.1:${this.httpPort}`, "--gossip", this.gossip, "--remote", `127.0.0.1:${this.remotePort}`,
      "--node-id", this.id, "--store", this.store, "--log-level", "info", ...this.extra];
    if (this.joinAddrs.length) args.push("--join", this.joinAddrs.join(","));
    if (this.demo) args.push("--demo");
    this.proc = spawn(binary(), args, { stdio: ["ignore", "ignore", "pipe"] });
    this.proc.stderr.on("data", (b) => { this.log = (this.log + b.toString()).slice(-20000); });
    const proc = this.proc;
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`node ${this.id} exited with ${proc.exitCode}: ${this.log}`);
      const r = await fetch(this.http + "/readyz");
      return r.status === 200;
    }, 30000, `node ${this.id} ready`);
  }

  /** Sends sig (default SIGKILL) and waits for the process to end. */
  async kill(sig = "SIGKILL") {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const ended = new Promise((res) => p.once("exit", res));
    p.kill(sig);
    await ended;
  }

  async restart() {
    await this.kill();
    await this.start();
  }

  /** Stops the node and removes its data. */
  async stop() {
    await this.kill();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The job's state; with --auth jwt, pass a token that may read it. */
  async state(jobId, token) {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const r = await fetch(`${this.http}/api/job/${encodeURIComponent(jobId)}/state`, { headers });
    if (r.status !== 200) throw new Error(`state of ${jobId}: ${r.status} ${await r.text()}`);
    return r.json();
  }

  async events(jobId) {
    const r = await fetch(`${this.http}/api/job/${encodeURIComponent(jobId)}/events?fromSeq=0&limit=10000`);
    if (r.status !== 200) throw new Error(`events of ${jobId}: ${r.status} ${await r.text()}`);
    return (await r.json()).events;
  }
}

/** A started node (Node.create(opts), then start), stopped by cleanup: the test file's list of functions run after its tests. */
export async function runningNode(cleanup, opts = {}) {
  const node = await Node.create(opts);
  await node.start();
  cleanup.push(() => node.stop());
  return node;
}

/** A cluster of n nodes on a private Redis. */
export async function startCluster(n, opts = {}) {
  const redis = await startRedis();
  const nodes = [];
  const stop = async () => {
    await Promise.all(nodes.map((x) => x.stop()));
    await redis.stop();
  };
  try {
    for (let i = 0; i < n; i++) {
      const node = await Node.create({ ...opts, store: redis.url, id: `js${i + 1}`, join: nodes.map((x) => x.gossip) });
      nodes.push(node); // stopped below if its start fails
      await node.start();
    }
    await until(async () => {
      for (const node of nodes) {
        const c = await (await fetch(node.http + "/api/cluster")).json();
        if (c.members.filter((m) => m.state === "alive").length !== n) return false;
      }
      return true;
    }, 30000, "every node sees every other alive");
  } catch (err) {
    await stop(); // a cluster that did not start leaves no process behind
    throw err;
  }
  return { nodes, redis, stop };
}
