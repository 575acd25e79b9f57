package main

// Kafka security end to end: the binary's produce, run and tail through a
// broker that requires SASL (kfake, every mechanism; the real broker's
// SASL_PLAINTEXT listener in make test-kafka) or TLS with client
// certificates (kfake).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// saslArgs are the flags for a SASL user.
func saslArgs(mech, user, pass string) []string {
	return []string{"--sasl-mechanism", mech, "--sasl-user", user, "--sasl-password", pass}
}

// secureRoundTrip produces a generated stream with `produce` (produceArgs),
// folds it with `run` (runArgs), reads the outputs back with `tail`
// (tailArgs) and compares them with the model.
func secureRoundTrip(ctx context.Context, t *testing.T, cl *cluster, seed uint64, produceArgs, runArgs, tailArgs []string) {
	t.Helper()
	var lines [][]byte
	for _, l := range gen.Stream(gen.Config{Seed: seed, SKUs: 100, DupPct: 3, RefusePct: 3, Zipf: 1.1, PolicyChanges: []int{1000}}, 3000) {
		if !bytes.Contains(l, []byte(`"reason":"noop"`)) { // produce refuses these (see TestProduceTailCLI)
			lines = append(lines, l)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(file, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"produce", "--brokers", cl.brokers, "--topic-prefix", cl.prefix, "--partitions", strconv.Itoa(testPartitions), file}, produceArgs...)
	if out, errOut, code := cli(ctx, t, nil, args...); code != 0 {
		t.Fatalf("produce: exit %d\n%s%s", code, out, errOut)
	}
	exp := e2etest.Expect(lines)
	c := startRun(t, "run", cl, filepath.Join(dir, "data"), runArgs...)
	waitCaughtUp(ctx, t, c, cl.admin(t))
	c.terminate(t)
	cl.args = tailArgs
	got, alerts, deads := tailOutputs(ctx, t, cl)
	cl.args = nil
	for _, d := range e2etest.Compare(exp, got, false) {
		t.Error(d)
	}
	if alerts != len(exp.Model.Alerts()) || deads != len(exp.Model.DeadLetters()) || got.Updates == 0 {
		t.Errorf("tail printed %d updates, %d alerts, %d dead letters; model %d alerts, %d dead letters", got.Updates, alerts, deads, len(exp.Model.Alerts()), len(exp.Model.DeadLetters()))
	}
	t.Logf("%d events through produce, run and tail: %d updates, %d alerts, %d dead letters", len(lines), got.Updates, alerts, deads)
}

// refused runs produce with args and expects it to fail within a minute,
// its error containing every one of want.
func refused(ctx context.Context, t *testing.T, cl *cluster, what string, args []string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	line := `{"event_id":"sec-1","type":"receipt","sku":"SEC-A","occurred_at":"2026-11-28T09:00:00Z","location":"dc-east","qty":3}` + "\n"
	args = append([]string{"produce", "--brokers", cl.brokers, "--topic-prefix", cl.prefix, "-"}, args...)
	start := time.Now()
	_, errOut, code := cli(ctx, t, []byte(line), args...)
	if ctx.Err() != nil {
		t.Fatalf("%s: produce still running after %v", what, time.Since(start))
	}
	if code == 0 {
		t.Fatalf("%s: produce succeeded", what)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("%s: error lacks %q: %s", what, w, errOut)
		}
	}
	t.Logf("%s: exit %d after %v: %s", what, code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(errOut))
}

// TestSASLMechanismsCLI runs produce with PLAIN, run with SCRAM-SHA-256
// and tail with SCRAM-SHA-512 against kfake requiring SASL, and checks a
// wrong password fails clearly with each mechanism.
func TestSASLMechanismsCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(testPartitions), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", "plain-pw"),
		kfake.Superuser("SCRAM-SHA-256", "scram256-user", "scram256-pw"),
		kfake.Superuser("SCRAM-SHA-512", "scram512-user", "scram512-pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	cl := &cluster{brokers: kc.ListenAddrs()[0], prefix: processors.DefaultTopicPrefix, group: processors.DefaultConfig().Group,
		topics: processors.DefaultTopics(), opts: []kgo.Opt{kgo.SASL(scram.Auth{User: "scram512-user", Pass: "scram512-pw"}.AsSha512Mechanism())}}
	for _, m := range []struct{ mech, user string }{{"PLAIN", "plain-user"}, {"SCRAM-SHA-256", "scram256-user"}, {"SCRAM-SHA-512", "scram512-user"}} {
		// kfake closes the connection on refused credentials (Kafka
		// answers SASL_AUTHENTICATION_FAILED: TestSASLRealKafka).
		refused(ctx, t, cl, m.mech+" with a wrong password", saslArgs(m.mech, m.user, "wrong"),
			"refused the credentials", "check --sasl-mechanism, --sasl-user and the password")
	}
	secureRoundTrip(ctx, t, cl, testSeed(t),
		saslArgs("PLAIN", "plain-user", "plain-pw"),
		saslArgs("SCRAM-SHA-256", "scram256-user", "scram256-pw"),
		saslArgs("SCRAM-SHA-512", "scram512-user", "scram512-pw"))
}

