package schemas

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/stockledger/stockledger/ledger"
)

// RegistryClientConfig says how to reach a Confluent-compatible schema
// registry.
type RegistryClientConfig struct {
	// URL is the registry's base URL: http://host:8081 for Confluent or
	// Redpanda, http://host:8080/apis/ccompat/v7 for Apicurio.
	URL string
	// Username and Password are HTTP basic-auth credentials; empty: none.
	Username, Password string
	// Timeout bounds one HTTP request. Default 10s.
	Timeout time.Duration
}

// RegistryClient talks to a Confluent-compatible schema registry through
// franz-go's sr client: it registers the current schemas (Register) and
// fetches writer schemas by id (SchemaByID, a SchemaLookup).
type RegistryClient struct {
	cl *sr.Client
}

// NewRegistryClient returns a client; it does not contact the registry.
func NewRegistryClient(c RegistryClientConfig) (*RegistryClient, error) {
	if c.URL == "" {
		return nil, errors.New("schema registry: no URL")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	opts := []sr.ClientOpt{
		sr.URLs(c.URL),
		sr.HTTPClient(&http.Client{Timeout: timeout}),
		sr.UserAgent("stockledger"),
	}
	if c.Username != "" || c.Password != "" {
		opts = append(opts, sr.BasicAuth(c.Username, c.Password))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return &RegistryClient{cl: cl}, nil
}

// SchemaByID fetches the text of schema id (GET /schemas/ids/{id}). A
// registry answer of "not found", or a schema that is not Avro, is an
// error wrapping ErrUnusableSchema.
func (c *RegistryClient) SchemaByID(ctx context.Context, id uint32) (string, error) {
	s, err := c.cl.SchemaByID(ctx, int(id))
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return "", fmt.Errorf("%w: schema id %d is not in the schema registry (%s)", ErrUnusableSchema, id, re.Error())
		}
		return "", err
	}
	if s.Type != sr.TypeAvro {
		return "", fmt.Errorf("%w: schema id %d is a %s schema, not Avro", ErrUnusableSchema, id, s.Type)
	}
	if len(s.References) > 0 {
		return "", fmt.Errorf("%w: schema id %d has references, which stockledger does not resolve", ErrUnusableSchema, id)
	}
	return s.Schema, nil
}

// Register registers the current schemas of the topics named in t under
// their subjects (ValueSubject for the outputs, EventSubject for each
// event type), first setting each subject's compatibility to BACKWARD (a
// new version must read what the previous one wrote). It records the ids
// in reg, so messages with them decode without asking the registry, and
// returns the Framing that writes them. An incompatible schema (HTTP 409)
// or an unreachable registry is an error: writers do not start.
func (c *RegistryClient) Register(ctx context.Context, reg *Registry, t RegistryTopics) (*Framing, error) {
	type item struct {
		subject, text string
		dst           *schemaID
	}
	f := &Framing{events: make([]schemaID, len(current.events))}
	var items []item
	if t.Events != "" {
		for _, et := range ledger.EventTypes() {
			items = append(items, item{EventSubject(t.Events, et), current.events[et].text, &f.events[et]})
		}
	}
	for _, o := range []struct {
		topic, text string
		dst         *schemaID
	}{
		{t.Updates, current.update.text, &f.update},
		{t.Alerts, current.alert.text, &f.alert},
		{t.DeadLetters, current.deadLetter.text, &f.deadLetter},
		{t.HoldResults, current.holdResult.text, &f.holdResult},
		{t.Listings, current.listingBinding.text, &f.listingBinding},
	} {
		if o.topic != "" {
			items = append(items, item{ValueSubject(o.topic), o.text, o.dst})
		}
	}
	subjects := make([]string, len(items))
	for i, it := range items {
		subjects[i] = it.subject
	}
	for _, res := range c.cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subjects...) {
		if res.Err != nil {
			return nil, fmt.Errorf("schema registry: setting compatibility BACKWARD on subject %s: %w", res.Subject, res.Err)
		}
	}
	for _, it := range items {
		id, err := c.cl.RegisterSchema(ctx, it.subject, sr.Schema{Schema: it.text, Type: sr.TypeAvro}, -1, -1)
		if err != nil {
			return nil, fmt.Errorf("schema registry: registering subject %s: %w", it.subject, err)
		}
		if id < 0 || int64(id) > int64(^uint32(0)) {
			return nil, fmt.Errorf("schema registry: subject %s: id %d does not fit the 4-byte Confluent header", it.subject, id)
		}
		if _, err := reg.AddSchemaID(uint32(id), it.text); err != nil {
			return nil, fmt.Errorf("schema registry: subject %s (id %s): %w", it.subject, strconv.Itoa(id), err)
		}
		*it.dst = schemaID{id: uint32(id), ok: true}
	}
	return f, nil
}
