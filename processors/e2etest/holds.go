package e2etest

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// PostHold posts a hold request body to the checkout API at base (an
// instance's http://host:port) and returns the status and body; status 0
// when no answer came (the instance is down, or ctx ended).
func PostHold(ctx context.Context, hc *http.Client, base string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/holds", bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, b
}
