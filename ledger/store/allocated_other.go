//go:build !unix

package store

import "io/fs"

// allocated is the file's size where the platform does not say what it
// takes on disk.
func allocated(info fs.FileInfo) int64 { return info.Size() }
