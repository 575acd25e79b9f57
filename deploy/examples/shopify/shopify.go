package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds what the adapter reads of one Shopify response.
const maxResponseBytes = 4 << 20

// setAvailableMutation sets absolute "available" quantities. The
// idempotency key is written into the query text (it is hex, so it needs
// no escaping) because that is the form Shopify documents for the
// @idempotent directive, required from API version 2026-04.
const setAvailableMutation = `mutation StockledgerSetAvailable($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) @idempotent(key: %q) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}`

// readAvailableQuery reads the "available" quantity of several inventory
// items at one location in one round trip (nodes is inventoryItem(id:)
// for a list of ids).
const readAvailableQuery = `query StockledgerReadAvailable($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) { name quantity }
      }
    }
  }
}`

// setQuantitiesInput is InventorySetQuantitiesInput.
type setQuantitiesInput struct {
	Name                 string          `json:"name"`
	Reason               string          `json:"reason"`
	ReferenceDocumentURI string          `json:"referenceDocumentUri"`
	Quantities           []quantityInput `json:"quantities"`
}

// quantityInput is InventoryQuantityInput. ChangeFromQuantity is the
// compare-and-set: Shopify applies the whole mutation only if every item
// holds its ChangeFromQuantity, and otherwise answers
// CHANGE_FROM_QUANTITY_STALE for the items that do not.
type quantityInput struct {
	InventoryItemID    string `json:"inventoryItemId"`
	LocationID         string `json:"locationId"`
	Quantity           int64  `json:"quantity"`
	ChangeFromQuantity int64  `json:"changeFromQuantity"`
}

