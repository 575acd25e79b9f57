package e2etest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// SchemaRegistry returns the schema registry an end-to-end test uses: the
// real Confluent-compatible registry named by STOCKLEDGER_TEST_REGISTRY_URL
// (make test-kafka starts Apicurio and sets it to its /apis/ccompat/v7),
// else franz-go's in-process fake (srfake, a real HTTP server). stop stops
// what it started.
func SchemaRegistry() (url string, real bool, stop func()) {
	if u := os.Getenv("STOCKLEDGER_TEST_REGISTRY_URL"); u != "" {
		return strings.TrimRight(u, "/"), true, func() {}
	}
	fake := srfake.New()
	return fake.URL(), false, fake.Close
}

// ThirdParty reads Confluent-framed messages the way a third-party tool
// does, sharing no code with stockledger: the schema id from the header,
// the schema from the registry's HTTP API (GET /schemas/ids/{id}, plain
// net/http), and goavro on the body.
type ThirdParty struct {
	URL    string
	codecs map[uint32]*goavro.Codec
	// Fetches counts the schema lookups made (one per id).
	Fetches int
}

// Decode returns the record in b and its schema id.
func (tp *ThirdParty) Decode(b []byte) (map[string]any, uint32, error) {
	if len(b) < 5 || b[0] != 0 {
		return nil, 0, fmt.Errorf("not in the Confluent wire format: % x", b[:min(len(b), 5)])
	}
	id := binary.BigEndian.Uint32(b[1:5])
	codec, err := tp.codec(id)
	if err != nil {
		return nil, id, err
	}
	native, rest, err := codec.NativeFromBinary(b[5:])
	if err != nil {
		return nil, id, fmt.Errorf("goavro with schema id %d: %w", id, err)
	}
	if len(rest) != 0 {
		return nil, id, fmt.Errorf("%d bytes after the record (schema id %d)", len(rest), id)
	}
	m, ok := native.(map[string]any)
	if !ok {
		return nil, id, fmt.Errorf("schema id %d is not a record", id)
	}
	return m, id, nil
}

// Schema returns the text of schema id, as the registry serves it.
func (tp *ThirdParty) Schema(id uint32) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(fmt.Sprintf("%s/schemas/ids/%d", tp.URL, id))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /schemas/ids/%d: %s: %s", id, resp.Status, body)
	}
	var s struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return "", fmt.Errorf("GET /schemas/ids/%d: %w", id, err)
	}
	if s.SchemaType != "" && s.SchemaType != "AVRO" {
		return "", fmt.Errorf("schema id %d is %s", id, s.SchemaType)
	}
	return s.Schema, nil
}

func (tp *ThirdParty) codec(id uint32) (*goavro.Codec, error) {
	if c, ok := tp.codecs[id]; ok {
		return c, nil
	}
	text, err := tp.Schema(id)
	if err != nil {
		return nil, err
	}
	tp.Fetches++
	c, err := goavro.NewCodec(text)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	if tp.codecs == nil {
		tp.codecs = map[uint32]*goavro.Codec{}
	}
	tp.codecs[id] = c
	return c, nil
}
