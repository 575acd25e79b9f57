package processors_test

// Checks on deploy/: the Grafana dashboard and the Prometheus alert rules
// parse and use only metrics (and label values) a live processor exports;
// the compose file, the Prometheus config and the Kubernetes manifests are
// well-formed YAML with the wiring deploy/README.md promises.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"go.yaml.in/yaml/v3"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
	"github.com/stockledger/stockledger/schemas"
)

const deployDir = "../deploy"

// exported is what a live processor's registry gathered: metric family name
// -> label name -> the label values seen.
type exported struct {
	families map[string]*dto.MetricFamily
	labels   map[string]map[string]map[string]bool
}

func newExported(mfs ...[]*dto.MetricFamily) *exported {
	e := &exported{families: map[string]*dto.MetricFamily{}, labels: map[string]map[string]map[string]bool{}}
	for _, set := range mfs {
		for _, mf := range set {
			e.families[mf.GetName()] = mf
			ls := e.labels[mf.GetName()]
			if ls == nil {
				ls = map[string]map[string]bool{}
				e.labels[mf.GetName()] = ls
			}
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if ls[lp.GetName()] == nil {
						ls[lp.GetName()] = map[string]bool{}
					}
					ls[lp.GetName()][lp.GetValue()] = true
				}
			}
			if mf.GetType() == dto.MetricType_HISTOGRAM {
				ls["le"] = map[string]bool{}
			}
		}
	}
	return e
}

// family resolves a name used in PromQL to the family that exports it: a
// histogram's _bucket, _sum and _count series belong to the histogram.
func (e *exported) family(name string) (string, bool) {
	if _, ok := e.families[name]; ok {
		return name, true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		if mf, ok := e.families[base]; ok && (mf.GetType() == dto.MetricType_HISTOGRAM ||
			(mf.GetType() == dto.MetricType_SUMMARY && suf != "_bucket")) {
			return base, true
		}
	}
	return "", false
}

