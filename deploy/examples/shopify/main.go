// Command shopify is an example channel adapter: it receives the webhook
// requests of `stockledger publish` and sets the "available" quantities
// of one Shopify location with the GraphQL Admin API's
// inventorySetQuantities, compare-and-set on changeFromQuantity. See
// README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// config is the adapter's command line.
type config struct {
	Listen      string // address of the webhook receiver; default 127.0.0.1:8090
	Secret      string // the publisher's --secret; or STOCKLEDGER_WEBHOOK_SECRET
	Shop        string // https://SHOP.myshopify.com
	APIVersion  string // GraphQL Admin API version, 2026-04 or later
	AccessToken string // Admin API access token; or SHOPIFY_ACCESS_TOKEN
	LocationID  string // gid://shopify/Location/N
	MapPath     string // the mapping file (JSON Lines)
}

// apiVersionPattern is Shopify's quarterly version names.
var apiVersionPattern = regexp.MustCompile(`^\d{4}-(01|04|07|10)$`)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "shopify adapter:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	items, err := loadMapping(c.MapPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	shop := &shopifyClient{
		endpoint:   strings.TrimRight(c.Shop, "/") + "/admin/api/" + c.APIVersion + "/graphql.json",
		token:      c.AccessToken,
		locationID: c.LocationID,
		// Bounds a request to Shopify; a publisher's request waits for it.
		http: &http.Client{Timeout: 30 * time.Second},
	}
	srv := &http.Server{
		Addr:              c.Listen,
		Handler:           newAdapter([]byte(c.Secret), shop, items, log),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("shopify adapter listening", "addr", c.Listen, "shop", c.Shop, "location", c.LocationID, "keys", len(items))
	select {
	case err := <-errc:
		return fmt.Errorf("--listen %s: %w", c.Listen, err)
	case <-ctx.Done():
	}
	// Let requests in flight finish: an interrupted one is resent anyway,
	// but a finished one saves the publisher a round.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 35*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("shopify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8090", "address of the webhook receiver")
	fs.StringVar(&c.Secret, "secret", os.Getenv("STOCKLEDGER_WEBHOOK_SECRET"), "the publisher's webhook secret (env STOCKLEDGER_WEBHOOK_SECRET)")
	fs.StringVar(&c.Shop, "shop", "", "the shop's URL, https://SHOP.myshopify.com")
	fs.StringVar(&c.APIVersion, "api-version", "2026-04", "GraphQL Admin API version (2026-04 or later)")
	fs.StringVar(&c.AccessToken, "access-token", os.Getenv("SHOPIFY_ACCESS_TOKEN"), "Admin API access token with write_inventory (env SHOPIFY_ACCESS_TOKEN)")
	fs.StringVar(&c.LocationID, "location-id", "", "the location whose stock to set, gid://shopify/Location/N")
	fs.StringVar(&c.MapPath, "map", "", "mapping file: one JSON object per line, {sku, listing_sku, inventory_item_id}")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, c.validate()
}

// validate reports every problem of c at once.
func (c config) validate() error {
	var errs []error
	if c.Secret == "" {
		errs = append(errs, errors.New("--secret (or STOCKLEDGER_WEBHOOK_SECRET) is required: the publisher's --secret"))
	}
	if u, err := url.Parse(c.Shop); c.Shop == "" || err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		errs = append(errs, fmt.Errorf("--shop %q: want the shop's URL, https://SHOP.myshopify.com", c.Shop))
	}
	// changeFromQuantity arrived in 2026-01; from 2026-04 Shopify also
	// requires the @idempotent directive, which the adapter always sends.
	if c.APIVersion != "unstable" && (!apiVersionPattern.MatchString(c.APIVersion) || c.APIVersion < "2026-01") {
		errs = append(errs, fmt.Errorf("--api-version %q: want a version such as 2026-04 (2026-01 or later: changeFromQuantity)", c.APIVersion))
	}
	if c.AccessToken == "" {
		errs = append(errs, errors.New("--access-token (or SHOPIFY_ACCESS_TOKEN) is required"))
	}
	const loc = "gid://shopify/Location/"
	if !strings.HasPrefix(c.LocationID, loc) || len(c.LocationID) == len(loc) {
		errs = append(errs, fmt.Errorf("--location-id %q: want %sNUMBER", c.LocationID, loc))
	}
	if c.MapPath == "" {
		errs = append(errs, errors.New("--map is required: the file mapping SKUs and listings to inventory items"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen is required"))
	}
	return errors.Join(errs...)
}
