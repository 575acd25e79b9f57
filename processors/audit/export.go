package audit

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
)

// Files Export writes, in the output directory.
const (
	LocationsJSONL = "locations.jsonl"
	LocationsCSV   = "locations.csv"
	ChannelsJSONL  = "channels.jsonl"
	ChannelsCSV    = "channels.csv"
)

// LocationColumns are the columns of a SKU-location row, in order (the
// CSV header; the JSON Lines keys).
var LocationColumns = []string{"sku", "partition", "version", "unassigned", "location",
	"on_hand", "reserved", "unavailable", "incoming", "safety_stock", "available"}

// ChannelColumns are the columns of a SKU-channel row.
var ChannelColumns = []string{"sku", "partition", "version", "channel", "available"}

// ExportCounts says how many rows Export wrote.
type ExportCounts struct {
	SKUs, Locations, Channels int
}

// Export writes the ledger in st (partitions parts, in order; SKUs in key
// order within a partition) to dir as JSON Lines and CSV: one row per
// SKU-location the SKU has (locations named by an applied event), one per
// SKU-channel (each channel's available, as last published).
func Export(st *store.Store, parts []int32, dir string) (ExportCounts, error) {
	var c ExportCounts
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c, err
	}
	var files []*os.File
	open := func(name string) (*bufio.Writer, error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		return bufio.NewWriterSize(f, 1<<20), nil
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	lj, err := open(LocationsJSONL)
	if err != nil {
		return c, err
	}
	lcw, err := open(LocationsCSV)
	if err != nil {
		return c, err
	}
	cj, err := open(ChannelsJSONL)
	if err != nil {
		return c, err
	}
	ccw, err := open(ChannelsCSV)
	if err != nil {
		return c, err
	}
	lc, cc := csv.NewWriter(lcw), csv.NewWriter(ccw)
	if err := errors.Join(lc.Write(LocationColumns), cc.Write(ChannelColumns)); err != nil {
		return c, err
	}
	var s ledger.SKU
	var buf []byte
	rec := make([]string, len(LocationColumns))
	for _, p := range parts {
		ps := strconv.Itoa(int(p))
		err := st.SKUs(p, func(name string, val []byte) error {
			if err := ledger.DecodeSKU(name, val, &s); err != nil {
				return err
			}
			c.SKUs++
			ver, un := strconv.FormatUint(s.Version, 10), strconv.FormatInt(int64(s.Unassigned), 10)
			for i := range s.Locations {
				l := &s.Locations[i]
				if !l.Named {
					continue
				}
				c.Locations++
				buf = append(buf[:0], `{"sku":`...)
				buf = appendJSONString(buf, name)
				buf = append(buf, `,"partition":`...)
				buf = append(buf, ps...)
				buf = append(buf, `,"version":`...)
				buf = append(buf, ver...)
				buf = append(buf, `,"unassigned":`...)
				buf = append(buf, un...)
				buf = append(buf, `,"location":`...)
				buf = appendJSONString(buf, l.Code)
				qs := [6]ledger.Qty{l.OnHand, l.Reserved, l.Unavailable, l.Incoming, l.SafetyStock, l.Available()}
				for k, q := range qs {
					buf = append(buf, ',', '"')
					buf = append(buf, LocationColumns[5+k]...)
					buf = append(buf, '"', ':')
					buf = strconv.AppendInt(buf, int64(q), 10)
				}
				buf = append(buf, '}', '\n')
				if _, err := lj.Write(buf); err != nil {
					return err
				}
				rec = append(rec[:0], name, ps, ver, un, l.Code)
				for _, q := range qs {
					rec = append(rec, strconv.FormatInt(int64(q), 10))
				}
				if err := lc.Write(rec); err != nil {
					return err
				}
			}
			for _, ch := range s.Published {
				c.Channels++
				buf = append(buf[:0], `{"sku":`...)
				buf = appendJSONString(buf, name)
				buf = append(buf, `,"partition":`...)
				buf = append(buf, ps...)
				buf = append(buf, `,"version":`...)
				buf = append(buf, ver...)
				buf = append(buf, `,"channel":`...)
				buf = appendJSONString(buf, ch.Channel)
				buf = append(buf, `,"available":`...)
				buf = strconv.AppendInt(buf, int64(ch.ATS), 10)
				buf = append(buf, '}', '\n')
				if _, err := cj.Write(buf); err != nil {
					return err
				}
				if err := cc.Write([]string{name, ps, ver, ch.Channel, strconv.FormatInt(int64(ch.ATS), 10)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return c, fmt.Errorf("exporting partition %d: %w", p, err)
		}
	}
	lc.Flush()
	cc.Flush()
	if err := errors.Join(lc.Error(), cc.Error(), lj.Flush(), lcw.Flush(), cj.Flush(), ccw.Flush()); err != nil {
		return c, err
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			return c, err
		}
	}
	files = nil
	return c, nil
}

// appendJSONString appends s as a JSON string. Codes are valid UTF-8
// without control characters (ledger.Validate), but escape them anyway.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
			i++
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
		}
	}
	return append(dst, '"')
}