// liveMetrics runs a processor on kfake, folds a small generated stream
// (with duplicates, refusals and malformed events, so every labelled family
// has series), then stops the broker so the Kafka client's error counters
// exist too, and returns everything gathered.
func liveMetrics(t *testing.T) *exported {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emb, err := processors.StartEmbedded("127.0.0.1:0", "", 4)
	if err != nil {
		t.Fatal(err)
	}
	embClosed := false
	defer func() {
		if !embClosed {
			emb.Close()
		}
	}()
	brokers := []string{emb.Addr()}
	st, err := store.Open(filepath.Join(t.TempDir(), "ledger"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := processors.DefaultConfig()
	cfg.Brokers = brokers
	cfg.Partitions = 4
	cfg.InstanceID = "deploy-test"
	cfg.AdvertiseHTTP = "127.0.0.1:8080"
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := processors.New(ctx, cfg, st, schemas.NewRegistry(), promReg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(runCtx) }()
	defer func() {
		stop()
		<-runErr
	}()

	lines := gen.Stream(gen.Config{Seed: 6, SKUs: 40, DupPct: 5, RefusePct: 5, InvalidPct: 5, PolicyChanges: []int{500}}, 2000)
	lines = append(lines, []byte("\x00\x01not an event"))
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := processors.NewEventProducer(ctx, brokers, cfg.Topics, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := e2etest.Produce(ctx, prod, wire); err != nil {
		t.Fatal(err)
	}
	if err := e2etest.WaitCaughtUp(ctx, kadm.NewClient(prod.Client()), cfg.Topics.Events, func(part int32) (int64, bool) {
		n, ok, _ := st.Offset(part)
		return n, ok
	}); err != nil {
		t.Fatal(err)
	}
	// Lag is refreshed every LagInterval; wait for a series per partition.
	var healthy []*dto.MetricFamily
	for {
		if healthy, err = promReg.Gather(); err != nil {
			t.Fatal(err)
		}
		if e := newExported(healthy); len(e.labels["stockledger_consumer_partition_lag_records"]["partition"]) == 4 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no lag series for all 4 partitions")
		case <-time.After(50 * time.Millisecond):
		}
	}

	published := publisherMetrics(ctx, t, brokers, cfg.Topics)

	// The client's error counters have series only once an error happened:
	// take the broker away and wait for the connection errors.
	prod.Close()
	emb.Close()
	embClosed = true
	var broken []*dto.MetricFamily
	for {
		if broken, err = promReg.Gather(); err != nil {
			t.Fatal(err)
		}
		if _, ok := newExported(broken).families["stockledger_kafka_connect_errors_total"]; ok {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no stockledger_kafka_connect_errors_total series after stopping the broker")
		case <-time.After(100 * time.Millisecond):
		}
	}
	return newExported(healthy, broken, published)
}

var (
	metricRef  = regexp.MustCompile(`\b(?:stockledger|go|process)_[a-z0-9_]*[a-z0-9]\b`)
	selectorRe = regexp.MustCompile(`\b((?:stockledger|go|process)_[a-z0-9_]*[a-z0-9])\s*\{([^}]*)\}`)
	matcherRe  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupingRe = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`)
)

// targetLabels are added by Prometheus when it scrapes, not by the process.
var targetLabels = map[string]bool{"job": true, "instance": true}

// checkExpr reports every metric, label or label value expr uses that the
// live processor does not export.
func checkExpr(where, expr string, live *exported) []string {
	var problems []string
	used := map[string]bool{}
	for _, name := range metricRef.FindAllString(expr, -1) {
		fam, ok := live.family(name)
		if !ok {
			problems = append(problems, where+": metric "+name+" is not exported by the processor or the publisher")
			continue
		}
		used[fam] = true
	}
	for _, m := range selectorRe.FindAllStringSubmatch(expr, -1) {
		fam, ok := live.family(m[1])
		if !ok {
			continue
		}
		for _, mm := range matcherRe.FindAllStringSubmatch(m[2], -1) {
			label, op, value := mm[1], mm[2], mm[3]
			if targetLabels[label] {
				continue
			}
			values, ok := live.labels[fam][label]
			if !ok {
				problems = append(problems, where+": "+fam+" has no label "+label)
				continue
			}
			if op == "=" && !values[value] {
				problems = append(problems, where+": "+fam+`{`+label+`="`+value+`"} has no series (values: `+strings.Join(sortedKeys(values), ", ")+")")
			}
		}
	}
	// Every label an aggregation or vector match names must be on one of
	// the expression's metrics (or be a target label).
	for _, g := range groupingRe.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(g[1], ",") {
			l = strings.TrimSpace(l)
			if l == "" || targetLabels[l] {
				continue
			}
			found := false
			for fam := range used {
				if _, ok := live.labels[fam][l]; ok {
					found = true
				}
			}
			if !found && len(used) > 0 {
				problems = append(problems, where+": grouping label "+l+" is on none of "+strings.Join(sortedKeys(used), ", "))
			}
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// dashboardQueries returns every PromQL string in the dashboard: panel
// targets (rows' nested panels too) and template variable queries.
func dashboardQueries(t *testing.T, dash map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	var panels func(ps []any, path string)
	panels = func(ps []any, path string) {
		for i, raw := range ps {
			p, _ := raw.(map[string]any)
			title, _ := p["title"].(string)
			where := path + "/" + title
			if p["type"] != "row" {
				targets, _ := p["targets"].([]any)
				if len(targets) == 0 {
					t.Errorf("dashboard panel %d %q has no targets", i, title)
				}
				for j, rt := range targets {
					tg, _ := rt.(map[string]any)
					expr, _ := tg["expr"].(string)
					if expr == "" {
						t.Errorf("dashboard panel %q target %d has no expr", title, j)
					}
					out[where+"#"+string(rune('A'+j))] = expr
				}
			}
			if nested, ok := p["panels"].([]any); ok {
				panels(nested, where)
			}
		}
	}
	ps, _ := dash["panels"].([]any)
	panels(ps, "panels")
	if tmpl, ok := dash["templating"].(map[string]any); ok {
		vars, _ := tmpl["list"].([]any)
		for _, rv := range vars {
			v, _ := rv.(map[string]any)
			if v["type"] != "query" {
				continue
			}
			switch q := v["query"].(type) {
			case string:
				out["variable "+v["name"].(string)] = q
			case map[string]any:
				s, _ := q["query"].(string)
				out["variable "+v["name"].(string)] = s
			}
		}
	}
	return out
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(deployDir, "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	return rf
}

func readDashboard(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(deployDir, "grafana", "stockledger-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	return dash
}

// TestDeployMetricsExist: every metric, label and label value the dashboard
// and the alert rules use is exported by a live processor.
func TestDeployMetricsExist(t *testing.T) {
	dash := readDashboard(t)
	rules := readRules(t)
	live := liveMetrics(t)

	var problems []string
	queries := dashboardQueries(t, dash)
	if len(queries) < 20 {
		t.Errorf("dashboard has only %d queries", len(queries))
	}
	usedNames := map[string]bool{}
	for _, where := range sortedKeys(queries) {
		problems = append(problems, checkExpr("dashboard "+where, queries[where], live)...)
		for _, n := range metricRef.FindAllString(queries[where], -1) {
			usedNames[n] = true
		}
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			problems = append(problems, checkExpr("alerts.yml "+g.Name+"/"+r.Alert, r.Expr, live)...)
			for _, n := range metricRef.FindAllString(r.Expr, -1) {
				usedNames[n] = true
			}
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	// The dashboard covers what the issue asks for.
	for _, want := range []string{
		"stockledger_ledger_events_applied_total", "stockledger_consumer_partition_lag_records",
		"stockledger_output_event_to_update_seconds_bucket", "stockledger_ledger_alerts_total",
		"stockledger_ledger_dead_letters_total", "stockledger_pebble_disk_space_usage_bytes",
		"stockledger_pebble_read_amplification", "stockledger_pebble_l0_files", "stockledger_store_stalled",
		"stockledger_store_errors_total", "stockledger_kafka_connect_errors_total",
	} {
		if !usedNames[want] {
			t.Errorf("neither the dashboard nor the alert rules use %s", want)
		}
	}
	var kafka []string
	for name := range live.families {
		if strings.HasPrefix(name, "stockledger_kafka_") {
			kafka = append(kafka, name)
		}
	}
	slices.Sort(kafka)
	t.Logf("Kafka client families exported: %s", strings.Join(kafka, " "))
	t.Logf("%d dashboard queries and %d alert groups checked against %d exported metric families; %d distinct metric names used",
		len(queries), len(rules.Groups), len(live.families), len(usedNames))
}

// TestDeployDashboardShape: panel ids are unique, every panel and target
// uses the templated data source, and the provisioning points at the file.
func TestDeployDashboardShape(t *testing.T) {
	dash := readDashboard(t)
	if dash["uid"] != "stockledger" || dash["title"] == "" {
		t.Errorf("dashboard uid %v title %v", dash["uid"], dash["title"])
	}
	ids := map[float64]bool{}
	ps, _ := dash["panels"].([]any)
	for _, raw := range ps {
		p := raw.(map[string]any)
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("duplicate panel id %v", id)
		}
		ids[id] = true
		if _, ok := p["gridPos"].(map[string]any); !ok {
			t.Errorf("panel %v has no gridPos", p["title"])
		}
		if p["type"] == "row" {
			continue
		}
		ds, _ := p["datasource"].(map[string]any)
		if ds["uid"] != "${datasource}" {
			t.Errorf("panel %v: datasource %v, want the ${datasource} variable", p["title"], p["datasource"])
		}
	}
	raw, err := os.ReadFile(filepath.Join(deployDir, "grafana", "provisioning", "dashboards", "stockledger.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(raw, &prov); err != nil || len(prov.Providers) != 1 {
		t.Fatalf("dashboard provisioning: %v %+v", err, prov)
	}
	compose := readCompose(t)
	grafana := compose.Services["grafana"]
	if !slices.ContainsFunc(grafana.Volumes, func(v string) bool {
		return strings.HasPrefix(v, "./grafana/stockledger-dashboard.json:"+prov.Providers[0].Options.Path+"/")
	}) {
		t.Errorf("compose grafana volumes %v do not put the dashboard under the provider's path %s", grafana.Volumes, prov.Providers[0].Options.Path)
	}
}

// TestDeployAlertRules: the rule file is well-formed for Prometheus: named
// groups, unique alert names, an expression, a severity and a summary, and
// `for` durations that parse.
func TestDeployAlertRules(t *testing.T) {
	rf := readRules(t)
	if len(rf.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: a name and rules are required", g.Name)
		}
		for _, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") {
				t.Errorf("group %s: a rule needs exactly one of alert and record: %+v", g.Name, r)
			}
			if seen[r.Alert] {
				t.Errorf("duplicate alert %s", r.Alert)
			}
			seen[r.Alert] = true
			if strings.TrimSpace(r.Expr) == "" || strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") ||
				strings.Count(r.Expr, "{") != strings.Count(r.Expr, "}") || strings.Count(r.Expr, "[") != strings.Count(r.Expr, "]") {
				t.Errorf("%s: empty or unbalanced expr %q", r.Alert, r.Expr)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if sev := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, sev) {
				t.Errorf("%s: severity %q", r.Alert, sev)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: summary and description annotations are required", r.Alert)
			}
		}
	}
	// The list: lag growing, dead letters, oversold spikes, not ready.
	for _, want := range []string{"StockledgerLagGrowing", "StockledgerDeadLetters", "StockledgerOversoldSpike",
		"StockledgerStoreStalled", "StockledgerNoPartitionsOwned", "StockledgerDown", "StockledgerChangelogErrors"} {
		if !seen[want] {
			t.Errorf("alert %s missing", want)
		}
	}

	raw, err := os.ReadFile(filepath.Join(deployDir, "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		Global        map[string]string `yaml:"global"`
		RuleFiles     []string          `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&prom); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	if !slices.Contains(prom.RuleFiles, "alerts.yml") {
		t.Errorf("prometheus.yml rule_files %v", prom.RuleFiles)
	}
	// The alerts select job="stockledger"; the compose scrape job must be it.
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName == "stockledger" {
			for _, s := range sc.StaticConfigs {
				targets = append(targets, s.Targets...)
			}
		}
	}
	slices.Sort(targets)
	if !slices.Equal(targets, []string{"stockledger-1:8080", "stockledger-2:8080"}) {
		t.Errorf("prometheus.yml job stockledger targets %v", targets)
	}
}

type composeFile struct {
	Name     string `yaml:"name"`
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   any               `yaml:"depends_on"`
		Build       *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	// Merge keys (<<: *stockledger) are resolved by the decoder.
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

// TestDeployCompose: Kafka (KRaft, official image), two processors in one
// group with their own volumes, instance ids and advertised addresses,
// Prometheus and Grafana with files that exist.
func TestDeployCompose(t *testing.T) {
	c := readCompose(t)
	for _, s := range []string{"kafka", "stockledger-1", "stockledger-2", "prometheus", "grafana"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("compose: service %s missing", s)
		}
	}
	kafka := c.Services["kafka"]
	if !strings.HasPrefix(kafka.Image, "apache/kafka:") || !strings.Contains(kafka.Environment["KAFKA_PROCESS_ROLES"], "controller") {
		t.Errorf("compose kafka: image %q roles %q, want apache/kafka in KRaft mode", kafka.Image, kafka.Environment["KAFKA_PROCESS_ROLES"])
	}
	flag := func(cmd []string, name string) string {
		for _, a := range cmd {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				return v
			}
		}
		return ""
	}
	ids, adv, vols, groups := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, name := range []string{"stockledger-1", "stockledger-2"} {
		s := c.Services[name]
		if len(s.Command) == 0 || s.Command[0] != "run" {
			t.Errorf("%s: command %v", name, s.Command)
		}
		id, a := flag(s.Command, "instance-id"), flag(s.Command, "advertise-http")
		if id == "" || a != name+":8080" {
			t.Errorf("%s: --instance-id %q --advertise-http %q", name, id, a)
		}
		ids[id], adv[a] = true, true
		groups[s.Environment["STOCKLEDGER_GROUP"]] = true
		if s.Environment["STOCKLEDGER_BROKERS"] != "kafka:9092" || s.Environment["STOCKLEDGER_HTTP"] != "0.0.0.0:8080" {
			t.Errorf("%s: environment %v", name, s.Environment)
		}
		for _, v := range s.Volumes {
			if strings.HasSuffix(v, ":/data") {
				vols[strings.TrimSuffix(v, ":/data")] = true
				if _, ok := c.Volumes[strings.TrimSuffix(v, ":/data")]; !ok {
					t.Errorf("%s: volume %s is not declared", name, v)
				}
			}
		}
		if s.Build == nil || s.Build.Dockerfile != "deploy/docker/Dockerfile" {
			t.Errorf("%s: build %+v", name, s.Build)
		} else if _, err := os.Stat(filepath.Join(deployDir, s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(ids) != 2 || len(adv) != 2 || len(vols) != 2 || len(groups) != 1 {
		t.Errorf("processors: instance ids %v, advertised %v, data volumes %v, groups %v: want 2 distinct each and one group", ids, adv, vols, groups)
	}
	// Bind mounts point at files in deploy/.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join(deployDir, src)); err != nil {
					t.Errorf("%s: bind mount %s: %v", name, v, err)
				}
			}
		}
	}
}

