package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Markers around the generated configuration table in README.md.
const (
	tableBegin = "<!-- BEGIN run settings: generated from cmd/stockledger/config.go by TestREADMEConfigTable; STOCKLEDGER_UPDATE_README=1 rewrites it -->"
	tableEnd   = "<!-- END run settings -->"
)

// configTable renders run's settings as a Markdown table.
func configTable() string {
	// Defaults that depend on the machine or on other settings.
	shown := map[string]string{"instance-id": "the host name and a hash of `--data`", "advertise-http": "`--http`"}
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n| --- | --- | --- | --- |\n")
	for _, s := range defaultRunConfig().settings().list {
		def, ok := shown[s.name]
		if !ok {
			def = "`" + s.def + "`"
			if s.def == "" {
				def = "(empty)"
			}
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", s.name, s.env(), def, strings.ReplaceAll(s.doc, "|", `\|`))
	}
	return b.String()
}

// TestREADMEConfigTable fails when README.md's configuration table is not
// the one generated from run's settings.
func TestREADMEConfigTable(t *testing.T) {
	const path = "../../README.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, tableBegin), strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q and %q", tableBegin, tableEnd)
	}
	want := tableBegin + "\n\n" + configTable() + "\n" + tableEnd
	if readme[i:j+len(tableEnd)] == want {
		return
	}
	if os.Getenv("STOCKLEDGER_UPDATE_README") != "" {
		if err := os.WriteFile(path, []byte(readme[:i]+want+readme[j+len(tableEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("README.md's configuration table rewritten")
		return
	}
	t.Errorf("README.md's configuration table is out of date; run STOCKLEDGER_UPDATE_README=1 go test -run TestREADMEConfigTable ./cmd/stockledger/. It should be:\n%s", want)
}
