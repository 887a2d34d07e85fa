// Package logging builds rotor's slog logger: text on a terminal, JSON otherwise.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"
)

// Format is a log output format.
type Format string

const (
	FormatAuto Format = "auto" // text on a terminal, JSON otherwise
	FormatText Format = "text"
	FormatJSON Format = "json"
)

// ParseLevel parses debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// ParseFormat parses auto, text or json.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatAuto, FormatText, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("log format %q: want auto, text or json", s)
}

// New returns a logger writing to w at level in format.
func New(w io.Writer, level slog.Leveler, format Format) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == FormatText || (format == FormatAuto && IsTerminal(w)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
