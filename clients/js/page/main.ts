// The demo page at / of every node, built on @actorhub/client: a prompt streams
// an answer; any job can be watched by id; a reload resumes after the last seq
// shown; commands made while offline wait in the outbox (IndexedDB) and go out
// when a node is reachable again; when the node dies the page goes on through
// another member. Bundled by internal/webbundle into demo/app.js.
import { Hub, isEvent, type JobEvent, type OutboxEntry, type Status, type Subscription } from "../src/index.js";

interface PageState {
  jobId: string | null;
  seq: number;
  text: string;
  status: string;
  progress: number;
  /** Events that came with a seq other than the next one (a hub bug if ever non-zero). */
  gaps: number;
  repeats: number;
  /** Node failures and reconnects this job lived through, as this page saw them. */
  reconnects: number;
  tokens: number;
}

const KEY = "actorhub-demo";
const fresh = (jobId: string | null): PageState => ({ jobId, seq: 0, text: "", status: "", progress: 0, gaps: 0, repeats: 0, reconnects: 0, tokens: 0 });
let st: PageState = { ...fresh(null), ...(JSON.parse(localStorage.getItem(KEY) ?? "null") ?? {}) };
const save = () => localStorage.setItem(KEY, JSON.stringify(st));
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function log(msg: string): void {
  const line = document.createElement("div");
  line.textContent = new Date().toISOString().slice(11, 23) + "  " + msg;
  const el = $("log");
  el.prepend(line);
  while (el.childNodes.length > 300) el.lastChild!.remove();
}

const terminal = (s: string) => s === "completed" || s === "failed" || s === "cancelled";

function render(): void {
  $("f-job").textContent = st.jobId ?? "—";
  $("f-seq").textContent = String(st.seq);
  $("f-status").textContent = st.status || "—";
  $("f-status").className = "status-" + st.status;
  $<HTMLProgressElement>("progress").value = st.progress;
  const out = $("output");
  out.textContent = st.text;
  if (!st.text) {
    const hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = !st.jobId ? "The answer streams here." : queued.has(st.jobId) ? "Waiting in the outbox: it goes out when a node is reachable." : "";
    out.appendChild(hint);
  }
  if (st.jobId && !terminal(st.status)) {
    const c = document.createElement("span");
    c.className = "cursor";
    out.appendChild(c);
  }
  $<HTMLButtonElement>("cancel").disabled = !st.jobId || terminal(st.status);
  $("proof").textContent = terminal(st.status)
    ? `${st.status}: ${st.tokens ?? 0} tokens in ${st.seq} events, ${st.gaps} missing, ${st.repeats} repeated, survived ${st.reconnects} reconnect${st.reconnects === 1 ? "" : "s"}`
    : "";
}

// Every member's /ws, this page's node first: the hub fails over to the others.
async function endpoints(): Promise<string[]> {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const self = `${proto}//${location.host}/ws?user=demo`;
  try {
    const c = await (await fetch("/api/cluster")).json();
    const others = (c.members as Array<{ id: string; http: string; state: string }>)
      .filter((m) => m.http && m.http !== location.host && m.state !== "left")
      .map((m) => `${proto}//${m.http}/ws?user=demo`);
    return [self, ...others];
  } catch {
    return [self];
  }
}

function renderStatus(s: Status, hub: Hub): void {
  const label = s.state === "live" ? "live" : s.state + (s.attempt ? ` (attempt ${s.attempt})` : "") + (s.retryInMs !== undefined ? ` · retry in ${s.retryInMs} ms` : "");
  $("f-conn").textContent = label;
  $("f-conn").className = "conn-" + s.state;
  $("f-node").textContent = s.state === "live" ? (s.nodeId ?? "—") : "—";
  const list = $("nodes");
  list.textContent = "";
  for (const url of hub.endpoints) {
    const li = document.createElement("li");
    const host = new URL(url).host;
    li.textContent = host + (members.get(host) ? ` · ${members.get(host)}` : "");
    if (url === s.url && s.state === "live") li.className = "current";
    list.appendChild(li);
  }
}

const members = new Map<string, string>(); // http address → state, from /api/cluster

const queued = new Set<string>(); // jobs whose create waits in the outbox

function renderOutbox(entries: OutboxEntry[]): void {
  queued.clear();
  for (const e of entries) if (e.kind === "create") queued.add(e.jobId);
  render();
  $("outbox-count").textContent = entries.length === 0 ? "empty" : `${entries.length} waiting`;
  $("outbox-panel").className = "panel" + (entries.length ? " waiting" : "");
  const list = $("outbox");
  list.textContent = "";
  for (const e of entries) {
    const li = document.createElement("li");
    li.textContent = e.kind === "create" ? `create ${e.jobId} (“${String((e.input as { prompt?: string } | undefined)?.prompt ?? "")}”)` : `cancel ${e.jobId}`;
    list.appendChild(li);
  }
}

function onEvent(ev: JobEvent): void {
  if (ev.jobId !== st.jobId) return;
  if (ev.seq <= st.seq) st.repeats++;
  else if (ev.seq !== st.seq + 1) st.gaps += ev.seq - st.seq - 1;
  st.seq = Math.max(st.seq, ev.seq);
  if (isEvent(ev, "model:chunk:v1")) {
    st.text += ev.data.chunk;
    st.tokens = (st.tokens ?? 0) + 1;
    if (st.status === "created" || !st.status) st.status = "running";
  } else if (isEvent(ev, "job:progress:v1")) {
    if (typeof ev.data.progress === "number") st.progress = ev.data.progress;
  } else if (isEvent(ev, "job:completed:v1")) {
    st.status = "completed";
    st.progress = 100;
  } else if (isEvent(ev, "job:failed:v1")) {
    st.status = "failed";
    st.text += `\n[failed: ${ev.data.error ?? ""}]`;
  } else if (isEvent(ev, "job:cancelled:v1")) {
    st.status = "cancelled";
  } else if (isEvent(ev, "job:created:v1")) {
    st.status ||= "created";
  } else if (ev.event === "job:running:v1") {
    st.status = "running";
  }
  if (ev.event !== "model:chunk:v1") log(`seq ${ev.seq} ${ev.event}`);
  save();
  render();
}

