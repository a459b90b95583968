package actors

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a node's Prometheus instruments, registered on the node's own
// registry.
type Metrics struct {
	ConnsOpen       *prometheus.GaugeVec   // actorhub_connections_open{kind}
	JobActors       prometheus.Gauge       // actorhub_job_actors_active
	JobsStreaming   prometheus.Gauge       // actorhub_jobs_streaming
	Feeds           prometheus.Gauge       // actorhub_job_feeds_active
	EventsAppended  prometheus.Counter     // actorhub_events_appended_total
	EventsDelivered prometheus.Counter     // actorhub_events_delivered_total
	StoreWrite      prometheus.Histogram   // actorhub_store_write_seconds
	Errors          *prometheus.CounterVec // actorhub_errors_total{code}
	StaleWrites     prometheus.Counter     // actorhub_stale_writes_refused_total
	SlowConsumers   prometheus.Counter     // actorhub_slow_consumers_closed_total
	FanOut          prometheus.Histogram   // actorhub_fanout_seconds
	FanOutHelpers   prometheus.Counter     // actorhub_fanout_helpers_total
	EmitsElsewhere  prometheus.Counter     // actorhub_worker_emits_elsewhere_total

	// What the analytics actor adds up, as this node saw it (the cluster-wide
	// figures are /api/analytics/*). Job types past the first maxTypeLabels
	// are labelled "other", so a client's types cannot grow the series without bound.
	Jobs            *prometheus.CounterVec   // actorhub_jobs_total{outcome,type}
	JobTokens       *prometheus.CounterVec   // actorhub_job_tokens_total{type}
	TTFT            *prometheus.HistogramVec // actorhub_job_time_to_first_token_seconds{type}
	JobDuration     *prometheus.HistogramVec // actorhub_job_duration_seconds{type}
	Sessions        prometheus.Counter       // actorhub_sessions_total
	SessionDuration prometheus.Histogram     // actorhub_session_duration_seconds
	Resumes         prometheus.Counter       // actorhub_resumes_total
	Reconnects      prometheus.Counter       // actorhub_reconnects_total
	Replayed        prometheus.Counter       // actorhub_replayed_events_total
}

// maxTypeLabels bounds the job types a node labels its metrics with.
const maxTypeLabels = 32

// NewMetrics creates the instruments and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ConnsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "actorhub_connections_open",
			Help: "Open WebSocket connections, by kind (client, worker)."}, []string{"kind"}),
		JobActors: prometheus.NewGauge(prometheus.GaugeOpts{Name: "actorhub_job_actors_active",
			Help: "Job actors alive on this node."}),
		JobsStreaming: prometheus.NewGauge(prometheus.GaugeOpts{Name: "actorhub_jobs_streaming",
			Help: "Jobs this node holds whose status is running (they have events and no terminal event yet)."}),
		Feeds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "actorhub_job_feeds_active",
			Help: "Job feeds (watched jobs) on this node."}),
		EventsAppended: prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_events_appended_total",
			Help: "Events made durable in the journal by job actors of this node."}),
		EventsDelivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_events_delivered_total",
			Help: "Events queued to client connections (replays included)."}),
		StoreWrite: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "actorhub_store_write_seconds",
			Help:    "Duration of one journal write (a group commit of one job).",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actorhub_errors_total",
			Help: "Errors sent to clients and workers, by code."}, []string{"code"}),
		StaleWrites: prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_stale_writes_refused_total",
			Help: "Journal writes refused because a newer incarnation owns the job (should stay 0 outside failovers)."}),
		SlowConsumers: prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_slow_consumers_closed_total",
			Help: "Connections closed because their outbound queue was full."}),
		FanOut: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "actorhub_fanout_seconds",
			Help:    "Duration of a feed's fan-out of events to more than 16 of this node's clients, from its first write to its last (helpers' writes and its pauses for the node's other work included).",
			Buckets: prometheus.ExponentialBuckets(100e-6, 2, 16)}),
		FanOutHelpers: prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_fanout_helpers_total",
			Help: "Helper goroutines lent to wide fan-outs (nodes of three Ps or more), each writing a share of a fan-out's clients."}),
		EmitsElsewhere: prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_worker_emits_elsewhere_total",
			Help: "Worker emits this node acknowledged (on /ws/worker or POST /api/jobs/{id}/events) for jobs another node holds: each crossed to it and back (the answer names the node, for a worker to send there)."}),
	}
	latency := prometheus.ExponentialBuckets(0.005, 2, 14) // 5 ms … 41 s
	m.Jobs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actorhub_jobs_total",
		Help: "Jobs created on this node, and jobs whose terminal event this node made durable, by outcome (created, completed, failed, cancelled) and type."}, []string{"outcome", "type"})
	m.JobTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actorhub_job_tokens_total",
		Help: "model:chunk:v1 events of the jobs that ended on this node, by type."}, []string{"type"})
	m.TTFT = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "actorhub_job_time_to_first_token_seconds",
		Help: "From a job's creation to its first model:chunk:v1, by type (jobs that ended on this node).", Buckets: latency}, []string{"type"})
	m.JobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "actorhub_job_duration_seconds",
		Help: "From a job's creation to its terminal event, by type.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 16)}, []string{"type"})
	m.Sessions = prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_sessions_total",
		Help: "Client connections (/ws) opened on this node."})
	m.SessionDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "actorhub_session_duration_seconds",
		Help: "How long client connections lasted.", Buckets: prometheus.ExponentialBuckets(1, 2, 16)})
	m.Resumes = prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_resumes_total",
		Help: "Subscribes that resumed after a seq (fromSeq > 0)."})
	m.Reconnects = prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_reconnects_total",
		Help: "Client connections that resumed a subscription (a client coming back)."})
	m.Replayed = prometheus.NewCounter(prometheus.CounterOpts{Name: "actorhub_replayed_events_total",
		Help: "Events sent to clients from the store (resumes and late joiners), which a pub/sub stack cannot send."})
	reg.MustRegister(m.ConnsOpen, m.JobActors, m.JobsStreaming, m.Feeds, m.EventsAppended, m.EventsDelivered, m.StoreWrite,
		m.Errors, m.StaleWrites, m.SlowConsumers, m.FanOut, m.FanOutHelpers, m.EmitsElsewhere, m.Jobs, m.JobTokens, m.TTFT, m.JobDuration, m.Sessions,
		m.SessionDuration, m.Resumes, m.Reconnects, m.Replayed)
	return m
}
