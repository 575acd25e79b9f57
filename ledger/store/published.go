package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The published marks live in a small file of their own beside Pebble's,
// written in place with one write per batch and no fsync (unless the store
// syncs every commit, Options.Sync).
//
// Why not Pebble: a mark must reach the kernel before the state commit
// that follows it, or a SIGKILL between the two loses the mark while the
// outputs are already with the consumers, and the restart publishes them
// again. Pebble hands an unsynced commit to its log writer, which writes it
// a moment later; only a synced commit is written before Commit returns,
// and that fsync cost ~0.9 ms of every batch. A plain write(2) is in the
// page cache when it returns, which a process crash does not lose. A
// machine crash can lose it (and the unsynced state commits after it): the
// restart then folds those events again and publishes their outputs again,
// with the same versions, which the contract allows ("output may repeat
// after a crash; a repeat carries the same version").
//
// File format: "SLPM", u32 count, count × (u32 partition, u64 next), then
// a CRC-32C of everything before it. A file that does not check out (a
// torn write in a machine crash) counts as no marks: outputs may repeat.

const publishedFile = "STOCKLEDGER-PUBLISHED"

var publishedMagic = [4]byte{'S', 'L', 'P', 'M'}

// The produced marks, in a file of the same format ("SLPR"), say how far
// outputs were handed to Kafka, acknowledged or not: records between a
// partition's published and produced marks may have outputs on the topics
// that the restart cannot see (SetProduced).
const producedFile = "STOCKLEDGER-PRODUCED"

var producedMagic = [4]byte{'S', 'L', 'P', 'R'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type publishedMarks struct {
	magic [4]byte
	mu    sync.Mutex
	f     vfs.File // nil for a read-only store
	sync  bool
	marks map[int32]int64
	buf   []byte
}

// openPublished reads the marks file in dir (if any) and, unless readOnly,
// opens it for writing.
func openPublished(fs vfs.FS, dir, file string, magic [4]byte, readOnly, sync bool) (*publishedMarks, error) {
	pm := &publishedMarks{magic: magic, sync: sync, marks: map[int32]int64{}}
	name := fs.PathJoin(dir, file)
	var f vfs.File
	var err error
	if readOnly {
		if f, err = fs.Open(name); errors.Is(err, os.ErrNotExist) {
			return pm, nil
		}
	} else {
		f, err = fs.OpenReadWrite(name, vfs.WriteCategoryUnspecified)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	pm.marks = decodePublished(data, magic)
	if readOnly {
		f.Close()
		return pm, nil
	}
	pm.f = f
	if sync && len(data) == 0 {
		// A new file: sync its directory entry too, or a machine crash
		// could lose the file with its synced marks.
		if d, err := fs.OpenDir(dir); err == nil {
			err = d.Sync()
			d.Close()
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("syncing %s: %w", dir, err)
			}
		}
	}
	return pm, nil
}

func decodePublished(data []byte, magic [4]byte) map[int32]int64 {
	marks := map[int32]int64{}
	if len(data) < 12 || [4]byte(data[:4]) != magic {
		return marks
	}
	n := int(binary.BigEndian.Uint32(data[4:]))
	end := 8 + 12*n
	if n > 1<<20 || len(data) < end+4 || crc32.Checksum(data[:end], castagnoli) != binary.BigEndian.Uint32(data[end:]) {
		return marks
	}
	for i := range n {
		e := data[8+12*i:]
		marks[int32(binary.BigEndian.Uint32(e))] = int64(binary.BigEndian.Uint64(e[4:]))
	}
	return marks
}

// set records the marks (merged with those of other partitions) and
// writes the file; drop removes partition p's. Both write the whole file
// at offset 0 in one call; a longer old file's tail is ignored (count and
// checksum say where the marks end).
func (pm *publishedMarks) set(marks map[int32]int64) error {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	maps.Copy(pm.marks, marks)
	return pm.writeLocked()
}

func (pm *publishedMarks) drop(p int32) error {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if _, ok := pm.marks[p]; !ok {
		return nil
	}
	delete(pm.marks, p)
	return pm.writeLocked()
}

func (pm *publishedMarks) get(p int32) int64 {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	return pm.marks[p]
}

func (pm *publishedMarks) writeLocked() error {
	if pm.f == nil {
		return errors.New("store is read-only")
	}
	parts := slices.Sorted(maps.Keys(pm.marks))
	b := append(pm.buf[:0], pm.magic[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(parts)))
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(p))
		b = binary.BigEndian.AppendUint64(b, uint64(pm.marks[p]))
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	pm.buf = b
	if _, err := pm.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("writing published marks: %w", err)
	}
	if pm.sync {
		if err := pm.f.Sync(); err != nil {
			return fmt.Errorf("syncing published marks: %w", err)
		}
	}
	return nil
}

func (pm *publishedMarks) close() error {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.f == nil {
		return nil
	}
	f := pm.f
	pm.f = nil
	return f.Close()
}

// SetPublished records, before the state commit that follows, that the
// outputs of partition p's records below next are acknowledged by Kafka.
// A restart that folds them again then does not publish them again (after
// a process crash; after a machine crash they may repeat: see above).
func (s *Store) SetPublished(marks map[int32]int64) error {
	if _, err := s.db(); err != nil {
		return err
	}
	return s.published.set(marks)
}

// SetProduced records, before a batch's outputs are handed to Kafka, that
// outputs of partition p's records below next may be on the topics from
// now on. A restart folds the records between the published and the
// produced marks before it publishes any of them, and publishes their
// outputs as one batch: each key's last value once, so a version it
// published before the crash is never followed by a lower one.
func (s *Store) SetProduced(marks map[int32]int64) error {
	if _, err := s.db(); err != nil {
		return err
	}
	return s.produced.set(marks)
}

// Produced returns the mark SetProduced recorded for p (0 if none).
func (s *Store) Produced(p int32) int64 { return s.produced.get(p) }

// Published returns the mark SetPublished recorded for p (0 if none).
func (s *Store) Published(p int32) (int64, error) {
	v, err := s.get(oldPublishedKey(p)) // a store written before the marks file
	if err != nil {
		return 0, err
	}
	old, _ := parseOffsetValue(v) // none, or not a mark: no mark
	return max(old, s.published.get(p)), nil
}