// TestDeployKubernetes: every manifest parses (multi-document), has
// apiVersion, kind and a name; the StatefulSet has a volume per pod, probes
// on /healthz and /readyz, its instance id from the pod name and its
// advertised address from the headless Service; the PDB and Services
// select its pods.
func TestDeployKubernetes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(deployDir, "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	type obj = map[string]any
	byKind := map[string][]obj{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for i := 0; ; i++ {
			var o obj
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if o == nil {
				continue
			}
			kind, _ := o["kind"].(string)
			if kind == "Kustomization" {
				res, _ := o["resources"].([]any)
				for _, r := range res {
					if _, err := os.Stat(filepath.Join(deployDir, "k8s", r.(string))); err != nil {
						t.Errorf("kustomization: %v", err)
					}
				}
				continue
			}
			md, _ := o["metadata"].(obj)
			if o["apiVersion"] == nil || kind == "" || md["name"] == nil {
				t.Errorf("%s document %d: apiVersion, kind and metadata.name are required", f, i)
			}
			byKind[kind] = append(byKind[kind], o)
		}
	}
	get := func(o any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := o.(obj)
				o = m[k]
			case int:
				s, _ := o.([]any)
				if k >= len(s) {
					return nil
				}
				o = s[k]
			}
		}
		return o
	}
	if len(byKind["StatefulSet"]) != 1 {
		t.Fatalf("want one StatefulSet, have %d", len(byKind["StatefulSet"]))
	}
	sts := byKind["StatefulSet"][0]
	podLabels, _ := get(sts, "spec", "template", "metadata", "labels").(obj)
	selects := func(sel any) bool {
		m, _ := sel.(obj)
		if len(m) == 0 {
			return false
		}
		for k, v := range m {
			if podLabels[k] != v {
				return false
			}
		}
		return true
	}
	if !selects(get(sts, "spec", "selector", "matchLabels")) {
		t.Error("StatefulSet selector does not match its pod labels")
	}
	if get(sts, "spec", "volumeClaimTemplates", 0, "metadata", "name") != "data" {
		t.Error("StatefulSet: no volumeClaimTemplate named data")
	}
	ctr := get(sts, "spec", "template", "spec", "containers", 0)
	if get(ctr, "livenessProbe", "httpGet", "path") != "/healthz" || get(ctr, "readinessProbe", "httpGet", "path") != "/readyz" {
		t.Error("StatefulSet: liveness must probe /healthz and readiness /readyz")
	}
	mounted := false
	for _, m := range get(ctr, "volumeMounts").([]any) {
		if get(m, "name") == "data" && get(m, "mountPath") == "/data" {
			mounted = true
		}
	}
	if !mounted {
		t.Error("StatefulSet: the data volume is not mounted at /data")
	}
	var args []string
	for _, a := range get(ctr, "args").([]any) {
		args = append(args, a.(string))
	}
	svcName, _ := get(sts, "spec", "serviceName").(string)
	if !slices.Contains(args, "--instance-id=$(POD_NAME)") ||
		!slices.Contains(args, "--advertise-http=$(POD_NAME)."+svcName+".$(POD_NAMESPACE).svc.cluster.local:8080") ||
		!slices.Contains(args, "--data=/data") || !slices.Contains(args, "--http=0.0.0.0:8080") {
		t.Errorf("StatefulSet args %v", args)
	}
	podName := false
	for _, e := range get(ctr, "env").([]any) {
		if get(e, "name") == "POD_NAME" && get(e, "valueFrom", "fieldRef", "fieldPath") == "metadata.name" {
			podName = true
		}
	}
	if !podName {
		t.Error("StatefulSet: POD_NAME must come from metadata.name")
	}
	if get(sts, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("StatefulSet: runAsNonRoot")
	}
	headless := false
	for _, svc := range byKind["Service"] {
		if !selects(get(svc, "spec", "selector")) {
			t.Errorf("Service %v does not select the StatefulSet's pods", get(svc, "metadata", "name"))
		}
		if get(svc, "metadata", "name") == svcName && get(svc, "spec", "clusterIP") == "None" {
			headless = true
		}
	}
	if !headless {
		t.Errorf("no headless Service named %q", svcName)
	}
	if len(byKind["PodDisruptionBudget"]) != 1 || !selects(get(byKind["PodDisruptionBudget"][0], "spec", "selector", "matchLabels")) {
		t.Error("want one PodDisruptionBudget selecting the StatefulSet's pods")
	}
	if get(sts, "spec", "template", "metadata", "annotations", "prometheus.io/scrape") != "true" && len(byKind["ServiceMonitor"]) == 0 {
		t.Error("no scrape annotations and no ServiceMonitor")
	}
}

// TestDeployDockerfile: a multi-stage build of a static binary onto a
// distroless or scratch image, run as a non-root user.
func TestDeployDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(deployDir, "docker", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	froms := regexp.MustCompile(`(?m)^FROM\s`).FindAllStringIndex(df, -1)
	if len(froms) < 2 {
		t.Error("Dockerfile: not multi-stage")
	}
	if !strings.Contains(df, "CGO_ENABLED=0") || !strings.Contains(df, "./cmd/stockledger") {
		t.Error("Dockerfile: want CGO_ENABLED=0 go build ./cmd/stockledger")
	}
	if !strings.Contains(df, "distroless") && !regexp.MustCompile(`(?m)^FROM\s+scratch`).MatchString(df) {
		t.Error("Dockerfile: final image should be distroless or scratch")
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(df)
	if user == nil || user[1] == "root" || strings.HasPrefix(user[1], "0") {
		t.Errorf("Dockerfile: USER %v, want non-root", user)
	}
}
