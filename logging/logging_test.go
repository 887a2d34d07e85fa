package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/secret"
)

func TestNewFormats(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, slog.LevelInfo, FormatAuto).Info("hello", "app_id", "a1")
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m), "a buffer is not a terminal: JSON expected, got %q", buf.String())
	require.Equal(t, "a1", m["app_id"])

	buf.Reset()
	New(&buf, slog.LevelInfo, FormatText).Info("hello", "app_id", "a1")
	require.Contains(t, buf.String(), "app_id=a1")
}

func TestLevelFilters(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	lvl, err := ParseLevel("warn")
	require.NoError(t, err)
	l := New(&buf, lvl, FormatJSON)
	l.Info("quiet")
	require.Empty(t, buf.String())
	l.Warn("loud")
	require.Contains(t, buf.String(), "loud")
	_, err = ParseLevel("verbose")
	require.ErrorContains(t, err, `log level "verbose"`)
	_, err = ParseFormat("xml")
	require.ErrorContains(t, err, `log format "xml"`)
}

func TestSecretsNeverReachLogs(t *testing.T) {
	t.Parallel()
	const clear = "s3cr3t-value-for-test"
	v := secret.New(clear)
	for _, f := range []Format{FormatJSON, FormatText} {
		var buf bytes.Buffer
		l := New(&buf, slog.LevelDebug, f)
		l.Info("values", "secret", v, "nested", slog.GroupValue(slog.Any("s", v)), "ptr", &v, "in_struct", struct{ S secret.Value }{v})
		require.NotContains(t, buf.String(), clear)
		require.Contains(t, buf.String(), secret.Redacted)
	}
}
