package main

// Settings: how a command's configuration is declared once and read from
// three sources. Each setting binds a flag to a field of the command's
// config struct; its environment variable is the flag's name in capitals
// with the STOCKLEDGER_ prefix (--sasl-user: STOCKLEDGER_SASL_USER) and its
// default is the field's value when the table is built. Sources apply in
// order: default, then environment, then flag. A value that does not
// parse is recorded, not fatal, so every problem is reported at once.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stockledger/stockledger/processors"
)

// Where a setting's value came from.
const (
	fromDefault = "default"
	fromEnv     = "env"
	fromFlag    = "flag"
)

// value is a setting's typed field, as text.
type value interface {
	String() string
	Set(string) error
}

// setting is one configuration setting.
type setting struct {
	name   string // flag name, without dashes
	doc    string
	secret bool   // masked by --print-config
	field  string // the processors.Config field it sets ("" if none), to name it in Validate's errors
	v      value
	def    string // the default, as text
	src    string // fromDefault, fromEnv or fromFlag
}

// env is the setting's environment variable.
func (s *setting) env() string {
	return "STOCKLEDGER_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

// label names the setting in errors: "--partitions (STOCKLEDGER_PARTITIONS)".
func (s *setting) label() string { return fmt.Sprintf("--%s (%s)", s.name, s.env()) }

// shown is the value --print-config prints: secrets are masked.
func (s *setting) shown() string {
	v := s.v.String()
	if s.secret && v != "" {
		return "*****"
	}
	return v
}

// settings is a command's table of settings and the problems found while
// reading them.
type settings struct {
	list []*setting
	errs []error
}

// add declares a setting bound to v (whose current value is the default).
func (ss *settings) add(name string, v value, doc string) *setting {
	s := &setting{name: name, v: v, doc: doc, def: v.String(), src: fromDefault}
	ss.list = append(ss.list, s)
	return s
}

// addSecret declares a setting whose value --print-config masks.
func (ss *settings) addSecret(name string, v value, doc string) *setting {
	s := ss.add(name, v, doc)
	s.secret = true
	return s
}

// addField declares a setting that fills the processors.Config field
// named field (for Validate's errors).
func (ss *settings) addField(name, field string, v value, doc string) *setting {
	s := ss.add(name, v, doc)
	s.field = field
	return s
}

// bind registers every setting as a flag of fs and applies the environment
// (lookup is os.LookupEnv outside tests). Flags parsed later override it.
func (ss *settings) bind(fs *flag.FlagSet, lookup func(string) (string, bool)) {
	for _, s := range ss.list {
		fs.Var(&flagValue{s: s, ss: ss}, s.name, fmt.Sprintf("%s (env %s)", s.doc, s.env()))
		raw, ok := lookup(s.env())
		if !ok {
			continue
		}
		if err := s.v.Set(raw); err != nil {
			ss.errs = append(ss.errs, fmt.Errorf("%s=%q: %w", s.env(), raw, err))
			continue
		}
		s.src = fromEnv
	}
}

// err returns every problem recorded while reading the settings, and
// those of the checks passed in, naming the settings involved.
func (ss *settings) err(checks ...error) error {
	errs := append([]error(nil), ss.errs...)
	for _, c := range checks {
		errs = append(errs, ss.explain(c)...)
	}
	return errors.Join(errs...)
}

// explain flattens err (errors.Join trees) and names the flag and variable
// of each processors.ConfigError.
func (ss *settings) explain(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, ss.explain(e)...)
		}
		return out
	}
	var ce *processors.ConfigError
	if errors.As(err, &ce) {
		for _, s := range ss.list {
			if s.field == ce.Field {
				return []error{fmt.Errorf("%s: %s", s.label(), ce.Problem)}
			}
		}
	}
	return []error{err}
}

// get returns the setting named name (tests, and checks naming a setting).
func (ss *settings) get(name string) *setting {
	for _, s := range ss.list {
		if s.name == name {
			return s
		}
	}
	panic("no setting " + name)
}

// print writes every setting, its effective value (secrets masked) and
// where it came from, one a line.
func (ss *settings) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range ss.list {
		src := s.src
		switch s.src {
		case fromEnv:
			src = "env " + s.env()
		case fromFlag:
			src = "flag --" + s.name
		}
		fmt.Fprintf(tw, "%s\t%s\t# %s\n", s.name, strconv.Quote(s.shown()), src)
	}
	return tw.Flush()
}

// flagValue is the flag.Value of a setting: it records where the value
// came from and keeps parse errors for the report instead of stopping at
// the first.
type flagValue struct {
	s  *setting
	ss *settings
}

func (f *flagValue) String() string {
	if f == nil || f.s == nil {
		return "" // flag.PrintDefaults calls it on a zero value
	}
	return f.s.v.String()
}

func (f *flagValue) Set(raw string) error {
	if err := f.s.v.Set(raw); err != nil {
		shown := raw
		if f.s.secret {
			shown = "*****"
		}
		f.ss.errs = append(f.ss.errs, fmt.Errorf("--%s %q: %w", f.s.name, shown, err))
		return nil
	}
	f.s.src = fromFlag
	return nil
}

// IsBoolFlag lets a boolean setting be given as --name alone.
func (f *flagValue) IsBoolFlag() bool {
	if f == nil || f.s == nil {
		return false
	}
	_, ok := f.s.v.(*boolValue)
	return ok
}

// The value types. Their errors say what was wanted; the caller names the
// flag or variable.

type stringValue string

func strVal(p *string) *stringValue       { return (*stringValue)(p) }
func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type boolValue bool

func boolVal(p *bool) *boolValue    { return (*boolValue)(p) }
func (v *boolValue) String() string { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("not a boolean (true or false)")
	}
	*v = boolValue(b)
	return nil
}

type intValue int

func intVal(p *int) *intValue      { return (*intValue)(p) }
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 0)
	if err != nil {
		return errors.New("not an integer")
	}
	*v = intValue(n)
	return nil
}

type int32Value int32

func int32Val(p *int32) *int32Value  { return (*int32Value)(p) }
func (v *int32Value) String() string { return strconv.Itoa(int(*v)) }
func (v *int32Value) Set(s string) error {
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 32)
	if err != nil {
		return errors.New("not a 32-bit integer")
	}
	*v = int32Value(n)
	return nil
}

type int16Value int16

func int16Val(p *int16) *int16Value  { return (*int16Value)(p) }
func (v *int16Value) String() string { return strconv.Itoa(int(*v)) }
func (v *int16Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 16)
	if err != nil {
		return errors.New("not a 16-bit integer")
	}
	*v = int16Value(n)
	return nil
}

type int64Value int64

func int64Val(p *int64) *int64Value  { return (*int64Value)(p) }
func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil {
		return errors.New("not an integer")
	}
	*v = int64Value(n)
	return nil
}

type durationValue time.Duration

func durVal(p *time.Duration) *durationValue { return (*durationValue)(p) }
func (v *durationValue) String() string      { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (like 30s, 5m, 1h30m)")
	}
	*v = durationValue(d)
	return nil
}

// listValue is a comma-separated list; empty items are dropped.
type listValue []string

func listVal(p *[]string) *listValue    { return (*listValue)(p) }
func (v *listValue) String() string     { return strings.Join(*v, ",") }
func (v *listValue) Set(s string) error { *v = splitList(s); return nil }
