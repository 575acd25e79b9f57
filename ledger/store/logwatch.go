package store

import (
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// logWatch is the filesystem Pebble gets: it sees Pebble's log (the WAL)
// fail, so the store can stop writing before Pebble ends the process.
//
// Pebble keeps the error of a failed write or sync of its log and stops
// using the log, but with unsynced commits nobody is told until a later
// commit. A commit that finds the log failed panics inside Pebble, and the
// store turns that into an error (Store.write). A commit that first has to
// rotate the log (its memtable is full), or a checkpoint (it flushes the
// memtable), gets the error closing the old log instead, and Pebble v2
// panics there with DB.mu released: its caller's deferred unlock makes that
// a fatal error, which no recover catches and which ends the process. So
// the store refuses to write or checkpoint once the log has failed.
type logWatch struct {
	vfs.FS
	err atomic.Pointer[error] // the first failure of a log file's write or sync
}

// failed returns the first error of a write or sync of Pebble's log, or nil.
func (fs *logWatch) failed() error {
	if p := fs.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (fs *logWatch) note(err error) error {
	if err != nil {
		fs.err.CompareAndSwap(nil, &err)
	}
	return err
}

// watch wraps a file of Pebble's log (NNNNNN.log, also when recycled).
func (fs *logWatch) watch(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return logFile{File: f, fs: fs}, nil
}

func (fs *logWatch) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.watch(name, f, err)
}

func (fs *logWatch) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.watch(newname, f, err)
}

func (fs *logWatch) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.watch(name, f, err)
}

// Unwrap is the filesystem underneath.
func (fs *logWatch) Unwrap() vfs.FS { return fs.FS }

// logFile notes the failures of a log file's writes and syncs.
type logFile struct {
	vfs.File
	fs *logWatch
}

func (f logFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	return n, f.fs.note(err)
}

func (f logFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	return n, f.fs.note(err)
}

func (f logFile) Sync() error { return f.fs.note(f.File.Sync()) }

func (f logFile) SyncData() error { return f.fs.note(f.File.SyncData()) }

func (f logFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	return full, f.fs.note(err)
}
