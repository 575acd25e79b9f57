package processors

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/stockledger/stockledger/schemas"
)

// SchemaRegistryConfig turns on schema registry mode: the Avro messages
// stockledger writes are framed in the Confluent wire format (0x00, the
// schema's 4-byte id, the body) with ids from a Confluent-compatible
// schema registry, so Confluent, Redpanda or Apicurio tooling reads the
// topics. Readers accept both framings either way. The zero value (no
// URL) is off: Avro single-object encoding, no registry.
type SchemaRegistryConfig struct {
	// URL is the registry's base URL, e.g. http://127.0.0.1:8081
	// (Confluent, Redpanda) or http://127.0.0.1:8080/apis/ccompat/v7
	// (Apicurio). Empty: off.
	URL string
	// Username and Password are HTTP basic-auth credentials; empty: none.
	// Password is a secret: Redacted masks it.
	Username string
	Password string
	// Timeout bounds one request to the registry. Default 10s.
	Timeout time.Duration
}

// Enabled reports whether schema registry mode is on.
func (c *SchemaRegistryConfig) Enabled() bool { return c.URL != "" }

// Validate reports every problem with c at once.
func (c *SchemaRegistryConfig) Validate() error {
	var errs []error
	for _, e := range c.problems() {
		errs = append(errs, errors.New(e.what+": "+e.problem))
	}
	return errors.Join(errs...)
}

// registryProblem is one problem with a SchemaRegistryConfig: field is
// the field's name (Config.Validate reports it as SchemaRegistry.field, so
// a command names its flag), what the setting as Validate names it.
type registryProblem struct {
	field, what, problem string
}

// problems lists every problem with c.
func (c *SchemaRegistryConfig) problems() []registryProblem {
	var out []registryProblem
	bad := func(field, what, f string, a ...any) {
		out = append(out, registryProblem{field, what, fmt.Sprintf(f, a...)})
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil:
			bad("URL", "schema registry url", "%v", err)
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("URL", "schema registry url", "%q is not an http:// or https:// URL", c.URL)
		case u.User != nil:
			bad("URL", "schema registry url", "put credentials in the user and password settings, not the URL")
		}
	}
	if c.URL == "" && (c.Username != "" || c.Password != "") {
		field := "Username"
		if c.Username == "" {
			field = "Password"
		}
		bad(field, "schema registry user/password", "given without a schema registry url")
	}
	if c.Password != "" && c.Username == "" {
		bad("Password", "schema registry password", "given without a user")
	}
	if c.Timeout < 0 {
		bad("Timeout", "schema registry timeout", "%v is negative", c.Timeout)
	}
	return out
}

// Redacted returns c with the password masked, for showing settings.
func (c SchemaRegistryConfig) Redacted() SchemaRegistryConfig {
	if c.Password != "" {
		c.Password = "********"
	}
	return c
}

func (c *SchemaRegistryConfig) client() (*schemas.RegistryClient, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return schemas.NewRegistryClient(schemas.RegistryClientConfig{
		URL: c.URL, Username: c.Username, Password: c.Password, Timeout: c.Timeout,
	})
}

// Schemas returns a schema registry for readers (tail, audits): the
// embedded schemas, and, when c is on, writer schemas looked up by id in
// the schema registry. It does not contact the registry.
func (c *SchemaRegistryConfig) Schemas() (*schemas.Registry, error) {
	reg := schemas.NewRegistry()
	if !c.Enabled() {
		return reg, nil
	}
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	reg.UseSchemaLookup(cl, c.Timeout)
	return reg, nil
}

// Connect prepares a writer (the processor, produce, policy set, the
// demo). When c is on, it makes reg look writer schemas up by id in the
// registry, registers the current schemas of the topics t names (empty
// names are skipped) with compatibility BACKWARD, and returns the Framing
// that writes the Confluent wire format with their ids. When c is off it
// returns a nil Framing: single-object encoding.
func (c *SchemaRegistryConfig) Connect(ctx context.Context, reg *schemas.Registry, t Topics) (*schemas.Framing, error) {
	if !c.Enabled() {
		return nil, nil
	}
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	reg.UseSchemaLookup(cl, c.Timeout)
	f, err := cl.Register(ctx, reg, schemas.RegistryTopics{
		Events: t.Events, Updates: t.Updates, Alerts: t.Alerts, DeadLetters: t.DeadLetters, HoldResults: t.HoldResults, Listings: t.Listings,
	})
	if err != nil {
		return nil, fmt.Errorf("%w (at %s)", err, c.URL)
	}
	return f, nil
}
