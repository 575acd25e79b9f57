package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stockledger/stockledger/ledger"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"qty":     qty,
	"rate":    func(r float64) string { return strconv.FormatFloat(r, 'f', 1, 64) },
	"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"inTime":  inTime,
	"skuPath": func(sku string) string { return "/skus/" + url.PathEscape(sku) },
	"deref":   func(s *string) string { return deref(s, "") },
	"list":    func(v ...any) []any { return v },
}

// qty writes a quantity with thousands separators, as a person reads it
// (the cells' data-v attributes keep the plain number for scripts).
func qty(v any) string {
	var q int64
	switch n := v.(type) {
	case ledger.Qty:
		q = int64(n)
	case int64:
		q = n
	case int:
		q = int64(n)
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(q, 10)
	sign := ""
	if q < 0 {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

// inTime says how far t is from now, coarsely: "in 14m", "3h ago".
func inTime(t, now time.Time) string {
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d.Hours()))
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}

func deref(s *string, none string) string {
	if s == nil {
		return none
	}
	return *s
}

// codeProblem says what is wrong with a SKU code the ledger would not
// accept (ledger.ValidCode), so the error page can name it.
func codeProblem(s string) string {
	switch {
	case s == "":
		return "it is empty"
	case len(s) > ledger.MaxSKUBytes:
		return fmt.Sprintf("it is %d bytes long; a SKU code has at most %d", len(s), ledger.MaxSKUBytes)
	case !utf8.ValidString(s):
		return "it is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("it contains the control character %U", r)
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) {
		return "it starts with white space"
	}
	if unicode.IsSpace(last) {
		return "it ends with white space"
	}
	return "the ledger does not accept it"
}
