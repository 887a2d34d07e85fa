package runner

import (
	"context"
	"fmt"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/secret"
)

// SealedSecrets opens the new secret a rotation created, for the notifications that were
// configured to carry it (include_secret). It implements notify.SecretSource.
type SealedSecrets struct {
	Store   rotor.RotationStore
	Keyring *seal.Keyring
}

// RotationSecret returns the value of the credential rotation rotationID created; an error
// wrapping rotor.ErrNotFound when the rotation stored none.
func (s SealedSecrets) RotationSecret(ctx context.Context, rotationID string) (secret.Value, error) {
	ss, err := s.Store.SealedSecretGet(ctx, rotationID)
	if err != nil {
		return secret.Value{}, fmt.Errorf("sealed secret of rotation %s: %w", rotationID, err)
	}
	v, err := s.Keyring.Open(ss.Ciphertext, sealAD(rotationID, ss.KeyID))
	if err != nil {
		return secret.Value{}, fmt.Errorf("open sealed secret of rotation %s: %w", rotationID, err)
	}
	return v, nil
}
