// Package kvkey protects rotor's key encryption key (KEK) with an Azure Key Vault key: an envelope
// around the KEK itself. The KEK is wrapped once, with Key Vault's wrapKey operation
// (RSA-OAEP-256), by `rotor keys generate --key-vault-key` or `rotor keys wrap`; the configuration
// holds only the wrapped value. When a command needs the keyring it unwraps the KEK with
// unwrapKey, once: secret values are still sealed and opened locally (package seal), so Key Vault
// is never called per value, and the KEK's plaintext exists only in rotor's memory.
//
//	id, _ := kvkey.ParseID("https://contoso-kek.vault.azure.net/keys/rotor-kek/0123456789abcdef0123456789abcdef")
//	k, _ := kvkey.New(id, kvkey.Options{Credential: cred, Identity: "tenant contoso"})
//	kek, err := k.UnwrapKEK(ctx, wrapped) // *seal.KEK
//
// The identity needs the Key Vault Crypto User role on the vault or the key (or any role granting
// Microsoft.KeyVault/vaults/keys/unwrap/action, and wrap/action to wrap, such as Key Vault Crypto
// Service Encryption User). Errors say which of the vault, the identity's role, the key or the
// wrapped value is wrong, and never carry key material.
package kvkey

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/secret"
)

// Algorithm is the key wrapping algorithm rotor uses.
const Algorithm = azkeys.EncryptionAlgorithmRSAOAEP256

// ID identifies one version of a Key Vault key.
type ID struct {
	Vault   string // scheme and host: https://contoso-kek.vault.azure.net
	Name    string
	Version string
}

// String returns the key identifier: https://<vault>/keys/<name>/<version>.
func (id ID) String() string { return id.Vault + "/keys/" + id.Name + "/" + id.Version }

var (
	keyNameRE    = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
	keyVersionRE = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

// ParseID reads a versioned key identifier, https://<vault>/keys/<name>/<version>, as the Azure
// portal and `az keyvault key show` give it ("kid"). The version is required: a new version of
// the key must never silently change what unwraps rotor's KEK. Key Vault is reached over https
// only (the SDK refuses to send a token over plain http).
func ParseID(s string) (ID, error) {
	const shape = "https://<vault>/keys/<name>/<version>"
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return ID{}, fmt.Errorf("%q is not a Key Vault key identifier (%s)", s, shape)
	}
	if u.Scheme != "https" {
		return ID{}, fmt.Errorf("%q: Key Vault is reached over https", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return ID{}, fmt.Errorf("%q: give the key identifier only (%s), without credentials, query or fragment", s, shape)
	}
	segs := strings.Split(strings.TrimPrefix(strings.TrimSuffix(u.Path, "/"), "/"), "/")
	switch {
	case len(segs) == 2 && segs[0] == "keys":
		return ID{}, fmt.Errorf("%q has no version: give the key's version (%s) so that a new version of the key never changes what unwraps rotor's key", s, shape)
	case len(segs) != 3 || segs[0] != "keys":
		return ID{}, fmt.Errorf("%q is not a Key Vault key identifier (%s)", s, shape)
	case !keyNameRE.MatchString(segs[1]):
		return ID{}, fmt.Errorf("%q: key name %q: 1-127 letters, digits and hyphens", s, segs[1])
	case !keyVersionRE.MatchString(segs[2]):
		return ID{}, fmt.Errorf("%q: key version %q: a version id is 32 hexadecimal characters", s, segs[2])
	}
	return ID{Vault: "https://" + u.Host, Name: segs[1], Version: segs[2]}, nil
}

// Options configure a Key.
type Options struct {
	// Credential is the identity that calls Key Vault. Required.
	Credential azcore.TokenCredential
	// Transport sends the requests; nil: azcore's default HTTP client.
	Transport policy.Transporter
	// DisableChallengeResourceVerification lets the vault's authentication challenge name a
	// resource other than the vault's own domain (private endpoints with custom domains).
	DisableChallengeResourceVerification bool
	// Identity names the caller in errors, e.g. "tenant contoso".
	Identity string
	// Retry tunes the SDK's retries of throttled, failed and unreachable requests; zero values
	// take azcore's defaults (3 retries with exponential backoff).
	Retry policy.RetryOptions
}

// Key is one version of a Key Vault key that wraps and unwraps KEKs. It is safe for concurrent use.
type Key struct {
	id       ID
	client   *azkeys.Client
	identity string
}

// New returns the key id, reached with opts. It does no network I/O.
func New(id ID, opts Options) (*Key, error) {
	if opts.Credential == nil {
		return nil, errors.New("kvkey: no credential")
	}
	c, err := azkeys.NewClient(id.Vault, opts.Credential, &azkeys.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: opts.Transport,
			Retry:     opts.Retry,
			Telemetry: policy.TelemetryOptions{ApplicationID: "rotor"},
		},
		DisableChallengeResourceVerification: opts.DisableChallengeResourceVerification,
	})
	if err != nil {
		return nil, fmt.Errorf("key vault client for %s: %w", id.Vault, err)
	}
	identity := opts.Identity
	if identity == "" {
		identity = "rotor"
	}
	return &Key{id: id, client: c, identity: identity}, nil
}

