package keyvault

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"
)

// The keys part of the data plane: create, get, wrapKey and unwrapKey of RSA keys, which is what
// a client needs to protect a key encryption key with a vault key (envelope encryption). Wire
// models follow the Key Vault keys REST API (KeyBundle, JsonWebKey, KeyAttributes,
// KeyOperationsParameters, KeyOperationResult) and the sessions Microsoft recorded for azkeys.

// Key types the simulator creates. EC and symmetric (oct) keys are not simulated.
const (
	KeyTypeRSA    = "RSA"
	KeyTypeRSAHSM = "RSA-HSM"
)

// Key operations (JsonWebKeyOperation).
const (
	KeyOpEncrypt   = "encrypt"
	KeyOpDecrypt   = "decrypt"
	KeyOpSign      = "sign"
	KeyOpVerify    = "verify"
	KeyOpWrapKey   = "wrapKey"
	KeyOpUnwrapKey = "unwrapKey"
	KeyOpImport    = "import"
	KeyOpExport    = "export"
)

// Key wrapping algorithms (JsonWebKeyEncryptionAlgorithm) of RSA keys.
const (
	AlgRSAOAEP256 = "RSA-OAEP-256"
	AlgRSAOAEP    = "RSA-OAEP"
	AlgRSA15      = "RSA1_5"
)

// defaultKeyOps are the operations of an RSA key created without key_ops, as Key Vault answers
// (recorded azkeys session TestCRUD/RSA).
var defaultKeyOps = []string{KeyOpEncrypt, KeyOpDecrypt, KeyOpSign, KeyOpVerify, KeyOpWrapKey, KeyOpUnwrapKey}

var knownKeyOps = []string{KeyOpEncrypt, KeyOpDecrypt, KeyOpSign, KeyOpVerify, KeyOpWrapKey, KeyOpUnwrapKey, KeyOpImport, KeyOpExport}

// rsaKeySizes are the RSA modulus sizes Key Vault creates ("2048, 3072, or 4096 for RSA").
var rsaKeySizes = []int{2048, 3072, 4096}

const defaultRSAKeySize = 2048

type keyObject struct {
	name     string                 // as first created
	versions map[string]*keyVersion // by lower-case version id
	order    []string               // creation order; the last is current
}

type keyVersion struct {
	id       string
	kty      string
	priv     *rsa.PrivateKey
	ops      []string
	tags     map[string]string // nil: none given
	enabled  bool
	nbf, exp *int64 // IntDate
	created  int64
	updated  int64
}

func (o *keyObject) current() *keyVersion { return o.versions[o.order[len(o.order)-1]] }

func (kv *keyVersion) allows(op string) bool { return slices.Contains(kv.ops, op) }

// Wire models.

