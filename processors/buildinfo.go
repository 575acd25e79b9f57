package processors

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfo says which stockledger this is: the module version (a release
// tag, or "(devel)" built from a checkout), the commit it was built from
// (Modified: with uncommitted changes), when that commit was made, and the
// Go that built it. Go records them in the binary (debug.ReadBuildInfo).
type BuildInfo struct {
	Version, Revision, Time, GoVersion string
	Modified                           bool
}

// ReadBuildInfo returns the binary's build information; fields Go did not
// record (a test binary, a build outside a checkout) are "unknown".
func ReadBuildInfo() BuildInfo {
	b := BuildInfo{Version: "unknown", Revision: "unknown", Time: "unknown", GoVersion: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = bi.GoVersion
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the build in one line: version, commit (+dirty), commit time,
// Go version.
func (b BuildInfo) String() string {
	rev := b.Revision
	if b.Modified {
		rev += "+dirty"
	}
	return "stockledger " + b.Version + " (commit " + rev + ", " + b.Time + ", " + b.GoVersion + ")"
}

// RegisterBuildInfo registers stockledger_build_info, 1 with the build as labels:
// a dashboard shows which version each instance runs.
func RegisterBuildInfo(reg prometheus.Registerer) {
	b := ReadBuildInfo()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "stockledger_build_info",
		Help:        "Always 1; the labels say which build this instance runs (version, commit, Go version).",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion},
	})
	g.Set(1)
	reg.MustRegister(g)
}
