// Command validate checks deploy/ offline with the parsers the tools
// themselves use: Prometheus' rulefmt and PromQL parser (alerts.yml and
// every dashboard query), the compose-spec loader behind `docker compose
// config` (compose.yaml, with schema validation) and a strict decode of the
// Kubernetes manifests into the k8s.io/api types (unknown fields fail).
//
//	cd deploy/validate && go run .
//
// It is its own module so the main module does not depend on Prometheus,
// compose-go or the Kubernetes API packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/common/model"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"encoding/json"
	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// dir is deploy/, given as the first argument (default: the parent of the working directory).
var dir = ".."

func main() {
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	fail := false
	check := func(what string, err error) {
		if err != nil {
			fail = true
			fmt.Printf("FAIL %s: %v\n", what, err)
		} else {
			fmt.Printf("ok   %s\n", what)
		}
	}
	checkPrometheus(check)
	checkCompose(check)
	checkKubernetes(check)
	if fail {
		os.Exit(1)
	}
}

// checkPrometheus parses the rules (every expr as PromQL) and the
// dashboard's queries, with Grafana's variables replaced.
func checkPrometheus(check func(string, error)) {
	pp := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile(filepath.Join(dir, "prometheus/alerts.yml"), false, model.UTF8Validation, pp, slog.Default())
	n := 0
	if groups != nil {
		n = len(groups.Groups)
	}
	check(fmt.Sprintf("rulefmt.ParseFile alerts.yml (%d groups)", n), errors.Join(errs...))
	raw, _ := os.ReadFile(filepath.Join(dir, "grafana/stockledger-dashboard.json"))
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	check("dashboard json", json.Unmarshal(raw, &dash))
	n = 0
	for _, p := range dash.Panels {
		for _, t := range p.Targets {
			e := replaceAll(t.Expr, map[string]string{"$__rate_interval": "1m", "$__range": "1h", "$job": ".*", "$instance": ".*"})
			if _, err := pp.ParseExpr(e); err != nil {
				check("promql "+p.Title, err)
			}
			n++
		}
	}
	fmt.Printf("ok   %d dashboard exprs parsed as PromQL\n", n)
}

// checkCompose loads compose.yaml with the compose-spec loader (what
// docker compose config uses), with schema validation.
func checkCompose(check func(string, error)) {
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")}, cli.WithWorkingDirectory(dir), cli.WithOsEnv, cli.WithName("stockledger"))
	if err == nil {
		var proj *types.Project
		if proj, err = opts.LoadProject(context.Background()); err == nil {
			fmt.Printf("     compose services: %v\n", proj.ServiceNames())
		}
	}
	check("compose-go load+validate compose.yaml", err)
}

// checkKubernetes decodes every manifest strictly into the API types
// (unknown fields fail).
func checkKubernetes(check func(string, error)) {
	files, _ := filepath.Glob(filepath.Join(dir, "k8s/*.yaml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		r := utilyaml.NewYAMLReader(bufioReader(b))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			var meta struct{ Kind string }
			yaml.Unmarshal(doc, &meta)
			obj := typedObject(meta.Kind)
			if obj == nil {
				fmt.Printf("skip %s doc %d kind %q (no typed check)\n", filepath.Base(f), i, meta.Kind)
				continue
			}
			check(fmt.Sprintf("k8s strict %s doc %d %s", filepath.Base(f), i, meta.Kind), yaml.UnmarshalStrict(doc, obj))
		}
	}
}

// typedObject is the API type of kind, nil for a kind not checked.
func typedObject(kind string) any {
	switch kind {
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	case "Deployment":
		return &appsv1.Deployment{}
	case "Service":
		return &corev1.Service{}
	case "ConfigMap":
		return &corev1.ConfigMap{}
	case "PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	}
	return nil
}
