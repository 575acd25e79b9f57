package main

import (
	"flag"

	"github.com/stockledger/stockledger/processors"
)

// addSchemaRegistryFlags binds the schema registry settings of every
// command that reads or writes Avro to c: --schema-registry-url,
// --schema-registry-user, --schema-registry-password (defaults from
// STOCKLEDGER_SCHEMA_REGISTRY_URL, _USER and _PASSWORD) and
// --schema-registry-timeout. The password is never shown (--help
// masks it); pass it in the environment rather than on the command line.
func addSchemaRegistryFlags(fs *flag.FlagSet, c *processors.SchemaRegistryConfig) {
	c.URL = envOr("STOCKLEDGER_SCHEMA_REGISTRY_URL", c.URL)
	c.Username = envOr("STOCKLEDGER_SCHEMA_REGISTRY_USER", c.Username)
	c.Password = envOr("STOCKLEDGER_SCHEMA_REGISTRY_PASSWORD", c.Password)
	fs.StringVar(&c.URL, "schema-registry-url", c.URL, "schema registry mode: frame Avro in the Confluent wire format with schema ids from this Confluent-compatible registry (e.g. http://127.0.0.1:8081, or Apicurio's http://HOST:8080/apis/ccompat/v7); empty: single-object encoding")
	fs.StringVar(&c.Username, "schema-registry-user", c.Username, "schema registry basic-auth user")
	fs.Var((*secret)(&c.Password), "schema-registry-password", "schema registry basic-auth password (prefer STOCKLEDGER_SCHEMA_REGISTRY_PASSWORD: flags show in ps)")
	fs.DurationVar(&c.Timeout, "schema-registry-timeout", c.Timeout, "timeout of one schema registry request (0: 10s)")
}

// secret is a flag value that never shows itself.
type secret string

func (s *secret) String() string {
	if s == nil || *s == "" {
		return ""
	}
	return "********"
}

func (s *secret) Set(v string) error { *s = secret(v); return nil }
