package actors

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a node's Prometheus instruments, registered on the node's own
// registry.
type Metrics struct {
	ConnsOpen       *prometheus.GaugeVec   // actorhub_connections_open{kind}
	JobActors       prometheus.Gauge       // actorhub_job_actors_active
	Feeds           prometheus.Gauge       // actorhub_job_feeds_active
	EventsAppended  prometheus.Counter     // actorhub_events_appended_total
	EventsDelivered prometheus.Counter     // actorhub_events_delivered_total
	StoreWrite      prometheus.Histogram   // actorhub_store_write_seconds
	Errors          *prometheus.CounterVec // actorhub_errors_total{code}
	StaleWrites     prometheus.Counter     // actorhub_stale_writes_refused_total
	SlowConsumers   prometheus.Counter     // actorhub_slow_consumers_closed_total
}

// NewMetrics creates the instruments and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ConnsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "actorhub_connections_open",
			Help: "Open WebSocket connections, by kind (client, worker)."}, []string{"kind"}),
		JobActors: prometheus.NewGauge(prometheus.GaugeOpts{Name: "actorhub_job_actors_active",
			Help: "Job actors alive on this node."}),
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
	}
	reg.MustRegister(m.ConnsOpen, m.JobActors, m.Feeds, m.EventsAppended, m.EventsDelivered, m.StoreWrite,
		m.Errors, m.StaleWrites, m.SlowConsumers)
	return m
}
