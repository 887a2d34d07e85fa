package seal

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/secret"
)

func newKEK(t *testing.T) *KEK {
	t.Helper()
	v, err := GenerateKEK()
	require.NoError(t, err)
	k, err := ParseKEK(v)
	require.NoError(t, err)
	return k
}

const plain = "value-sealed-in-a-test"

func TestSealOpen(t *testing.T) {
	t.Parallel()
	r := NewKeyring(newKEK(t))
	ad := []byte("rotation-1|key-1")
	ct, err := r.Seal(secret.New(plain), ad)
	require.NoError(t, err)
	require.False(t, bytes.Contains(ct, []byte(plain)), "the ciphertext does not contain the value")
	id, err := KeyID(ct)
	require.NoError(t, err)
	require.Equal(t, r.Current(), id)
	require.True(t, strings.HasPrefix(id, "kek-"))

	v, err := r.Open(ct, ad)
	require.NoError(t, err)
	require.Equal(t, plain, v.Reveal())

	ct2, err := r.Seal(secret.New(plain), ad)
	require.NoError(t, err)
	require.NotEqual(t, ct, ct2, "every seal uses a fresh data key and nonce")
}

func TestOpenRefusesWhatItShould(t *testing.T) {
	t.Parallel()
	r := NewKeyring(newKEK(t))
	ct, err := r.Seal(secret.New(plain), []byte("row-a"))
	require.NoError(t, err)

	_, err = r.Open(ct, []byte("row-b"))
	require.ErrorContains(t, err, "does not open", "a ciphertext moved to another row")

	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		_, err := r.Open(bad, []byte("row-a"))
		require.Error(t, err, "flipping byte %d must be detected", i)
	}
	_, err = r.Open(ct[:len(ct)-1], []byte("row-a"))
	require.Error(t, err)
	_, err = r.Open(ct[:10], []byte("row-a"))
	require.ErrorContains(t, err, "truncated")
	_, err = r.Open([]byte("plain text"), nil)
	require.ErrorContains(t, err, "unknown version")

	other := NewKeyring(newKEK(t))
	_, err = other.Open(ct, []byte("row-a"))
	require.ErrorContains(t, err, "which is not loaded")
}

func TestRewrap(t *testing.T) {
	t.Parallel()
	oldK, newK := newKEK(t), newKEK(t)
	old := NewKeyring(oldK)
	ct, err := old.Seal(secret.New(plain), []byte("ad"))
	require.NoError(t, err)

	both := NewKeyring(newK, oldK)
	re, err := both.Rewrap(ct)
	require.NoError(t, err)
	id, err := KeyID(re)
	require.NoError(t, err)
	require.Equal(t, newK.ID(), id)

	onlyNew := NewKeyring(newK)
	v, err := onlyNew.Open(re, []byte("ad"))
	require.NoError(t, err)
	require.Equal(t, plain, v.Reveal())
	_, err = onlyNew.Open(ct, []byte("ad"))
	require.Error(t, err, "the old ciphertext needs the old key")

	same, err := both.Rewrap(re)
	require.NoError(t, err)
	require.Equal(t, re, same, "already current: unchanged")
	_, err = onlyNew.Rewrap(ct)
	require.ErrorContains(t, err, "not loaded")
}

func TestParseKEK(t *testing.T) {
	t.Parallel()
	_, err := ParseKEK(secret.New("c2hvcnQ="))
	require.ErrorContains(t, err, "must be 32 bytes, got 5")
	_, err = ParseKEK(secret.New("not base64 at all!"))
	require.ErrorContains(t, err, "not base64")
	k1, err := ParseKEK(secret.New("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="))
	require.NoError(t, err)
	k2, err := ParseKEK(secret.New("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"))
	require.NoError(t, err)
	require.Equal(t, k1.ID(), k2.ID(), "the same key has the same id however it is written")
}
