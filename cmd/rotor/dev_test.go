package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// signalBuffer is a buffer safe for a writer and a reader in two goroutines that closes seen
// once the text written contains want.
type signalBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	want string
	seen chan struct{}
}

func (s *signalBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if strings.Contains(s.b.String(), s.want) {
		select {
		case <-s.seen:
		default:
			close(s.seen)
		}
	}
	return n, err
}

func (s *signalBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestDevStartsBindsAndServes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	out := &signalBuffer{want: "rotating", seen: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--log-format", "json", "dev", "--dir", dir, "--listen", "127.0.0.1:0", "--apps", "30",
			"--replication-delay", "0s"}, strings.NewReader(""), out, io.Discard, func(string) (string, bool) { return "", false })
	}()
	select {
	case code := <-done:
		t.Fatalf("rotor dev exited with %d: %s", code, out.String())
	case <-out.seen:
	}
	require.Contains(t, out.String(), "dashboard      http://127.0.0.1:")
	require.Contains(t, out.String(), "configuration  "+dir+"/rotor.yaml")

	// The demo's bindings are in the store: another rotor on the same configuration sees them.
	r := rotorRun(t, nil, "-c", dir+"/rotor.yaml", "binding", "list", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, 3, strings.Count(r.stdout, `"Policy": "demo"`))
	cancel()
	require.Equal(t, 0, <-done, "rotor dev stops cleanly")
}
