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
	x, err := openExport(dir)
	if err != nil {
		x.closeFiles()
		return ExportCounts{}, err
	}
	defer x.closeFiles()
	var s ledger.SKU
	for _, p := range parts {
		ps := strconv.Itoa(int(p))
		err := st.SKUs(p, func(name string, val []byte) error {
			if err := ledger.DecodeSKU(name, val, &s); err != nil {
				return err
			}
			return x.sku(name, ps, &s)
		})
		if err != nil {
			return x.c, fmt.Errorf("exporting partition %d: %w", p, err)
		}
	}
	return x.c, x.finish()
}

// exporter writes Export's four files.
type exporter struct {
	c        ExportCounts
	files    []*os.File
	lj, cj   *bufio.Writer // the JSON Lines files
	lcw, ccw *bufio.Writer // under the CSV writers
	lc, cc   *csv.Writer
	buf      []byte
	rec      []string
}

// openExport creates dir and the four files, with the CSV headers. The
// files opened are closed by closeFiles, also after an error.
func openExport(dir string) (*exporter, error) {
	x := &exporter{rec: make([]string, 0, len(LocationColumns))}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return x, err
	}
	for _, f := range []struct {
		name string
		w    **bufio.Writer
	}{{LocationsJSONL, &x.lj}, {LocationsCSV, &x.lcw}, {ChannelsJSONL, &x.cj}, {ChannelsCSV, &x.ccw}} {
		file, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			return x, err
		}
		x.files = append(x.files, file)
		*f.w = bufio.NewWriterSize(file, 1<<20)
	}
	x.lc, x.cc = csv.NewWriter(x.lcw), csv.NewWriter(x.ccw)
	return x, errors.Join(x.lc.Write(LocationColumns), x.cc.Write(ChannelColumns))
}

// sku writes a SKU's rows: one per location it has, one per channel.
func (x *exporter) sku(name, ps string, s *ledger.SKU) error {
	x.c.SKUs++
	ver, un := strconv.FormatUint(s.Version, 10), strconv.FormatInt(int64(s.Unassigned), 10)
	for i := range s.Locations {
		if l := &s.Locations[i]; l.Named {
			if err := x.location(name, ps, ver, un, l); err != nil {
				return err
			}
		}
	}
	for _, ch := range s.Published {
		if err := x.channel(name, ps, ver, ch); err != nil {
			return err
		}
	}
	return nil
}

// location writes one SKU-location row to both location files.
func (x *exporter) location(name, ps, ver, un string, l *ledger.Location) error {
	x.c.Locations++
	buf := appendRowHead(x.buf[:0], name, ps, ver)
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
	x.buf = append(buf, '}', '\n')
	if _, err := x.lj.Write(x.buf); err != nil {
		return err
	}
	x.rec = append(x.rec[:0], name, ps, ver, un, l.Code)
	for _, q := range qs {
		x.rec = append(x.rec, strconv.FormatInt(int64(q), 10))
	}
	return x.lc.Write(x.rec)
}

// channel writes one SKU-channel row to both channel files.
func (x *exporter) channel(name, ps, ver string, ch ledger.ChannelValue) error {
	x.c.Channels++
	buf := appendRowHead(x.buf[:0], name, ps, ver)
	buf = append(buf, `,"channel":`...)
	buf = appendJSONString(buf, ch.Channel)
	buf = append(buf, `,"available":`...)
	buf = strconv.AppendInt(buf, int64(ch.ATS), 10)
	x.buf = append(buf, '}', '\n')
	if _, err := x.cj.Write(x.buf); err != nil {
		return err
	}
	return x.cc.Write([]string{name, ps, ver, ch.Channel, strconv.FormatInt(int64(ch.ATS), 10)})
}

// appendRowHead appends the start of a JSON Lines row, up to its version.
func appendRowHead(buf []byte, name, ps, ver string) []byte {
	buf = append(buf, `{"sku":`...)
	buf = appendJSONString(buf, name)
	buf = append(buf, `,"partition":`...)
	buf = append(buf, ps...)
	buf = append(buf, `,"version":`...)
	return append(buf, ver...)
}

// finish flushes and closes the files, returning the first error.
func (x *exporter) finish() error {
	x.lc.Flush()
	x.cc.Flush()
	if err := errors.Join(x.lc.Error(), x.cc.Error(), x.lj.Flush(), x.lcw.Flush(), x.cj.Flush(), x.ccw.Flush()); err != nil {
		return err
	}
	files := x.files
	x.files = nil
	for _, f := range files {
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// closeFiles closes the files finish did not.
func (x *exporter) closeFiles() {
	for _, f := range x.files {
		f.Close()
	}
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
