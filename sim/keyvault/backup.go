package keyvault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
)

// Backup blobs are opaque to clients. The simulator's are AES-GCM sealed JSON under a key that
// lives for the process, so a blob restores into any vault of the same simulator, the way Key
// Vault restores only within the same Azure geography and subscription.

const backupPrefix = "RotorSimSecretBackupV1."

var backupAEAD = sync.OnceValue(func() cipher.AEAD {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("keyvault: read random key: %v", err))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(fmt.Sprintf("keyvault: backup cipher: %v", err))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("keyvault: backup cipher: %v", err))
	}
	return aead
})

type backupBlob struct {
	Name     string          `json:"name"`
	Versions []backupVersion `json:"versions"` // creation order
}

type backupVersion struct {
	ID          string            `json:"id"`
	Value       []byte            `json:"value"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	TagsSet     bool              `json:"tagsSet,omitempty"`
	Enabled     bool              `json:"enabled"`
	NotBefore   *int64            `json:"nbf,omitempty"`
	Expires     *int64            `json:"exp,omitempty"`
	Created     int64             `json:"created"`
	Updated     int64             `json:"updated"`
}

type backupJSON struct {
	Value string `json:"value"`
}

type restoreRequest struct {
	Value *string `json:"value"`
}

func (c *call) backup() (any, *kvError) {
	o, kerr := c.active()
	if kerr != nil {
		return nil, kerr
	}
	if len(o.order) > maxBackupVersions {
		// "Key Vault does not support the ability to backup more than 500 past versions of a
		// key, secret, or certificate object." (Azure Key Vault backup and restore)
		return nil, badParameter(fmt.Sprintf("Secret %s has %d versions: backing up more than %d versions is not supported.", o.name, len(o.order), maxBackupVersions))
	}
	b := backupBlob{Name: o.name}
	for _, id := range o.order {
		v := o.versions[id]
		b.Versions = append(b.Versions, backupVersion{
			ID: v.id, Value: v.value, ContentType: v.contentType, Tags: v.tags, TagsSet: v.tags != nil,
			Enabled: v.enabled, NotBefore: v.nbf, Expires: v.exp, Created: v.created, Updated: v.updated,
		})
	}
	plain, err := json.Marshal(b)
	if err != nil {
		return nil, &kvError{status: 500, code: "InternalServerError", message: "encode backup"}
	}
	aead := backupAEAD()
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, &kvError{status: 500, code: "InternalServerError", message: "backup nonce"}
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(backupPrefix))
	return backupJSON{Value: base64.RawURLEncoding.EncodeToString(append([]byte(backupPrefix), sealed...))}, nil
}

func openBackup(s string) (backupBlob, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || !strings.HasPrefix(string(raw), backupPrefix) {
		return backupBlob{}, false
	}
	raw = raw[len(backupPrefix):]
	aead := backupAEAD()
	if len(raw) < aead.NonceSize() {
		return backupBlob{}, false
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(backupPrefix))
	if err != nil {
		return backupBlob{}, false
	}
	var b backupBlob
	if json.Unmarshal(plain, &b) != nil || b.Name == "" || len(b.Versions) == 0 {
		return backupBlob{}, false
	}
	return b, true
}

func (c *call) restore() (any, *kvError) {
	var req restoreRequest
	if kerr := c.decode(&req); kerr != nil {
		return nil, kerr
	}
	if req.Value == nil {
		return nil, badParameter("Property 'value' is required.")
	}
	b, ok := openBackup(*req.Value)
	if !ok {
		return nil, badParameter("The backup blob is invalid or was not produced by this simulator.")
	}
	last := b.Versions[len(b.Versions)-1]
	if c.v.lookup(b.Name, c.now) != nil {
		return nil, restoreConflict(c.base + "/secrets/" + b.Name + "/" + last.ID)
	}
	o := &object{name: b.Name, versions: map[string]*version{}}
	for _, bv := range b.Versions {
		v := &version{
			id: bv.ID, value: bv.Value, contentType: bv.ContentType, enabled: bv.Enabled,
			nbf: bv.NotBefore, exp: bv.Expires, created: bv.Created, updated: bv.Updated,
		}
		if bv.TagsSet {
			v.tags = maps.Clone(bv.Tags)
			if v.tags == nil {
				v.tags = map[string]string{}
			}
		}
		o.versions[strings.ToLower(v.id)] = v
		o.order = append(o.order, strings.ToLower(v.id))
	}
	c.v.objects[strings.ToLower(o.name)] = o
	return c.bundle(o, o.current(), false), nil
}
