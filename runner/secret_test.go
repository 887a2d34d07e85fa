package runner

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

func TestSealedSecretsOpensTheRotationsNewSecret(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	r, err := e.Request(ctx, b.binding.ID, "user:alice@example.com")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationGrace, r.State, r.LastError)

	src := SealedSecrets{Store: b.store, Keyring: b.keyring}
	v, err := src.RotationSecret(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, b.dir.valueOf(r.NewKeyID), v.Reveal())

	_, err = src.RotationSecret(ctx, uuid.NewString())
	require.ErrorIs(t, err, rotor.ErrNotFound)
}
