package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// kafkaSecurity is how a command reaches Kafka: TLS and SASL. Every command
// that talks to Kafka has these settings (addKafkaSecurity).
type kafkaSecurity struct {
	// TLS encrypts connections to the brokers, verifying them against the
	// system's roots unless TLSCA names a CA bundle. Any other tls-* setting
	// turns it on too.
	TLS bool
	// TLSCA is a PEM file of the CA certificates that sign the brokers'.
	TLSCA string
	// TLSCert and TLSKey are PEM files of the client's certificate and
	// (unencrypted) key, for brokers that require client certificates.
	TLSCert, TLSKey string
	// TLSServerName is the name the brokers' certificates must carry,
	// when it differs from the host in the broker address.
	TLSServerName string
	// TLSInsecureSkipVerify accepts any broker certificate (testing only).
	TLSInsecureSkipVerify bool
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: none.
	SASLMechanism string
	// SASLUser and SASLPassword are the SASL credentials; the password may
	// instead be read from SASLPasswordFile (kept off the command line).
	SASLUser, SASLPassword, SASLPasswordFile string
}

// add declares the Kafka security settings.
func (k *kafkaSecurity) add(ss *settings) {
	ss.add("tls", boolVal(&k.TLS), "connect to Kafka over TLS (implied by any other --tls-* setting)")
	ss.add("tls-ca", strVal(&k.TLSCA), "PEM file of the CA certificates that sign the brokers' certificates (default: the system's roots)")
	ss.add("tls-cert", strVal(&k.TLSCert), "PEM file of this client's certificate, for brokers that require one (with --tls-key)")
	ss.add("tls-key", strVal(&k.TLSKey), "PEM file of this client's private key, unencrypted (with --tls-cert)")
	ss.add("tls-server-name", strVal(&k.TLSServerName), "name the brokers' certificates must carry (default: the host of each broker address)")
	ss.add("tls-insecure-skip-verify", boolVal(&k.TLSInsecureSkipVerify), "accept any broker certificate: encryption without authentication, for testing only")
	ss.add("sasl-mechanism", strVal(&k.SASLMechanism), "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	ss.add("sasl-user", strVal(&k.SASLUser), "SASL user name")
	ss.addSecret("sasl-password", strVal(&k.SASLPassword), "SASL password (prefer --sasl-password-file or the environment: command lines are visible to other users)")
	ss.add("sasl-password-file", strVal(&k.SASLPasswordFile), "file holding the SASL password (one line; surrounding white space is ignored)")
}

// kafkaFlags are the Kafka security settings of a command other than run
// (run has them in its runConfig).
type kafkaFlags struct {
	sec kafkaSecurity
	ss  settings
}

// addKafkaFlags declares the Kafka security settings on fs and reads their
// environment variables.
func addKafkaFlags(fs *flag.FlagSet) *kafkaFlags {
	k := &kafkaFlags{}
	k.sec.add(&k.ss)
	k.ss.bind(fs, os.LookupEnv)
	return k
}

// opts returns the franz-go options, or every problem with the settings
// (a usage error: exit status 2).
func (k *kafkaFlags) opts() ([]kgo.Opt, error) {
	o, errs := k.sec.opts(&k.ss)
	if err := k.ss.err(errs...); err != nil {
		return nil, exitError{2, err}
	}
	return o, nil
}

// connect returns the franz-go options after checking, with SASL, that
// the brokers accept the credentials (checkSASL).
func (k *kafkaFlags) connect(ctx context.Context, brokers []string) ([]kgo.Opt, error) {
	o, err := k.opts()
	if err != nil {
		return nil, err
	}
	if k.sec.SASLMechanism != "" {
		err = checkSASL(ctx, brokers, o)
	}
	return o, err
}

// checkSASL connects to a broker once and fails at once if it refuses the
// SASL credentials. Kafka answers SASL_AUTHENTICATION_FAILED, which the
// client does not retry; but a broker may instead close the connection
// (kfake does), which looks like a network error the client retries until
// its request timeout, and then reports as "EOF". Other failures (no
// broker up yet) are left to the command's own client and its retries.
func checkSASL(ctx context.Context, brokers []string, opts []kgo.Opt) error {
	var w saslWatch
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.WithHooks(&w)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = cl.Ping(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism):
		return explainKafkaErr(err)
	case w.failed.Load():
		return fmt.Errorf("SASL authentication with %s: the broker closed the connection (%v): it refused the credentials; check --sasl-mechanism, --sasl-user and the password", strings.Join(brokers, ","), err)
	}
	return nil
}

