//go:build unix

package store

import (
	"io/fs"
	"syscall"
)

// allocated is the bytes of disk blocks allocated to the file info
// describes (a sparse or preallocated file's differ from its size).
func allocated(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512 // st_blocks counts 512-byte units
	}
	return info.Size()
}
