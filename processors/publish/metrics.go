package publish

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a publisher's Prometheus metrics, labelled by its channel.
type Metrics struct {
	pending  prometheus.Gauge
	lag      prometheus.Observer
	requests *prometheus.CounterVec
	updates  *prometheus.CounterVec
}

// NewMetrics registers a publisher's metrics for channel with reg.
func NewMetrics(reg prometheus.Registerer, channel string) *Metrics {
	l := prometheus.Labels{"channel": channel}
	m := &Metrics{
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "stockledger_publish_keys_pending", ConstLabels: l,
			Help: "Keys whose latest value the channel has not acknowledged."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stockledger_publish_requests_total", ConstLabels: l,
			Help: "Webhook requests by HTTP status (\"error\": no answer: refused, reset or timed out)."}, []string{"status"}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stockledger_publish_updates_total", ConstLabels: l,
			Help: "Updates read from the topic by outcome: acked (sent and acknowledged), skipped (equal to the value the channel acknowledged), old (a version already read)."},
			[]string{"outcome"}),
	}
	lag := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "stockledger_publish_lag_seconds", ConstLabels: l,
		Help:    "From the append of a value to the updates topic to the channel's acknowledgement of it.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 16)})
	m.lag = lag
	reg.MustRegister(m.pending, m.requests, m.updates, lag)
	for _, o := range []string{"acked", "skipped", "old"} {
		m.updates.WithLabelValues(o)
	}
	return m
}

func (m *Metrics) request(status int) {
	s := "error"
	if status != 0 {
		s = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(s).Inc()
}