// userError is InventorySetQuantitiesUserError. Field is the path to the
// input that caused it, e.g. ["input", "quantities", "2", "changeFromQuantity"].
type userError struct {
	Code    string   `json:"code"`
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

// throttledError is Shopify asking the adapter to slow down; the adapter
// passes it on to the publisher as 429 with Retry-After.
type throttledError struct{ retryAfter time.Duration }

func (e *throttledError) Error() string {
	return fmt.Sprintf("Shopify throttled the request (retry after %s)", e.retryAfter)
}

// upstreamError is Shopify failing (5xx) or not being reached: whether a
// mutation took effect is unknown, and the publisher should send again.
type upstreamError struct{ err error }

func (e *upstreamError) Error() string { return e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// shopifyClient calls one shop's GraphQL Admin API.
type shopifyClient struct {
	endpoint   string // https://SHOP.myshopify.com/admin/api/VERSION/graphql.json
	token      string
	locationID string
	http       *http.Client
}

// setAvailable runs inventorySetQuantities under idempotency key key and
// returns its userErrors.
func (c *shopifyClient) setAvailable(ctx context.Context, in setQuantitiesInput, key string) ([]userError, error) {
	var data struct {
		InventorySetQuantities *struct {
			UserErrors []userError `json:"userErrors"`
		} `json:"inventorySetQuantities"`
	}
	q := fmt.Sprintf(setAvailableMutation, key)
	if err := c.post(ctx, q, map[string]any{"input": in}, &data); err != nil {
		return nil, fmt.Errorf("inventorySetQuantities: %w", err)
	}
	if data.InventorySetQuantities == nil {
		return nil, errors.New("inventorySetQuantities: Shopify's answer has no inventorySetQuantities")
	}
	return data.InventorySetQuantities.UserErrors, nil
}

// readAvailable returns the "available" quantity of each inventory item at
// the client's location.
func (c *shopifyClient) readAvailable(ctx context.Context, ids []string) (map[string]int64, error) {
	var data struct {
		Nodes []*struct {
			ID             string `json:"id"`
			InventoryLevel *struct {
				Quantities []struct {
					Name     string `json:"name"`
					Quantity int64  `json:"quantity"`
				} `json:"quantities"`
			} `json:"inventoryLevel"`
		} `json:"nodes"`
	}
	vars := map[string]any{"ids": ids, "locationId": c.locationID}
	if err := c.post(ctx, readAvailableQuery, vars, &data); err != nil {
		return nil, fmt.Errorf("reading available quantities: %w", err)
	}
	if len(data.Nodes) != len(ids) {
		return nil, fmt.Errorf("reading available quantities: asked for %d inventory items, Shopify answered %d", len(ids), len(data.Nodes))
	}
	got := make(map[string]int64, len(ids))
	for i, n := range data.Nodes {
		switch {
		case n == nil || n.ID == "":
			return nil, &rejectedError{[]string{fmt.Sprintf("inventory item %s does not exist in the shop (check the mapping file)", ids[i])}}
		case n.InventoryLevel == nil:
			return nil, &rejectedError{[]string{fmt.Sprintf("inventory item %s is not stocked at location %s", ids[i], c.locationID)}}
		}
		found := false
		for _, q := range n.InventoryLevel.Quantities {
			if q.Name == "available" {
				got[ids[i]], found = q.Quantity, true
			}
		}
		if !found {
			return nil, fmt.Errorf("inventory item %s: Shopify's answer has no available quantity", ids[i])
		}
	}
	return got, nil
}

// graphQLResponse is the envelope of every GraphQL answer.
type graphQLResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
	Extensions struct {
		Cost *queryCost `json:"cost"`
	} `json:"extensions"`
}

// queryCost is Shopify's account of its leaky bucket, sent with every answer.
type queryCost struct {
	RequestedQueryCost float64 `json:"requestedQueryCost"`
	ThrottleStatus     struct {
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	} `json:"throttleStatus"`
}

// post sends one GraphQL request and decodes its data into data.
func (c *shopifyClient) post(ctx context.Context, query string, vars any, data any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return &upstreamError{err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return &upstreamError{fmt.Errorf("reading Shopify's answer: %w", err)}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return &throttledError{parseRetryAfter(resp.Header.Get("Retry-After"))}
	case resp.StatusCode >= 500:
		return &upstreamError{fmt.Errorf("status %s from Shopify", resp.Status)}
	case resp.StatusCode != http.StatusOK:
		// 401/403 (token, scopes), 404 (shop, API version): the adapter's
		// configuration, reported with what Shopify said about it.
		return fmt.Errorf("status %s from Shopify: %s", resp.Status, snippet(raw))
	}
	var r graphQLResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return &upstreamError{fmt.Errorf("decoding Shopify's answer: %w", err)}
	}
	return r.decode(data)
}

func (r *graphQLResponse) decode(data any) error {
	var msgs []string
	for _, e := range r.Errors {
		if e.Extensions.Code == "THROTTLED" {
			return &throttledError{r.Extensions.Cost.wait()}
		}
		msgs = append(msgs, e.Message)
	}
	if len(msgs) > 0 {
		return fmt.Errorf("GraphQL errors: %s", strings.Join(msgs, "; "))
	}
	if err := json.Unmarshal(r.Data, data); err != nil {
		return &upstreamError{fmt.Errorf("decoding Shopify's data: %w", err)}
	}
	return nil
}

// wait is how long until the bucket holds the cost that was refused.
func (c *queryCost) wait() time.Duration {
	if c == nil || c.ThrottleStatus.RestoreRate <= 0 {
		return time.Second
	}
	missing := c.RequestedQueryCost - c.ThrottleStatus.CurrentlyAvailable
	return max(time.Second, time.Duration(missing/c.ThrottleStatus.RestoreRate*float64(time.Second)))
}

// parseRetryAfter reads a Retry-After in seconds (Shopify sends "2.0");
// anything else waits a second.
func parseRetryAfter(v string) time.Duration {
	s, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || s <= 0 || math.IsInf(s, 0) || s > 3600 {
		return time.Second
	}
	return time.Duration(s * float64(time.Second))
}

func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}
