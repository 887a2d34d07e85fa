// Package failpoint lets crash tests kill a rotor process at a named point of the rotation
// protocol. It is inert unless the environment variable ROTOR_FAILPOINT names a point when the
// process starts: "create.after_add" kills the process (SIGKILL, no cleanup, as a power cut
// would) the first time that point is reached; "create.after_add:3" the third time.
//
// Points are named phase.moment; see the Hit calls in package runner for the list.
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

var (
	target string
	nth    int64 = 1
	hits   atomic.Int64
)

func init() {
	spec := os.Getenv("ROTOR_FAILPOINT")
	if spec == "" {
		return
	}
	name, n, ok := strings.Cut(spec, ":")
	target = name
	if ok {
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > 0 {
			nth = v
		}
	}
}

// Hit kills the process if name is the armed point and this is the armed occurrence.
func Hit(name string) {
	if target == "" || name != target {
		return
	}
	if hits.Add(1) == nth {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never continue past the point while the signal is delivered
	}
}
