// The analytics view at /analytics of every node: the cluster-wide figures of
// /api/analytics/* as charts (uPlot), refreshed every few seconds. Bundled by
// internal/webbundle into demo/analytics.js.
import uPlot from "uplot";

type Summary = { count: number; p50: number; p90: number; p99: number; mean: number };
type Figures = { created: number; completed: number; failed: number; cancelled: number; tokens: number; ttftMs: Summary; durationMs: Summary; tokensPerJob: Summary; tokensPerSec: Summary };
type Metrics = {
  dau: number; timestamp: number; date: string;
  connections: Record<string, number>;
  sessions: { count: number; seconds: Summary };
  reconnects: number; resumes: number; replayed: number;
  jobs: Figures; jobsByType: Record<string, Figures>;
};
type Series = { points: Array<[number, number]> };

const $ = (id: string) => document.getElementById(id)!;
const get = async <T>(path: string): Promise<T> => {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json() as Promise<T>;
};

const charts = new Map<string, uPlot>();

/** Draws (or redraws) a chart of x (unix s) and several series into the element id. */
function chart(id: string, title: string, names: string[], colors: string[], data: uPlot.AlignedData, bars = false): void {
  const el = $(id);
  const width = Math.max(300, el.clientWidth - 34); // the panel's padding and border
  const old = charts.get(id);
  if (old && old.series.length === names.length + 1) {
    old.setData(data);
    return;
  }
  old?.destroy();
  const opts: uPlot.Options = {
    title, width, height: 220,
    scales: { x: { time: true } },
    series: [{}, ...names.map((label, i) => ({
      label, stroke: colors[i], width: bars ? 1 : 2,
      fill: bars ? colors[i] + "66" : undefined,
      paths: bars ? uPlot.paths.bars!({ size: [0.8 / names.length, 10], align: 1 }) : undefined,
      points: { show: false },
    }))],
    axes: [{}, { size: 50 }],
  };
  charts.set(id, new uPlot(opts, data, el));
}

const OUTCOMES = ["jobs.completed", "jobs.failed", "jobs.cancelled"];
const COLORS = ["#1a7f37", "#cf222e", "#9a6700", "#1f6feb", "#8250df"];

async function refresh(): Promise<void> {
  const now = Date.now();
  const [m, ...perMinute] = await Promise.all([
    get<Metrics>("/api/analytics/metrics"),
    ...OUTCOMES.map((metric) => get<Series>(`/api/analytics/series?metric=${metric}&from=${now - 30 * 60e3}&to=${now}&step=1m`)),
    get<Series>(`/api/analytics/series?metric=dau&from=${now - 13 * 86400e3}&to=${now}&step=1d`),
    get<Series>(`/api/analytics/series?metric=tokens&from=${now - 30 * 60e3}&to=${now}&step=1m`),
  ]);
  const dau = perMinute[OUTCOMES.length]!;
  const tokens = perMinute[OUTCOMES.length + 1]!;
  $("k-dau").textContent = String(m.dau);
  $("k-sessions").textContent = String(m.sessions.count);
  $("k-jobs").textContent = `${m.jobs.created} created · ${m.jobs.completed} completed · ${m.jobs.failed} failed · ${m.jobs.cancelled} cancelled`;
  $("k-ttft").textContent = m.jobs.ttftMs.count ? `${m.jobs.ttftMs.p50} / ${m.jobs.ttftMs.p99} ms` : "—";
  $("k-tps").textContent = m.jobs.tokensPerSec.count ? `${m.jobs.tokensPerSec.p50} / ${m.jobs.tokensPerSec.p99}` : "—";
  $("k-resume").textContent = `${m.resumes} resumes · ${m.replayed} events replayed · ${m.reconnects} reconnects`;

  const x = perMinute[0]!.points.map((p) => p[0] / 1000);
  chart("c-jobs", "jobs per minute by outcome (last 30 min)", ["completed", "failed", "cancelled"], COLORS,
    [x, ...OUTCOMES.map((_, i) => perMinute[i]!.points.map((p) => p[1]))], true);
  chart("c-tokens", "tokens per minute (last 30 min)", ["tokens"], [COLORS[3]!], [tokens.points.map((p) => p[0] / 1000), tokens.points.map((p) => p[1])]);
  chart("c-dau", "daily active users (last 14 days, UTC)", ["DAU"], [COLORS[4]!], [dau.points.map((p) => p[0] / 1000), dau.points.map((p) => p[1])], true);

  // the distributions of today, per job type
  const rows = Object.entries(m.jobsByType).sort(([a], [b]) => a.localeCompare(b));
  const table = $("types");
  table.textContent = "";
  for (const [type, f] of rows) {
    const tr = document.createElement("tr");
    for (const v of [type, f.created, f.completed, f.failed, f.cancelled, f.tokens,
      `${f.ttftMs.p50} / ${f.ttftMs.p90} / ${f.ttftMs.p99}`, `${f.durationMs.p50} / ${f.durationMs.p99}`,
      `${f.tokensPerSec.p50} / ${f.tokensPerSec.p99}`]) {
      const td = document.createElement("td");
      td.textContent = String(v);
      tr.appendChild(td);
    }
    table.appendChild(tr);
  }

  // connections per node (each node writes its count at every flush) and the members' states
  const cluster = await get<{ members: Array<{ id: string; http: string; state: string }> }>("/api/cluster");
  const conns = $("nodes");
  conns.textContent = "";
  for (const mem of cluster.members) {
    const li = document.createElement("li");
    li.textContent = `${mem.id} · ${mem.state} · ${m.connections[mem.id] ?? 0} client connections`;
    conns.appendChild(li);
  }
  $("updated").textContent = `updated ${new Date(m.timestamp).toISOString().slice(11, 19)} UTC · figures of ${m.date}`;
}

async function loop(): Promise<void> {
  try {
    await refresh();
    $("error").textContent = "";
  } catch (err) {
    $("error").textContent = `cannot read the analytics: ${(err as Error).message}`;
  }
  setTimeout(loop, 3000);
}

void loop();