// ID returns the key's identifier.
func (k *Key) ID() ID { return k.id }

// Wrap wraps a plain KEK, written as `rotor keys generate` prints it, and returns the wrapped value
// as Key Vault gives it: base64url, without padding. The wrapped value is what encryption.key
// holds when encryption.key_vault_key is set.
func (k *Key) Wrap(ctx context.Context, plain secret.Value) (string, error) {
	raw, err := seal.DecodeKEK(plain)
	if err != nil {
		return "", err
	}
	defer clear(raw)
	alg := Algorithm
	resp, err := k.client.WrapKey(ctx, k.id.Name, k.id.Version, azkeys.KeyOperationParameters{Algorithm: &alg, Value: raw}, nil)
	if err != nil {
		return "", k.explain("wrapKey", err)
	}
	return base64.RawURLEncoding.EncodeToString(resp.Result), nil
}

// Unwrap unwraps a KEK wrapped by this key and returns it written as `rotor keys generate` prints
// it (base64). The value prints [REDACTED].
func (k *Key) Unwrap(ctx context.Context, wrapped secret.Value) (secret.Value, error) {
	raw, err := k.unwrap(ctx, wrapped)
	if err != nil {
		return secret.Value{}, err
	}
	defer clear(raw)
	return secret.New(base64.StdEncoding.EncodeToString(raw)), nil
}

