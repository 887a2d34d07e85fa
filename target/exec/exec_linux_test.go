//go:build linux

package exec_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/target/targettest"
)

func TestTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pid")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	sh := script(t, dir, "hang.sh", `sleep 300 & echo $! > "$1"; wait`)
	clock := clockwork.NewFakeClockAt(start)
	tg := build(t, clock, nil, fmt.Sprintf(`{command: [%q, %q], timeout: 30s}`, sh, fifo))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a broken test
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := tg.Publish(ctx, targettest.Deployment(1))
		errc <- err
	}()
	b, err := os.ReadFile(fifo) // blocks until the script wrote its child's pid
	require.NoError(t, err)
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.NoError(t, clock.BlockUntilContext(ctx, 1))
	clock.Advance(30 * time.Second)
	err = <-errc
	require.ErrorContains(t, err, "hang.sh: timed out after 30s; its process group was killed")
	require.Equal(t, rotor.ClassTransient, rotor.ClassOf(err))
	require.True(t, gone(child), "the script's background child was killed with it")
}

// gone waits, at most a minute (a bound on a broken test), for pid to exit, through a pidfd
// (which becomes readable when the process exits, zombie or reaped).
func gone(pid int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return true
	}
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(time.Minute/time.Millisecond))
	return err == nil && n == 1
}
