package processors

import (
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestBuildInfoMetric: stockledger_build_info is 1, labelled with the Go
// that built the test binary.
func TestBuildInfoMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	RegisterBuildInfo(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "stockledger_build_info" {
			continue
		}
		m := mf.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if m.GetGauge().GetValue() != 1 || labels["goversion"] != runtime.Version() || labels["version"] == "" || labels["revision"] == "" {
			t.Fatalf("stockledger_build_info %v %v, want 1 with goversion %s", m.GetGauge().GetValue(), labels, runtime.Version())
		}
		return
	}
	t.Fatal("no stockledger_build_info")
}
