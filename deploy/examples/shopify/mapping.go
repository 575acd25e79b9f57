package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/stockledger/stockledger/processors/publish"
)

// maxMappingLineBytes bounds one line of the mapping file.
const maxMappingLineBytes = 64 << 10

// maxMappingProblems bounds how many problems a bad mapping file reports:
// enough to fix a batch of lines at once, not a screenful per line of a
// file in the wrong format.
const maxMappingProblems = 20

// inventoryItemPrefix starts every Shopify inventory item GID.
const inventoryItemPrefix = "gid://shopify/InventoryItem/"

// mappingLine is one line of the mapping file: which Shopify inventory
// item holds the stock of a SKU, or of one listing of it.
type mappingLine struct {
	SKU             string  `json:"sku"`
	ListingSKU      *string `json:"listing_sku"`
	InventoryItemID string  `json:"inventory_item_id"`
}

// loadMapping reads the mapping file at path: publish.Item.Target() to
// inventory item GID.
func loadMapping(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--map: %w", err)
	}
	defer f.Close()
	m, err := parseMapping(f, path)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("--map %s: no mappings (one JSON object per line)", path)
	}
	return m, nil
}

// parseMapping reads JSON Lines: one mappingLine per line; blank lines and
// lines starting with # are skipped. It reports every bad line (up to
// maxMappingProblems), each as name:line, so that a file exported from a
// spreadsheet can be fixed in one pass.
func parseMapping(r io.Reader, name string) (map[string]string, error) {
	m := make(map[string]string)
	targetLine := make(map[string]int) // first line of each target
	itemLine := make(map[string]int)   // first line of each inventory item
	var problems []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxMappingLineBytes)
	for n := 1; sc.Scan() && len(problems) < maxMappingProblems; n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		l, err := decodeMappingLine([]byte(text))
		if err != nil {
			problems = append(problems, fmt.Errorf("%s:%d: %w", name, n, err))
			continue
		}
		target := publish.Item{SKU: l.SKU, ListingSKU: l.ListingSKU}.Target()
		if first, dup := targetLine[target]; dup {
			problems = append(problems, fmt.Errorf("%s:%d: %s is already mapped on line %d", name, n, describeTarget(l.SKU, l.ListingSKU), first))
			continue
		}
		// Two keys on one inventory item would have two version sequences
		// fight over one quantity; Shopify also refuses a mutation that
		// sets one item twice.
		if first, dup := itemLine[l.InventoryItemID]; dup {
			problems = append(problems, fmt.Errorf("%s:%d: %s is already mapped on line %d", name, n, l.InventoryItemID, first))
			continue
		}
		targetLine[target], itemLine[l.InventoryItemID] = n, n
		m[target] = l.InventoryItemID
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, fmt.Errorf("%s: %w (lines are limited to %d bytes)", name, err, maxMappingLineBytes))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return m, nil
}

func decodeMappingLine(text []byte) (mappingLine, error) {
	var l mappingLine
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, fmt.Errorf(`want {"sku": "...", "listing_sku": "..." or null, "inventory_item_id": "%s..."}: %w`, inventoryItemPrefix, err)
	}
	if dec.More() {
		return l, errors.New("more than one JSON value on the line")
	}
	switch {
	case l.SKU == "":
		return l, errors.New("sku is missing or empty")
	case l.ListingSKU != nil && *l.ListingSKU == "":
		return l, errors.New(`listing_sku is empty (use null, or leave it out, for the SKU itself)`)
	case !strings.HasPrefix(l.InventoryItemID, inventoryItemPrefix) || len(l.InventoryItemID) == len(inventoryItemPrefix):
		return l, fmt.Errorf("inventory_item_id %q is not a Shopify inventory item GID (%sNUMBER)", l.InventoryItemID, inventoryItemPrefix)
	}
	return l, nil
}

// describeTarget names a key for people: "SKU TEE-M" or "listing TEE-M-3PK of SKU TEE-M".
func describeTarget(sku string, listing *string) string {
	if listing != nil {
		return fmt.Sprintf("listing %q of SKU %q", *listing, sku)
	}
	return fmt.Sprintf("SKU %q", sku)
}
