//go:build !crashpoints

package processors

// crashAt marks a point between two stages of the live pipeline. Built
// with the crashpoints tag, the crash tests kill the process there
// (crashpoint_on.go); otherwise it does nothing.
func crashAt(crashPoint) {}