// UnwrapKEK unwraps a KEK wrapped by this key.
func (k *Key) UnwrapKEK(ctx context.Context, wrapped secret.Value) (*seal.KEK, error) {
	raw, err := k.unwrap(ctx, wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	return seal.NewKEK(raw)
}

// rsaSizes are the lengths of values wrapped by the RSA key sizes Key Vault creates.
var rsaSizes = []int{256, 384, 512}

func (k *Key) unwrap(ctx context.Context, wrapped secret.Value) ([]byte, error) {
	ct, ok := seal.DecodeBase64(wrapped)
	switch {
	case !ok:
		return nil, errors.New("not a value wrapped by Key Vault: not base64url (wrap the key with rotor keys wrap, or make one with rotor keys generate --key-vault-key)")
	case len(ct) == 32:
		return nil, errors.New("holds a plain key encryption key, not one wrapped by Key Vault: wrap it with rotor keys wrap, or remove encryption.key_vault_key")
	case !slices.Contains(rsaSizes, len(ct)):
		return nil, fmt.Errorf("not a value wrapped by Key Vault: %d bytes, where an RSA key of 2048, 3072 or 4096 bits wraps into 256, 384 or 512", len(ct))
	}
	alg := Algorithm
	resp, err := k.client.UnwrapKey(ctx, k.id.Name, k.id.Version, azkeys.KeyOperationParameters{Algorithm: &alg, Value: ct}, nil)
	if err != nil {
		return nil, k.explain("unwrapKey", err)
	}
	if n := len(resp.Result); n != 32 {
		clear(resp.Result)
		return nil, fmt.Errorf("Key Vault key %s unwrapped a value that is not a rotor key encryption key (%d bytes, not 32)", k.id, n)
	}
	return resp.Result, nil
}

// Error is a Key Vault refusal, explained. Status is 0 when the vault was not reached.
type Error struct {
	Op     string // wrapKey or unwrapKey
	Key    ID
	Status int
	Code   string // Key Vault's error code and inner code, e.g. "Forbidden/ForbiddenByRbac"
	msg    string
	err    error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

// explain turns an azkeys error into one that says what is wrong and what to do.
func (k *Key) explain(op string, err error) error {
	e := &Error{Op: op, Key: k.id, err: err}
	var authErr *azidentity.AuthenticationFailedError
	var re *azcore.ResponseError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		e.msg = fmt.Sprintf("%s with Key Vault key %s: %v", op, k.id, err)
	case errors.As(err, &authErr):
		e.msg = fmt.Sprintf("%s with Key Vault key %s: %s could not get a token for Key Vault: %s", op, k.id, k.identity, oneLine(authErr.Error()))
	case !errors.As(err, &re):
		e.msg = fmt.Sprintf("%s with Key Vault key %s: cannot reach the vault %s: %v", op, k.id, k.id.Vault, err)
	default:
		code, inner, message := errorBody(re)
		e.Status, e.Code = re.StatusCode, code
		if inner != "" {
			e.Code += "/" + inner
		}
		said := fmt.Sprintf("Key Vault answered %d %s: %s", re.StatusCode, e.Code, message)
		switch {
		case re.StatusCode == 401:
			e.msg = fmt.Sprintf("%s with Key Vault key %s: the vault refused the token of %s (is the vault in that tenant?); %s", op, k.id, k.identity, said)
		case re.StatusCode == 403 && inner == "KeyOperationForbidden":
			e.msg = fmt.Sprintf("%s with Key Vault key %s: the key's permitted operations do not include %s: use a key created with wrapKey and unwrapKey; %s", op, k.id, op, said)
		case re.StatusCode == 403 && inner == "KeyDisabled":
			e.msg = fmt.Sprintf("%s with Key Vault key %s: this version of the key is disabled: enable it in the vault; %s", op, k.id, said)
		case re.StatusCode == 403:
			action := strings.TrimSuffix(strings.ToLower(op), "key")
			e.msg = fmt.Sprintf("%s with Key Vault key %s: %s may not %s with it: assign its identity the Key Vault Crypto User role on the vault or the key "+
				"(or a role granting Microsoft.KeyVault/vaults/keys/%s/action, such as Key Vault Crypto Service Encryption User); "+
				"with access policies instead of RBAC, grant the %s key permission; %s", op, k.id, k.identity, action, action, op, said)
		case re.StatusCode == 404:
			e.msg = fmt.Sprintf("%s with Key Vault key %s: the vault has no key %s with version %s: check the key identifier's name and version, and that the key was not deleted; %s",
				op, k.id, k.id.Name, k.id.Version, said)
		case re.StatusCode == 400 && op == "unwrapKey":
			e.msg = fmt.Sprintf("%s with Key Vault key %s: the vault could not unwrap the value: it was wrapped by another key or version, or it is damaged; %s", op, k.id, said)
		default:
			e.msg = fmt.Sprintf("%s with Key Vault key %s: %s", op, k.id, said)
		}
	}
	return e
}

// errorBody reads Key Vault's error answer: {"error":{"code","message","innererror":{"code"}}}.
func errorBody(re *azcore.ResponseError) (code, inner, message string) {
	code = re.ErrorCode
	if re.RawResponse == nil {
		return code, "", ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return code, "", ""
	}
	var b struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &b) != nil {
		return code, "", oneLine(string(body))
	}
	if b.Error.Code != "" {
		code = b.Error.Code
	}
	if b.Error.InnerError != nil {
		inner = b.Error.InnerError.Code
	}
	return code, inner, oneLine(b.Error.Message)
}

// oneLine joins the lines of a message (Key Vault's 403 message spans several).
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