// saslWatch notes a SASL authentication request that got no answer.
type saslWatch struct{ failed atomic.Bool }

func (w *saslWatch) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if key == int16(kmsg.SASLAuthenticate) && e.Err() != nil {
		w.failed.Store(true)
	}
}

// opts returns the franz-go options for k, or every problem with it, each
// naming its setting. ss must hold k's settings.
func (k *kafkaSecurity) opts(ss *settings) ([]kgo.Opt, []error) {
	var errs []error
	bad := func(name, f string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", ss.get(name).label(), fmt.Sprintf(f, a...)))
	}
	var opts []kgo.Opt
	if tc, tlsErrs := k.tlsConfig(ss); len(tlsErrs) > 0 {
		errs = append(errs, tlsErrs...)
	} else if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	mech := strings.ToUpper(k.SASLMechanism)
	pass := k.SASLPassword
	if k.SASLPasswordFile != "" {
		if k.SASLPassword != "" {
			bad("sasl-password-file", "give the password or its file, not both")
		}
		b, err := os.ReadFile(k.SASLPasswordFile)
		switch {
		case err != nil:
			bad("sasl-password-file", "%v", err)
		case len(strings.TrimSpace(string(b))) == 0:
			bad("sasl-password-file", "%s is empty", k.SASLPasswordFile)
		}
		pass = strings.TrimSpace(string(b))
	}
	if mech == "" {
		if k.SASLUser != "" || pass != "" {
			bad("sasl-mechanism", "required with --sasl-user or a password (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return opts, errs
	}
	if k.SASLUser == "" {
		bad("sasl-user", "required with --sasl-mechanism %s", mech)
	}
	if pass == "" && k.SASLPasswordFile == "" {
		bad("sasl-password", "required with --sasl-mechanism %s (or --sasl-password-file)", mech)
	}
	var m sasl.Mechanism
	switch mech {
	case "PLAIN":
		m = plain.Auth{User: k.SASLUser, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		m = scram.Auth{User: k.SASLUser, Pass: pass}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		m = scram.Auth{User: k.SASLUser, Pass: pass}.AsSha512Mechanism()
	default:
		bad("sasl-mechanism", "%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k.SASLMechanism)
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, errs
}

// enabled reports whether any TLS or SASL setting is given.
func (k *kafkaSecurity) enabled() bool { return *k != kafkaSecurity{} }

// tlsConfig returns the TLS configuration, nil without TLS.
func (k *kafkaSecurity) tlsConfig(ss *settings) (*tls.Config, []error) {
	if !k.TLS && k.TLSCA == "" && k.TLSCert == "" && k.TLSKey == "" && k.TLSServerName == "" && !k.TLSInsecureSkipVerify {
		return nil, nil
	}
	var errs []error
	bad := func(name, f string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", ss.get(name).label(), fmt.Sprintf(f, a...)))
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: k.TLSServerName, InsecureSkipVerify: k.TLSInsecureSkipVerify}
	if k.TLSCA != "" {
		pem, err := os.ReadFile(k.TLSCA)
		if err != nil {
			bad("tls-ca", "%v", err)
		} else {
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				bad("tls-ca", "%s holds no PEM certificate", k.TLSCA)
			}
		}
	}
	switch {
	case k.TLSCert != "" && k.TLSKey != "":
		cert, err := tls.LoadX509KeyPair(k.TLSCert, k.TLSKey)
		if err != nil {
			bad("tls-cert", "loading the client certificate and key: %v", err)
		} else {
			tc.Certificates = []tls.Certificate{cert}
		}
	case k.TLSCert != "":
		bad("tls-key", "required with --tls-cert")
	case k.TLSKey != "":
		bad("tls-cert", "required with --tls-key")
	}
	return tc, errs
}

// explainKafkaErr adds what to check to errors whose cause is the
// connection's security.
func explainKafkaErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("%w (check --sasl-mechanism, --sasl-user and the password)", err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("%w (the broker does not offer this --sasl-mechanism)", err)
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w (check --tls-ca and --tls-server-name)", err)
	}
	return err
}
