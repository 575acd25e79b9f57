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
	// Prometheus rules: parsed and every expr parsed as PromQL.
	pp := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile(filepath.Join(dir, "prometheus/alerts.yml"), false, model.UTF8Validation, pp, slog.Default())
	check(fmt.Sprintf("rulefmt.ParseFile alerts.yml (%d groups)", func() int {
		if groups == nil {
			return 0
		}
		return len(groups.Groups)
	}()), errors.Join(errs...))
	// Dashboard exprs, with Grafana's variables replaced.
	raw, _ := os.ReadFile(filepath.Join(dir, "grafana/stockledger-dashboard.json"))
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	check("dashboard json", json.Unmarshal(raw, &dash))
	n := 0
	for _, p := range dash.Panels {
		for _, t := range p.Targets {
			e := t.Expr
			e = replaceAll(e, map[string]string{"$__rate_interval": "1m", "$__range": "1h", "$job": ".*", "$instance": ".*"})
			if _, err := pp.ParseExpr(e); err != nil {
				check("promql "+p.Title, err)
			}
			n++
		}
	}
	fmt.Printf("ok   %d dashboard exprs parsed as PromQL\n", n)
	var err error

	// Compose: the compose-spec loader (what docker compose config uses), with schema validation.
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")}, cli.WithWorkingDirectory(dir), cli.WithOsEnv, cli.WithName("stockledger"))
	if err == nil {
		proj, err2 := opts.LoadProject(context.Background())
		err = err2
		if err == nil {
			out, _ := proj.MarshalYAML()
			_ = out
			fmt.Printf("     compose services: %v\n", proj.ServiceNames())
		}
	}
	check("compose-go load+validate compose.yaml", err)

	// Kubernetes: strict decode into the API types (unknown fields fail).
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
			var obj any
			switch meta.Kind {
			case "StatefulSet":
				obj = &appsv1.StatefulSet{}
			case "Deployment":
				obj = &appsv1.Deployment{}
			case "Service":
				obj = &corev1.Service{}
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			default:
				fmt.Printf("skip %s doc %d kind %q (no typed check)\n", filepath.Base(f), i, meta.Kind)
				continue
			}
			check(fmt.Sprintf("k8s strict %s doc %d %s", filepath.Base(f), i, meta.Kind), yaml.UnmarshalStrict(doc, obj))
		}
	}
	if fail {
		os.Exit(1)
	}
}