type jwkJSON struct {
	KID    string   `json:"kid"`
	Kty    string   `json:"kty"`
	KeyOps []string `json:"key_ops"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

type keyAttributesJSON struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
	Exportable      bool   `json:"exportable"`
}

type keyBundleJSON struct {
	Key        jwkJSON            `json:"key"`
	Attributes keyAttributesJSON  `json:"attributes"`
	Tags       *map[string]string `json:"tags,omitempty"`
}

type keyAttributesRequest struct {
	Enabled    *bool  `json:"enabled"`
	NotBefore  *int64 `json:"nbf"`
	Expires    *int64 `json:"exp"`
	Exportable *bool  `json:"exportable"`
}

type createKeyRequest struct {
	Kty            *string               `json:"kty"`
	KeySize        *int                  `json:"key_size"`
	PublicExponent *int                  `json:"public_exponent"`
	KeyOps         []string              `json:"key_ops"`
	Crv            *string               `json:"crv"`
	Attributes     *keyAttributesRequest `json:"attributes"`
	Tags           map[string]string     `json:"tags"`
	ReleasePolicy  json.RawMessage       `json:"release_policy"`
}

type keyOperationRequest struct {
	Alg   *string `json:"alg"`
	Value *string `json:"value"`
}

type keyOperationResultJSON struct {
	KID   string `json:"kid"`
	Value string `json:"value"`
}

// newKey is a key version made before the vault's lock is taken (RSA key generation takes a
// while), with the error the request earns, reported after authorization.
type newKey struct {
	ver  *keyVersion
	kerr *kvError
}

// prepareCreate decodes and checks a Create Key request and generates its key pair.
func prepareCreate(body []byte, now time.Time) newKey {
	var req createKeyRequest
	if kerr := decodeBody(body, &req); kerr != nil {
		return newKey{kerr: kerr}
	}
	p := KeyProperties{Tags: req.Tags}
	switch {
	case req.Kty == nil || *req.Kty == "":
		return newKey{kerr: badParameter("Property 'kty' is required.")}
	case *req.Kty == KeyTypeRSA:
	case *req.Kty == KeyTypeRSAHSM:
		p.HSM = true
	case slices.Contains([]string{"EC", "EC-HSM", "oct", "oct-HSM"}, *req.Kty):
		return newKey{kerr: notSimulated(fmt.Sprintf("The rotor simulator does not simulate %s keys: only RSA and RSA-HSM.", *req.Kty))}
	default:
		return newKey{kerr: badParameter(fmt.Sprintf("Invalid key type (kty) '%s'.", *req.Kty))}
	}
	if req.Crv != nil {
		return newKey{kerr: badParameter("Property 'crv' is not valid for RSA keys.")}
	}
	if len(req.ReleasePolicy) > 0 && string(req.ReleasePolicy) != "null" {
		return newKey{kerr: notSimulated("The rotor simulator does not simulate key release policies.")}
	}
	if req.KeySize != nil {
		p.Size = *req.KeySize
	}
	if req.PublicExponent != nil && *req.PublicExponent != 65537 {
		return newKey{kerr: badParameter(fmt.Sprintf("Public exponent %d is not supported: use 65537.", *req.PublicExponent))}
	}
	if req.KeyOps != nil {
		p.Ops = req.KeyOps
		if len(p.Ops) == 0 {
			p.Ops = []string{}
		}
	}
	if a := req.Attributes; a != nil {
		if a.Exportable != nil && *a.Exportable {
			return newKey{kerr: notSimulated("The rotor simulator does not simulate exportable keys (they need a release policy).")}
		}
		p.Enabled = a.Enabled
		p.NotBefore, p.Expires = a.NotBefore, a.Expires
	}
	ver, kerr := generateKey(p, now)
	return newKey{ver: ver, kerr: kerr}
}

// generateKey checks p and makes a key version from it.
func generateKey(p KeyProperties, now time.Time) (*keyVersion, *kvError) {
	size := p.Size
	if size == 0 {
		size = defaultRSAKeySize
	}
	if !slices.Contains(rsaKeySizes, size) {
		return nil, badParameter(fmt.Sprintf("Invalid key size %d for an RSA key: use 2048, 3072 or 4096.", size))
	}
	ops := defaultKeyOps
	if p.Ops != nil {
		ops = p.Ops
	}
	for _, op := range ops {
		if !slices.Contains(knownKeyOps, op) {
			return nil, badParameter(fmt.Sprintf("Invalid key operation '%s'.", op))
		}
	}
	if len(p.Tags) > maxTags {
		return nil, badParameter(fmt.Sprintf("A key can have at most %d tags; %d were given.", maxTags, len(p.Tags)))
	}
	if kerr := validateProperties(nil, p.Tags); kerr != nil {
		return nil, kerr
	}
	priv, err := rsa.GenerateKey(rand.Reader, size)
	if err != nil {
		return nil, &kvError{status: 500, code: "InternalServerError", message: "Key generation failed."}
	}
	ts := now.Unix()
	kv := &keyVersion{id: newVersionID(), kty: KeyTypeRSA, priv: priv, ops: slices.Clone(ops), enabled: true,
		nbf: p.NotBefore, exp: p.Expires, created: ts, updated: ts}
	if p.HSM {
		kv.kty = KeyTypeRSAHSM
	}
	if p.Enabled != nil {
		kv.enabled = *p.Enabled
	}
	if p.Tags != nil {
		kv.tags = maps.Clone(p.Tags)
	}
	return kv, nil
}

// addKey adds ver as the newest version of the key name ("If the named key already exists, Azure
// Key Vault creates a new version of the key"). Callers hold v.mu.
func (v *Vault) addKey(name string, ver *keyVersion) *keyObject {
	k := strings.ToLower(name)
	o := v.keys[k]
	if o == nil {
		o = &keyObject{name: name, versions: map[string]*keyVersion{}}
		v.keys[k] = o
	}
	o.versions[ver.id] = ver
	o.order = append(o.order, ver.id)
	return o
}

// keyVersion returns the addressed version of a key: the newest one when the path gives none.
func (c *call) keyVersion() (*keyObject, *keyVersion, *kvError) {
	o := c.v.keys[strings.ToLower(c.op.name)]
	if o == nil {
		return nil, nil, keyNotFound(c.op.name)
	}
	if c.op.version == "" {
		return o, o.current(), nil
	}
	ver := o.versions[strings.ToLower(c.op.version)]
	if !versionRe.MatchString(c.op.version) || ver == nil {
		return nil, nil, keyNotFound(c.op.name + "/" + c.op.version)
	}
	return o, ver, nil
}

func (c *call) createKey() (any, *kvError) {
	if c.prepared.kerr != nil {
		return nil, c.prepared.kerr
	}
	o := c.v.addKey(c.op.name, c.prepared.ver)
	return c.keyBundle(o, c.prepared.ver), nil
}

func (c *call) getKey() (any, *kvError) {
	o, ver, kerr := c.keyVersion()
	if kerr != nil {
		return nil, kerr
	}
	// Get returns the public part only, also for disabled keys and outside nbf/exp (the recorded
	// TestCRUD/RSA session gets a key whose nbf is in the future).
	return c.keyBundle(o, ver), nil
}

// keyOperation runs wrapKey or unwrapKey.
func (c *call) keyOperation(op string) (any, *kvError) {
	o, ver, kerr := c.keyVersion()
	if kerr != nil {
		return nil, kerr
	}
	var req keyOperationRequest
	if kerr := c.decode(&req); kerr != nil {
		return nil, kerr
	}
	if req.Alg == nil || *req.Alg == "" {
		return nil, badParameter("Property 'alg' is required.")
	}
	if req.Value == nil {
		return nil, badParameter("Property 'value' is required.")
	}
	in, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(*req.Value, "="))
	if err != nil {
		return nil, badParameter("Content of 'value' is not base64url.\r\nProperty 'value' is required.\r\n")
	}
	if !ver.enabled {
		return nil, keyDisabled(op)
	}
	if !ver.allows(op) {
		return nil, keyOperationForbidden(op)
	}
	var out []byte
	if op == KeyOpWrapKey {
		out, kerr = rsaWrap(ver.priv, *req.Alg, in)
	} else {
		out, kerr = rsaUnwrap(ver.priv, *req.Alg, in)
	}
	if kerr != nil {
		return nil, kerr
	}
	return keyOperationResultJSON{KID: c.keyID(o, ver), Value: base64.RawURLEncoding.EncodeToString(out)}, nil
}

func oaepHash(alg string) (crypto.Hash, bool) {
	switch alg {
	case AlgRSAOAEP256:
		return crypto.SHA256, true
	case AlgRSAOAEP:
		return crypto.SHA1, true
	}
	return 0, false
}

func unsupportedAlgorithm(alg string) *kvError {
	return badParameter(fmt.Sprintf("Algorithm '%s' is not supported for key type RSA: use RSA-OAEP-256, RSA-OAEP or RSA1_5.", alg))
}

func rsaWrap(priv *rsa.PrivateKey, alg string, plain []byte) ([]byte, *kvError) {
	var (
		out []byte
		err error
	)
	if h, ok := oaepHash(alg); ok {
		hf := sha256.New()
		if h == crypto.SHA1 {
			hf = sha1.New()
		}
		out, err = rsa.EncryptOAEP(hf, rand.Reader, &priv.PublicKey, plain, nil)
	} else if alg == AlgRSA15 {
		//lint:ignore SA1019 Key Vault offers RSA1_5 for wrapKey ("not recommended"); the simulator reproduces it.
		out, err = rsa.EncryptPKCS1v15(rand.Reader, &priv.PublicKey, plain)
	} else {
		return nil, unsupportedAlgorithm(alg)
	}
	if errors.Is(err, rsa.ErrMessageTooLong) {
		return nil, badParameter(fmt.Sprintf("The value is too long (%d bytes) to be wrapped with this key and algorithm %s.", len(plain), alg))
	}
	if err != nil {
		return nil, badParameter("The value could not be wrapped: " + err.Error())
	}
	return out, nil
}

func rsaUnwrap(priv *rsa.PrivateKey, alg string, ct []byte) ([]byte, *kvError) {
	if h, ok := oaepHash(alg); ok {
		hf := sha256.New()
		if h == crypto.SHA1 {
			hf = sha1.New()
		}
		out, err := rsa.DecryptOAEP(hf, nil, priv, ct, nil)
		if err != nil {
			// The answer Key Vault gives for a value wrapped by another key or version
			// (Azure/azure-sdk-for-net#36269).
			return nil, badParameter("Error occurred while decoding OAEP padding.")
		}
		return out, nil
	}
	if alg == AlgRSA15 {
		//lint:ignore SA1019 Key Vault offers RSA1_5 for unwrapKey ("not recommended"); the simulator reproduces it.
		out, err := rsa.DecryptPKCS1v15(nil, priv, ct)
		if err != nil {
			return nil, badParameter("Error occurred while decoding PKCS1 padding.")
		}
		return out, nil
	}
	return nil, unsupportedAlgorithm(alg)
}

func (c *call) keyID(o *keyObject, ver *keyVersion) string {
	return c.base + "/keys/" + o.name + "/" + ver.id
}

func (c *call) keyBundle(o *keyObject, ver *keyVersion) keyBundleJSON {
	b := keyBundleJSON{
		Key: jwkJSON{KID: c.keyID(o, ver), Kty: ver.kty, KeyOps: nonNil(slices.Clone(ver.ops)),
			N: base64.RawURLEncoding.EncodeToString(ver.priv.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(ver.priv.E)).Bytes())},
		Attributes: keyAttributesJSON{Enabled: ver.enabled, NotBefore: ver.nbf, Expires: ver.exp, Created: ver.created, Updated: ver.updated,
			RecoveryLevel: c.v.recoveryLevel(), RecoverableDays: c.v.cfg.SoftDeleteRetentionDays},
	}
	if ver.tags != nil {
		b.Tags = ptr(maps.Clone(ver.tags))
	}
	return b
}

// decodeBody decodes a JSON request body, as call.decode does.
func decodeBody(body []byte, dst any) *kvError {
	c := call{body: body}
	return c.decode(dst)
}

// KeyProperties describe a new key version made with CreateKey.
type KeyProperties struct {
	// Size of the RSA modulus in bits: 2048 (default), 3072 or 4096.
	Size int
	// HSM makes an RSA-HSM key (a premium vault's); the simulator protects both alike.
	HSM bool
	// Ops are the permitted operations; nil: encrypt, decrypt, sign, verify, wrapKey, unwrapKey.
	Ops []string
	// Tags, at most 15.
	Tags map[string]string
	// Enabled defaults to true.
	Enabled *bool
	// NotBefore and Expires are IntDates (seconds since the epoch), informational.
	NotBefore, Expires *int64
}

// CreateKey adds a version to an RSA key, as the Create Key operation does, without going
// through HTTP or RBAC: for seeding a vault. It returns the new version's id.
func (v *Vault) CreateKey(name string, p KeyProperties) (string, error) {
	if kerr := validateName(name); kerr != nil {
		return "", kerr
	}
	ver, kerr := generateKey(p, v.clock.Now())
	if kerr != nil {
		return "", kerr
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.addKey(name, ver)
	return ver.id, nil
}

// UnwrapKey unwraps value with a version of the key name (the newest when version is empty), as
// the Unwrap Key operation does, without HTTP or RBAC: for tests that check what a client
// wrapped. It honours the key's operations and enabled flag like the REST operation.
func (v *Vault) UnwrapKey(name, version, alg string, value []byte) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := &call{v: v, op: operation{kind: opUnwrapKey, name: name, version: version}}
	_, ver, kerr := c.keyVersion()
	if kerr != nil {
		return nil, kerr
	}
	if !ver.enabled {
		return nil, keyDisabled(KeyOpUnwrapKey)
	}
	if !ver.allows(KeyOpUnwrapKey) {
		return nil, keyOperationForbidden(KeyOpUnwrapKey)
	}
	out, kerr := rsaUnwrap(ver.priv, alg, value)
	if kerr != nil {
		return nil, kerr
	}
	return out, nil
}

// KeySnapshot is one key with all its versions, without private material.
type KeySnapshot struct {
	Name     string
	Versions []KeyVersionSnapshot // in creation order; the last is current
}

// KeyVersionSnapshot is one version of a key: its public part and attributes.
type KeyVersionSnapshot struct {
	ID        string
	Kty       string
	Size      int // modulus bits
	Ops       []string
	PublicKey *rsa.PublicKey
	Tags      map[string]string
	Enabled   bool
	Created   time.Time
	Updated   time.Time
}

// keySnapshots lists the keys in name order. Callers hold v.mu.
func (v *Vault) keySnapshots() []KeySnapshot {
	var out []KeySnapshot
	for _, k := range slices.Sorted(maps.Keys(v.keys)) {
		o := v.keys[k]
		ks := KeySnapshot{Name: o.name}
		for _, id := range o.order {
			ver := o.versions[id]
			pub := ver.priv.PublicKey
			ks.Versions = append(ks.Versions, KeyVersionSnapshot{ID: ver.id, Kty: ver.kty, Size: ver.priv.N.BitLen(), Ops: slices.Clone(ver.ops),
				PublicKey: &pub, Tags: maps.Clone(ver.tags), Enabled: ver.enabled,
				Created: time.Unix(ver.created, 0).UTC(), Updated: time.Unix(ver.updated, 0).UTC()})
		}
		out = append(out, ks)
	}
	return out
}