// TestSASLRealKafka does the same on a real broker's SASL_PLAINTEXT
// listener (PLAIN): STOCKLEDGER_TEST_SASL_BROKERS, as make test-kafka sets
// it (deploy/kafka/kafka.sh's user stockledger / stockledger-secret,
// overridden by STOCKLEDGER_TEST_SASL_USER and _PASSWORD).
func TestSASLRealKafka(t *testing.T) {
	brokers := os.Getenv("STOCKLEDGER_TEST_SASL_BROKERS")
	if brokers == "" {
		t.Skip("STOCKLEDGER_TEST_SASL_BROKERS not set (make test-kafka sets it)")
	}
	user, pass := envOrDefault("STOCKLEDGER_TEST_SASL_USER", "stockledger"), envOrDefault("STOCKLEDGER_TEST_SASL_PASSWORD", "stockledger-secret")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	unique := fmt.Sprintf("sasl-%d", time.Now().UnixNano())
	cl := &cluster{brokers: brokers, prefix: "t-" + unique, group: "g-" + unique, topics: processors.TopicsWithPrefix("t-" + unique),
		opts: []kgo.Opt{kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())}}
	refused(ctx, t, cl, "PLAIN with a wrong password", saslArgs("PLAIN", user, "wrong"), "SASL_AUTHENTICATION_FAILED", "check --sasl-mechanism")
	// The password from a file and from the environment, too.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STOCKLEDGER_SASL_MECHANISM", "PLAIN")
	t.Setenv("STOCKLEDGER_SASL_USER", user)
	secureRoundTrip(ctx, t, cl, testSeed(t),
		[]string{"--sasl-password-file", pwFile},
		saslArgs("PLAIN", user, pass),
		[]string{"--sasl-password", pass})
}

func envOrDefault(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// TestTLSClientCertCLI runs produce, run and tail against kfake serving
// TLS and requiring client certificates signed by the test's CA; without
// the client certificate, or trusting another CA, produce fails clearly.
func TestTLSClientCertCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pki := newTestPKI(t)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(testPartitions), kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
		MinVersion:   tls.VersionTLS12,
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	client, err := tls.LoadX509KeyPair(pki.clientCert, pki.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{brokers: kc.ListenAddrs()[0], prefix: processors.DefaultTopicPrefix, group: processors.DefaultConfig().Group,
		topics: processors.DefaultTopics(), opts: []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{client}})}}

	other := newTestPKI(t)
	refused(ctx, t, cl, "trusting another CA", []string{"--tls-ca", other.caFile}, "certificate signed by unknown authority", "check --tls-ca")
	refused(ctx, t, cl, "wrong server name", []string{"--tls-ca", pki.caFile, "--tls-cert", pki.clientCert, "--tls-key", pki.clientKey,
		"--tls-server-name", "elsewhere.test"}, "elsewhere.test", "check --tls-ca and --tls-server-name")
	refused(ctx, t, cl, "without a client certificate", []string{"--tls-ca", pki.caFile}, "certificate")

	all := []string{"--tls-ca", pki.caFile, "--tls-cert", pki.clientCert, "--tls-key", pki.clientKey}
	secureRoundTrip(ctx, t, cl, testSeed(t), all, append(all, "--tls-server-name", "kafka.test"), all)
}

// testPKI is a CA, a broker certificate for 127.0.0.1 and kafka.test, and
// a client certificate, in memory and as PEM files.
type testPKI struct {
	pool                          *x509.CertPool
	server                        tls.Certificate
	caFile, clientCert, clientKey string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stockledger test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: dns}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = writePEM("ca.pem", "CERTIFICATE", caDER)
	srvDER, srvKey := issue(2, "kafka.test", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")}, []string{"kafka.test"})
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue(3, "stockledger-client", x509.ExtKeyUsageClientAuth, nil, nil)
	p.clientCert = writePEM("client.pem", "CERTIFICATE", cliDER)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = writePEM("client-key.pem", "PRIVATE KEY", keyDER)
	return p
}