let sub: Subscription | undefined;

function follow(hub: Hub): void {
  sub?.close();
  sub = undefined;
  if (!st.jobId) return;
  const s = hub.subscribe(st.jobId, { fromSeq: st.seq });
  sub = s;
  s.on("event", onEvent);
  s.on("subscribed", (i) => {
    if (i.fromSeq > 0 || st.reconnects > 0) log(`resumed ${i.jobId} after seq ${i.fromSeq} on node ${i.nodeId} (journal at ${i.lastSequence}, epoch ${i.epoch})`);
    else log(`subscribed to ${i.jobId} on node ${i.nodeId}`);
    if (!st.status) st.status = i.status;
    render();
  });
  s.on("error", (e) => log(`subscription ended: ${e.message}`));
}

function watch(hub: Hub, jobId: string): void {
  $("f-owner").textContent = "—";
  st = fresh(jobId);
  save();
  render();
  follow(hub);
}

async function main(): Promise<void> {
  const urls = await endpoints();
  const hub = new Hub({ urls, backoff: { floorMs: 100, capMs: 3000 } });
  (window as unknown as { actorhub: unknown }).actorhub = { hub, state: () => ({ ...st }) };
  let wasLive = false;
  hub.on("status", (s) => {
    if (s.state === "live") log(`connected to node ${s.nodeId}${wasLive ? " (reconnected)" : ""}`);
    else if (wasLive && s.state === "reconnecting") {
      log(`connection lost (${s.reason ?? "closed"}); reconnecting in ${s.retryInMs} ms`);
      if (st.jobId && !terminal(st.status)) {
        st.reconnects++;
        save();
      }
    }
    if (s.state === "live") wasLive = true;
    renderStatus(s, hub);
  });
  hub.on("outbox", renderOutbox);
  hub.on("done", (e) => {
    log(`${e.kind} ${e.jobId} is durable`);
    // a demo job starts its simulated model once it exists (also one queued before a reload)
    if (e.kind === "create" && e.jobType === "demo:llm") void startModel(e.jobId, String((e.input as { prompt?: string }).prompt ?? ""));
  });
  hub.on("failed", (e, err) => log(`${e.kind} ${e.jobId} refused: ${err.message}`));
  renderOutbox([]);

  setInterval(async () => { // the members' states, as this page's node sees them, and where the job lives
    try {
      const c = await (await fetch("/api/cluster")).json();
      members.clear();
      for (const m of c.members) members.set(m.http, m.state);
      renderStatus(hub.status, hub);
      if (st.jobId && !queued.has(st.jobId)) {
        const r = await fetch(`/api/job/${encodeURIComponent(st.jobId)}/status`);
        const owner = r.ok ? ((await r.json()).node ?? "none (idle)") : "—";
        if (owner !== $("f-owner").textContent) {
          if ($("f-owner").textContent !== "—" && r.ok) log(`job ${st.jobId} now lives on ${owner}`);
          $("f-owner").textContent = owner;
        }
      }
    } catch { // the page's node is down: the others as last seen
      members.set(location.host, "unreachable");
      renderStatus(hub.status, hub);
    }
  }, 2000);

  $("ask").onsubmit = async (e) => {
    e.preventDefault();
    const prompt = $<HTMLInputElement>("prompt").value.trim();
    if (!prompt) return;
    $<HTMLInputElement>("prompt").value = "";
    const jobId = "demo-" + Math.random().toString(16).slice(2, 14);
    log(hub.live ? `creating ${jobId}` : `offline: ${jobId} waits in the outbox`);
    hub.createJob({ jobId, type: "demo:llm", input: { prompt } }).catch((err) => log(`create refused: ${err.message}`));
    watch(hub, jobId); // its subscription starts once the create is durable
  };
  $("watch").onsubmit = (e) => {
    e.preventDefault();
    const id = $<HTMLInputElement>("jobid").value.trim();
    if (id) watch(hub, id);
  };
  $("cancel").onclick = () => {
    if (!st.jobId) return;
    const id = st.jobId;
    log(hub.live ? `cancelling ${id}` : `offline: the cancel of ${id} waits in the outbox`);
    hub.cancel(id, "cancelled from the page").catch((err) => log(`cancel of ${id} refused: ${err.message}`));
  };

  render();
  if (st.jobId) {
    log(`resuming ${st.jobId} after seq ${st.seq}`);
    follow(hub);
  }
}

/** Asks this page's node to run the simulated model for a demo job (idempotent per job). */
async function startModel(jobId: string, prompt: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const r = await fetch("/api/demo/prompt", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ jobId, prompt }) });
      if (r.status === 404 || r.status === 405) {
        log("this node runs without --demo: start it with `make run` or `actorhub serve --demo`");
        return;
      }
      if (r.ok) return;
      log(`the demo model refused ${jobId}: ${(await r.json().catch(() => ({}))).message ?? r.status}`);
      if (r.status < 500 && r.status !== 429) return;
    } catch {
      /* the page's node is down: try again */
    }
    await new Promise((res) => setTimeout(res, Math.min(5000, 250 * 2 ** attempt)));
  }
}

void main();
