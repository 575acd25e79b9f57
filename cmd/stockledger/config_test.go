package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envMap is a lookup function over a fixed environment.
func envMap(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestRunConfigSources checks where each setting's value comes from:
// defaults, then STOCKLEDGER_* variables, then flags.
func TestRunConfigSources(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("  file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type want struct {
		brokers    []string
		partitions int32
		exactly    bool
		session    time.Duration
		token      string
		advertise  string
		sources    map[string]string // setting -> source
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want want
	}{
		{
			name: "defaults",
			want: want{partitions: 8, session: 45 * time.Second, advertise: "127.0.0.1:8080",
				sources: map[string]string{"brokers": fromDefault, "partitions": fromDefault, "http-token": fromDefault}},
		},
		{
			name: "env only",
			env: []string{"STOCKLEDGER_BROKERS", "k1:9092, k2:9092", "STOCKLEDGER_PARTITIONS", "12", "STOCKLEDGER_EXACTLY_ONCE", "true",
				"STOCKLEDGER_SESSION_TIMEOUT", "20s", "STOCKLEDGER_HTTP_TOKEN", "env-token", "STOCKLEDGER_HTTP", "0.0.0.0:9000"},
			want: want{brokers: []string{"k1:9092", "k2:9092"}, partitions: 12, exactly: true, session: 20 * time.Second, token: "env-token",
				advertise: "0.0.0.0:9000", sources: map[string]string{"brokers": fromEnv, "partitions": fromEnv, "exactly-once": fromEnv, "http-token": fromEnv}},
		},
		{
			name: "flags override env",
			env:  []string{"STOCKLEDGER_BROKERS", "k1:9092", "STOCKLEDGER_PARTITIONS", "12", "STOCKLEDGER_EXACTLY_ONCE", "true", "STOCKLEDGER_SESSION_TIMEOUT", "20s"},
			args: []string{"--brokers", "f1:9092", "--partitions=3", "--exactly-once=false", "--session-timeout", "7s", "--http-token-file", tokenFile, "--advertise-http", "me:1"},
			want: want{brokers: []string{"f1:9092"}, partitions: 3, session: 7 * time.Second, token: "file-token", advertise: "me:1",
				sources: map[string]string{"brokers": fromFlag, "partitions": fromFlag, "exactly-once": fromFlag, "session-timeout": fromFlag, "http-token": fromDefault}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ss, _, err := loadRunConfig(tc.args, envMap(tc.env...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			got := want{brokers: c.Processor.Brokers, partitions: c.Processor.Partitions, exactly: c.Processor.ExactlyOnce,
				session: c.SessionTimeout, token: c.HTTP.Token, advertise: c.Processor.AdvertiseHTTP, sources: map[string]string{}}
			for name := range tc.want.sources {
				got.sources[name] = ss.get(name).src
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestRunConfigReportsEveryProblem gives run many bad settings, from the
// environment and from flags, and expects one error naming each flag and
// variable.
func TestRunConfigReportsEveryProblem(t *testing.T) {
	env := envMap("STOCKLEDGER_PARTITIONS", "abc", "STOCKLEDGER_MAX_BATCH_RECORDS", "0", "STOCKLEDGER_SASL_PASSWORD", "pw")
	args := []string{"--brokers", "k1:9092", "--session-timeout", "-1s", "--log-level", "loud", "--sasl-mechanism", "GSSAPI",
		"--sasl-user", "u", "--tls-cert", "c.pem", "--http", "8080", "--id-retention", "1h", "--shutdown-timeout", "soon",
		"--http-max-concurrent", "0"}
	_, _, _, err := loadRunConfig(args, env, io.Discard)
	if err == nil {
		t.Fatal("no error")
	}
	if !errUsageCode(err) {
		t.Errorf("error %v is not a usage error (status 2)", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`STOCKLEDGER_PARTITIONS="abc": not a 32-bit integer`,
		`--max-batch-records (STOCKLEDGER_MAX_BATCH_RECORDS): 0 must be at least 1`,
		`--session-timeout (STOCKLEDGER_SESSION_TIMEOUT): -1s must be positive`,
		`--log-level (STOCKLEDGER_LOG_LEVEL): "loud"`,
		`--sasl-mechanism (STOCKLEDGER_SASL_MECHANISM): "GSSAPI": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`,
		`--tls-key (STOCKLEDGER_TLS_KEY): required with --tls-cert`,
		`--http (STOCKLEDGER_HTTP): "8080" is not host:port`,
		`--id-retention (STOCKLEDGER_ID_RETENTION): 1h0m0s is under the 24h minimum`,
		`--shutdown-timeout "soon": not a duration`,
		`--http-max-concurrent (STOCKLEDGER_HTTP_MAX_CONCURRENT): 0 must be at least 1`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if n := strings.Count(msg, "\n") + 1; n != 10 {
		t.Errorf("%d problems reported, want 10:\n%s", n, msg)
	}
	if strings.Contains(msg, "pw") {
		t.Errorf("error shows the password:\n%s", msg)
	}
}

func errUsageCode(err error) bool {
	ee, ok := err.(exitError)
	return ok && ee.code == 2
}

// TestRunConfigEmbeddedRefusesSecurity: the embedded broker has no TLS or
// SASL, so asking for them without --brokers is an error, not ignored.
func TestRunConfigEmbeddedRefusesSecurity(t *testing.T) {
	_, _, _, err := loadRunConfig([]string{"--sasl-mechanism", "PLAIN", "--sasl-user", "u", "--sasl-password", "p"}, envMap(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--brokers (STOCKLEDGER_BROKERS): required with TLS or SASL") {
		t.Fatalf("got %v", err)
	}
}

// TestPrintConfig runs the binary with --print-config: every setting with
// its source, secrets masked, exit 0, nothing started.
func TestPrintConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, binPath, "run", "--print-config", "--http-token", "tok-s3cret", "--group", "g7", "--data", "/nonexistent/never-created")
	cmd.Env = append(os.Environ(), "STOCKLEDGER_BROKERS=k1:9092", "STOCKLEDGER_SASL_MECHANISM=SCRAM-SHA-256",
		"STOCKLEDGER_SASL_USER=alice", "STOCKLEDGER_SASL_PASSWORD=env-s3cret", "STOCKLEDGER_GROUP=from-env",
		"STOCKLEDGER_SCHEMA_REGISTRY_URL=http://reg:8081", "STOCKLEDGER_SCHEMA_REGISTRY_USER=bob", "STOCKLEDGER_SCHEMA_REGISTRY_PASSWORD=reg-s3cret")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run --print-config: %v\n%s", err, out)
	}
	lines := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		lines[f[0]] = f[1:]
	}
	c := defaultRunConfig()
	if len(lines) != len(c.settings().list) {
		t.Errorf("%d settings printed, want %d:\n%s", len(lines), len(c.settings().list), out)
	}
	for name, want := range map[string]string{
		"brokers":                  `"k1:9092" # env STOCKLEDGER_BROKERS`,
		"group":                    `"g7" # flag --group`,
		"sasl-user":                `"alice" # env STOCKLEDGER_SASL_USER`,
		"sasl-password":            `"*****" # env STOCKLEDGER_SASL_PASSWORD`,
		"http-token":               `"*****" # flag --http-token`,
		"partitions":               `"8" # default`,
		"sasl-mechanism":           `"SCRAM-SHA-256" # env STOCKLEDGER_SASL_MECHANISM`,
		"schema-registry-url":      `"http://reg:8081" # env STOCKLEDGER_SCHEMA_REGISTRY_URL`,
		"schema-registry-user":     `"bob" # env STOCKLEDGER_SCHEMA_REGISTRY_USER`,
		"schema-registry-password": `"*****" # env STOCKLEDGER_SCHEMA_REGISTRY_PASSWORD`,
		"schema-registry-timeout":  `"0s" # default`,
	} {
		if got := strings.Join(lines[name], " "); got != want {
			t.Errorf("%s: printed %q, want %q", name, got, want)
		}
	}
	for _, secret := range []string{"tok-s3cret", "env-s3cret", "reg-s3cret"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("--print-config shows the secret %q:\n%s", secret, out)
		}
	}
	if _, err := os.Stat("/nonexistent/never-created"); err == nil {
		t.Error("--print-config created the data directory")
	}

	// A bad environment value is an error naming the variable (status 2).
	cmd = exec.CommandContext(ctx, binPath, "run", "--print-config")
	cmd.Env = append(os.Environ(), "STOCKLEDGER_PARTITIONS=abc")
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `STOCKLEDGER_PARTITIONS="abc": not a 32-bit integer`) {
		t.Errorf("STOCKLEDGER_PARTITIONS=abc: %v\n%s", err, out)
	}
}

// TestKafkaSecuritySettingsEveryCommand checks every command that talks to
// Kafka takes the TLS and SASL settings and checks them before connecting.
func TestKafkaSecuritySettingsEveryCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, args := range [][]string{
		{"produce", "-"}, {"tail", "updates"}, {"policy", "set", "--channel", "web"}, {"replay"}, {"history", "SKU-1"},
		{"verify"}, {"backtest", "--policies", "p.jsonl"},
	} {
		args = append(args, "--brokers", "127.0.0.1:1", "--sasl-mechanism", "SCRAM-SHA-1", "--sasl-user", "u", "--tls-ca", "/no/such/ca.pem")
		_, stderr, code := inproc(ctx, args...)
		if code != 2 || !strings.Contains(stderr, `--sasl-mechanism (STOCKLEDGER_SASL_MECHANISM): "SCRAM-SHA-1"`) ||
			!strings.Contains(stderr, "--tls-ca (STOCKLEDGER_TLS_CA): open /no/such/ca.pem") {
			t.Errorf("%s: exit %d, stderr:\n%s", args[0], code, stderr)
		}
	}
}
