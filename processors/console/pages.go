package console

import (
	"bytes"
	"context"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
)

// page is what every page's layout shows.
type page struct {
	Title string
	// SignOut: a token is set and the request signed in, so the header
	// offers to sign out.
	SignOut bool
}

func (c *Console) newPage(r *http.Request, title string) page {
	return page{Title: title, SignOut: c.cfg.Token != "" && c.authorized(r)}
}

// parsePages parses each page's template with the layout.
func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"search", "sku", "history", "partitions", "signin", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page name with data. It renders into a buffer first, so
// a template error becomes a clean 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w) // the client left: nothing to tell it
}

// errorPage is what the error template shows.
type errorPage struct {
	page
	Code    int
	Message string
	// Link, when set, is where to go instead (the owner of a SKU).
	Link, LinkText string
}

// fail writes an error page: what went wrong, in words.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, code int, title, message string) {
	c.render(w, r, code, "error", errorPage{page: c.newPage(r, title), Code: code, Message: message})
}

// maxResults caps the SKUs a search shows.
const maxResults = 50

// searchPage is what the search template shows.
type searchPage struct {
	page
	Query           string
	Results         []summary
	More            bool
	Owned           []int32
	TopicPartitions int32
	AllOwned        bool
}

// summary is a SKU in the search results.
type summary struct {
	SKU                   string
	Partition             int32
	OnHand, Available     ledger.Qty
	Channels              []channelRow
	OpenHolds, OpenOrders int
}

// serveSearch serves GET /?q=PREFIX: the SKUs of the owned partitions
// whose codes start with the prefix (all of them, a page, without one).
func (c *Console) serveSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if len(q) > ledger.MaxSKUBytes {
		c.fail(w, r, http.StatusBadRequest, "Search too long", "A SKU code has at most 128 bytes; the search has "+qty(len(q))+".")
		return
	}
	list, err := c.p.SKUs(q, "", maxResults)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, "Store unreadable", "Reading the ledger store: "+err.Error())
		return
	}
	out := searchPage{page: c.newPage(r, "Find a SKU"), Query: q, More: list.NextAfter != "",
		Owned: list.Partitions, TopicPartitions: list.TopicPartitions, AllOwned: len(list.Partitions) == int(list.TopicPartitions)}
	for _, s := range list.SKUs {
		st := newSKUState(s, time.Now())
		out.Results = append(out.Results, summary{SKU: s.SKU, Partition: s.Partition, OnHand: st.OnHand, Available: st.Available,
			Channels: st.Channels, OpenHolds: len(s.OpenHolds), OpenOrders: len(s.OpenOrders)})
	}
	c.render(w, r, http.StatusOK, "search", out)
}

// skuState is the part of a SKU's page that live updates replace.
type skuState struct {
	S                 processors.SKUJSON
	OnHand, Available ledger.Qty // over the locations
	Channels          []channelRow
	Now               time.Time
}

// channelRow is one channel of a SKU: its available-to-sell as last
// published, and the units its orders and holds reserve without a
// location.
type channelRow struct {
	Channel    string
	Available  ledger.Qty
	Unassigned ledger.Qty
}

func newSKUState(s processors.SKUJSON, now time.Time) skuState {
	st := skuState{S: s, Now: now}
	for _, l := range s.Locations {
		st.OnHand += l.OnHand
		st.Available += l.Available
	}
	names := slices.Sorted(maps.Keys(s.Channels))
	for ch := range s.UnassignedByChannel {
		if _, ok := s.Channels[ch]; !ok {
			names = append(names, ch)
		}
	}
	slices.Sort(names)
	for _, ch := range names {
		st.Channels = append(st.Channels, channelRow{Channel: ch, Available: s.Channels[ch], Unassigned: s.UnassignedByChannel[ch]})
	}
	return st
}

// skuPageData is what the SKU template shows.
type skuPageData struct {
	page
	State skuState
}

// serveSKU serves GET /skus/{sku}: the SKU's state, live.
func (c *Console) serveSKU(w http.ResponseWriter, r *http.Request) {
	s, ok := c.lookUp(w, r)
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "sku", skuPageData{page: c.newPage(r, s.SKU), State: newSKUState(s, time.Now())})
}

// lookUp reads the SKU the path names; when it cannot, it writes the
// page that says why (a bad code, a SKU another instance owns, one the
// ledger does not know) and reports false.
func (c *Console) lookUp(w http.ResponseWriter, r *http.Request) (processors.SKUJSON, bool) {
	name := r.PathValue("sku")
	if !ledger.ValidCode(name, ledger.MaxSKUBytes) {
		c.fail(w, r, http.StatusBadRequest, "Not a SKU code", "The address names "+quote(name)+", which is not a SKU code: "+codeProblem(name)+".")
		return processors.SKUJSON{}, false
	}
	part := c.p.PartitionOf(name)
	if !c.p.Owns(part) {
		c.misdirected(w, r, name, part)
		return processors.SKUJSON{}, false
	}
	s, found, err := c.p.SKU(name)
	if err != nil {
		c.fail(w, r, http.StatusInternalServerError, "Store unreadable", "Reading "+quote(name)+" from the ledger store: "+err.Error())
		return processors.SKUJSON{}, false
	}
	if !found {
		c.fail(w, r, http.StatusNotFound, "Unknown SKU", "The ledger has no SKU "+quote(name)+" (it would be in partition "+qty(int64(part))+
			", which this instance owns): no event has named it yet.")
		return processors.SKUJSON{}, false
	}
	return processors.NewSKUJSON(&s, part), true
}

// misdirected writes the page for a SKU whose partition another instance
// owns: 421, as the API answers, with a link to the owner's console.
func (c *Console) misdirected(w http.ResponseWriter, r *http.Request, name string, part int32) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	owner := c.p.Owner(ctx, part)
	e := errorPage{page: c.newPage(r, "On another instance"), Code: http.StatusMisdirectedRequest,
		Message: "SKU " + quote(name) + " is in partition " + qty(int64(part)) + ", which this instance does not own."}
	if owner == "" {
		e.Message += " No instance that advertises its HTTP address owns it now (a rebalance may be under way); try again shortly."
	} else {
		e.Link, e.LinkText = "http://"+owner+r.URL.RequestURI(), "Open it on "+owner
	}
	c.render(w, r, e.Code, "error", e)
}

// quote quotes a code for a message, so white space and odd characters
// show.
func quote(s string) string {
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return strconv.Quote(s)
	}
	return "\u201c" + s + "\u201d"
}
