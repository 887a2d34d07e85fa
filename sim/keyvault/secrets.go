package keyvault

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Wire models of the Key Vault secrets REST API (SecretBundle, DeletedSecretBundle, SecretItem,
// DeletedSecretItem, SecretAttributes). Optional fields are pointers so that they appear exactly
// when Key Vault sends them.

type attributesJSON struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

type bundleJSON struct {
	RecoveryID         string             `json:"recoveryId,omitempty"`
	DeletedDate        *int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate *int64             `json:"scheduledPurgeDate,omitempty"`
	Value              *string            `json:"value,omitempty"`
	ContentType        *string            `json:"contentType,omitempty"`
	ID                 string             `json:"id"`
	Attributes         attributesJSON     `json:"attributes"`
	Tags               *map[string]string `json:"tags,omitempty"`
}

type listJSON struct {
	Value    []bundleJSON `json:"value"`
	NextLink *string      `json:"nextLink"` // null on the last page, as Key Vault sends it
}

type attributesRequest struct {
	Enabled   *bool  `json:"enabled"`
	NotBefore *int64 `json:"nbf"`
	Expires   *int64 `json:"exp"`
}

type setRequest struct {
	Value       *string            `json:"value"`
	ContentType *string            `json:"contentType"`
	Tags        map[string]string  `json:"tags"`
	Attributes  *attributesRequest `json:"attributes"`
}

type updateRequest struct {
	ContentType *string            `json:"contentType"`
	Tags        *map[string]string `json:"tags"`
	Attributes  *attributesRequest `json:"attributes"`
}

// call is one authorized request. v.mu is held while it runs; the answer is written after the
// lock is released.
type call struct {
	v          *Vault
	r          *http.Request
	body       []byte // the request body, read before taking the lock
	now        time.Time
	op         operation
	apiVersion string
	base       string // vault URL for identifiers
	prepared   newKey // Create Key: the key made before the lock was taken
}

// run performs the operation and returns the status and body to answer with.
func (c *call) run() (int, any, *kvError) {
	var (
		body any
		kerr *kvError
	)
	switch c.op.kind {
	case opSetSecret:
		var req setRequest
		if kerr = c.decode(&req); kerr == nil {
			var ver *version
			if ver, kerr = c.v.set(c.op.name, req, c.now); kerr == nil {
				body = c.bundle(c.v.lookup(c.op.name, c.now), ver, true)
			}
		}
	case opGetSecret:
		body, kerr = c.get()
	case opUpdateSecret:
		body, kerr = c.update()
	case opDeleteSecret:
		body, kerr = c.delete()
	case opListSecrets:
		body, kerr = c.listSecrets()
	case opListVersions:
		body, kerr = c.listVersions()
	case opListDeleted:
		body, kerr = c.listDeleted()
	case opGetDeleted:
		body, kerr = c.getDeleted()
	case opPurgeDeleted:
		if kerr = c.purge(); kerr == nil {
			return http.StatusNoContent, nil, nil
		}
	case opRecoverDeleted:
		body, kerr = c.recover()
	case opBackupSecret:
		body, kerr = c.backup()
	case opRestoreSecret:
		body, kerr = c.restore()
	case opCreateKey:
		body, kerr = c.createKey()
	case opGetKey:
		body, kerr = c.getKey()
	case opWrapKey:
		body, kerr = c.keyOperation(KeyOpWrapKey)
	case opUnwrapKey:
		body, kerr = c.keyOperation(KeyOpUnwrapKey)
	}
	return http.StatusOK, body, kerr
}

// readBody reads at most 1 MiB of request body: more than any valid request (25 KB values).
func readBody(r *http.Request) ([]byte, *kvError) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, badParameter("The request body could not be read.")
	}
	return data, nil
}

func (c *call) decode(dst any) *kvError {
	if len(strings.TrimSpace(string(c.body))) == 0 {
		return badParameter("The request body is missing: a JSON object is required.")
	}
	if err := json.Unmarshal(c.body, dst); err != nil {
		return badParameter("The request body is not valid JSON: " + err.Error())
	}
	return nil
}

func validateProperties(contentType *string, tags map[string]string) *kvError {
	if contentType != nil && utf8.RuneCountInString(*contentType) > maxContentTypeLen {
		return badParameter(fmt.Sprintf("The content type exceeds the maximum length of %d characters.", maxContentTypeLen))
	}
	if len(tags) > maxTags {
		return badParameter(fmt.Sprintf("A secret can have at most %d tags; %d were given.", maxTags, len(tags)))
	}
	for k, val := range tags {
		if utf8.RuneCountInString(k) > maxTagNameLen {
			return badParameter(fmt.Sprintf("Tag names can be at most %d characters long.", maxTagNameLen))
		}
		if utf8.RuneCountInString(val) > maxTagValueLen {
			return badParameter(fmt.Sprintf("The value of tag %q exceeds %d characters.", k, maxTagValueLen))
		}
	}
	return nil
}

// set adds a version to a secret (Set Secret). Callers hold v.mu.
func (v *Vault) set(name string, req setRequest, now time.Time) (*version, *kvError) {
	if req.Value == nil {
		return nil, badParameter("Property 'value' is required.")
	}
	if len(*req.Value) > maxValueBytes {
		return nil, badParameter(fmt.Sprintf("The secret value is %d bytes long; the maximum size is %d bytes.", len(*req.Value), maxValueBytes))
	}
	if kerr := validateProperties(req.ContentType, req.Tags); kerr != nil {
		return nil, kerr
	}
	o := v.lookup(name, now)
	if o != nil {
		visible := !now.Before(o.visibleAt)
		switch {
		case o.state == stateDeleted && visible:
			return nil, deletedButRecoverable(o.name)
		case o.state == stateDeleted || o.state == statePurging:
			return nil, beingDeleted(o.name)
		case !visible: // being recovered
			return nil, parallelConflict(o.name)
		}
	}
	ts := now.Unix()
	ver := &version{id: newVersionID(), value: []byte(*req.Value), enabled: true, created: ts, updated: ts}
	if req.ContentType != nil {
		ver.contentType = *req.ContentType
	}
	if req.Tags != nil {
		ver.tags = maps.Clone(req.Tags)
	}
	if a := req.Attributes; a != nil {
		if a.Enabled != nil {
			ver.enabled = *a.Enabled
		}
		ver.nbf, ver.exp = a.NotBefore, a.Expires
	}
	if o == nil {
		o = &object{name: name, versions: map[string]*version{}}
		v.objects[strings.ToLower(name)] = o
	}
	o.versions[ver.id] = ver
	o.order = append(o.order, ver.id)
	return ver, nil
}

// active returns the secret if it is visible in /secrets.
func (c *call) active() (*object, *kvError) {
	o := c.v.lookup(c.op.name, c.now)
	if o == nil || o.state != stateActive || c.now.Before(o.visibleAt) {
		return nil, secretNotFound(c.op.name)
	}
	return o, nil
}

// deleted returns the secret if it is visible in /deletedsecrets.
func (c *call) deleted() (*object, *kvError) {
	o := c.v.lookup(c.op.name, c.now)
	if o == nil || o.state != stateDeleted || c.now.Before(o.visibleAt) {
		return nil, deletedSecretNotFound(c.op.name)
	}
	return o, nil
}

// version returns the addressed version of an active secret: the current one when the path
// gives none.
func (c *call) version() (*object, *version, *kvError) {
	o, kerr := c.active()
	if kerr != nil {
		return nil, nil, kerr
	}
	if c.op.version == "" {
		return o, o.current(), nil
	}
	ver := o.versions[strings.ToLower(c.op.version)]
	if !versionRe.MatchString(c.op.version) || ver == nil {
		return nil, nil, secretNotFound(c.op.name + "/" + c.op.version)
	}
	return o, ver, nil
}

func (c *call) get() (any, *kvError) {
	o, ver, kerr := c.version()
	if kerr != nil {
		return nil, kerr
	}
	// "A secret's get operation will work for not-yet-valid and expired secrets" (About Azure
	// Key Vault secrets): nbf and exp are informational; only enabled is enforced.
	if !ver.enabled {
		return nil, secretDisabled()
	}
	return c.bundle(o, ver, true), nil
}

func (c *call) update() (any, *kvError) {
	o, ver, kerr := c.version()
	if kerr != nil {
		return nil, kerr
	}
	var req updateRequest
	if kerr := c.decode(&req); kerr != nil {
		return nil, kerr
	}
	var tags map[string]string
	if req.Tags != nil {
		tags = *req.Tags
	}
	if kerr := validateProperties(req.ContentType, tags); kerr != nil {
		return nil, kerr
	}
	if req.ContentType != nil {
		ver.contentType = *req.ContentType
	}
	if req.Tags != nil {
		ver.tags = maps.Clone(*req.Tags)
		if ver.tags == nil {
			ver.tags = map[string]string{}
		}
	}
	if a := req.Attributes; a != nil {
		if a.Enabled != nil {
			ver.enabled = *a.Enabled
		}
		if a.NotBefore != nil {
			ver.nbf = a.NotBefore
		}
		if a.Expires != nil {
			ver.exp = a.Expires
		}
	}
	ver.updated = c.now.Unix()
	return c.bundle(o, ver, false), nil
}

func (c *call) delete() (any, *kvError) {
	o, kerr := c.active()
	if kerr != nil {
		return nil, kerr
	}
	o.state = stateDeleted
	o.deletedAt = c.now
	o.purgeAt = c.now.AddDate(0, 0, c.v.cfg.SoftDeleteRetentionDays)
	o.visibleAt = c.now.Add(c.v.cfg.Propagation.Delete)
	return c.deletedBundle(o, true), nil
}

func (c *call) getDeleted() (any, *kvError) {
	o, kerr := c.deleted()
	if kerr != nil {
		return nil, kerr
	}
	return c.deletedBundle(o, true), nil
}

func (c *call) recover() (any, *kvError) {
	o, kerr := c.deleted()
	if kerr != nil {
		return nil, kerr
	}
	o.state = stateActive
	o.deletedAt, o.purgeAt = time.Time{}, time.Time{}
	o.visibleAt = c.now.Add(c.v.cfg.Propagation.Recover)
	return c.bundle(o, o.current(), false), nil
}

func (c *call) purge() *kvError {
	o, kerr := c.deleted()
	if kerr != nil {
		return kerr
	}
	if c.v.cfg.PurgeProtection {
		return purgeProtected()
	}
	if c.v.cfg.Propagation.Purge <= 0 {
		delete(c.v.objects, strings.ToLower(o.name))
		return nil
	}
	o.state = statePurging
	o.freeAt = c.now.Add(c.v.cfg.Propagation.Purge)
	return nil
}

func (c *call) id(o *object, ver *version) string {
	id := c.base + "/secrets/" + o.name
	if ver != nil {
		id += "/" + ver.id
	}
	return id
}

func (c *call) attributes(ver *version) attributesJSON {
	return attributesJSON{
		Enabled:         ver.enabled,
		NotBefore:       ver.nbf,
		Expires:         ver.exp,
		Created:         ver.created,
		Updated:         ver.updated,
		RecoveryLevel:   c.v.recoveryLevel(),
		RecoverableDays: c.v.cfg.SoftDeleteRetentionDays,
	}
}

// item is a SecretItem: identifier, attributes, content type and tags, never the value.
func (c *call) item(o *object, ver *version, versioned bool) bundleJSON {
	b := bundleJSON{Attributes: c.attributes(ver)}
	if versioned {
		b.ID = c.id(o, ver)
	} else {
		b.ID = c.id(o, nil)
	}
	if ver.contentType != "" {
		b.ContentType = ptr(ver.contentType)
	}
	if ver.tags != nil {
		b.Tags = ptr(maps.Clone(ver.tags))
	}
	return b
}

// bundle is a SecretBundle; withValue for get and set, not for update, recover and restore.
func (c *call) bundle(o *object, ver *version, withValue bool) bundleJSON {
	b := c.item(o, ver, true)
	if withValue {
		b.Value = ptr(string(ver.value))
	}
	return b
}

// deletedBundle is a DeletedSecretBundle (versioned id) or, for lists, a DeletedSecretItem.
func (c *call) deletedBundle(o *object, versioned bool) bundleJSON {
	b := c.item(o, o.current(), versioned)
	b.RecoveryID = c.base + "/deletedsecrets/" + o.name
	b.DeletedDate = ptr(o.deletedAt.Unix())
	b.ScheduledPurgeDate = ptr(o.purgeAt.Unix())
	return b
}

// Paging. Key Vault returns at most maxresults items (1-25, default 25) and a nextLink carrying
// a $skiptoken; the last page has "nextLink": null. The skiptoken here is base64url JSON
// {"NextMarker": <key of the last item returned>, "TargetLocation": 0}, shaped like Key Vault's.

const maxPageSize = 25

type skipToken struct {
	NextMarker     string `json:"NextMarker"`
	TargetLocation int    `json:"TargetLocation"`
}

func (c *call) paging() (size int, after string, kerr *kvError) {
	q := c.r.URL.Query()
	size = maxPageSize
	if s := q.Get("maxresults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return 0, "", badParameter(fmt.Sprintf("Invalid maxresults value %q: it must be an integer between 1 and %d.", s, maxPageSize))
		}
		size = n
	}
	if s := q.Get("$skiptoken"); s != "" {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		var tok skipToken
		if err != nil || json.Unmarshal(raw, &tok) != nil || tok.NextMarker == "" {
			return 0, "", badParameter("The $skiptoken is not valid.")
		}
		after = tok.NextMarker
	}
	return size, after, nil
}

// page returns the items whose keys sort after `after`, at most size of them, and the next link.
func page[T any](c *call, keys []string, items []T, size int, after string) ([]T, *string) {
	start, _ := slices.BinarySearch(keys, after)
	if start < len(keys) && keys[start] == after {
		start++
	}
	end := min(start+size, len(keys))
	out := items[start:end]
	if end >= len(keys) {
		return out, nil
	}
	tok, _ := json.Marshal(skipToken{NextMarker: keys[end-1]})
	next := fmt.Sprintf("%s%s?api-version=%s&$skiptoken=%s", c.base, c.r.URL.Path, c.apiVersion,
		base64.RawURLEncoding.EncodeToString(tok))
	if m := c.r.URL.Query().Get("maxresults"); m != "" {
		next += "&maxresults=" + m
	}
	return out, &next
}

func (c *call) listSecrets() (any, *kvError) {
	size, after, kerr := c.paging()
	if kerr != nil {
		return nil, kerr
	}
	var keys []string
	var items []bundleJSON
	for _, o := range c.v.sortedObjects(c.now) {
		if o.state == stateActive && !c.now.Before(o.visibleAt) {
			keys = append(keys, strings.ToLower(o.name))
			items = append(items, c.item(o, o.current(), false))
		}
	}
	value, next := page(c, keys, items, size, after)
	return listJSON{Value: nonNil(value), NextLink: next}, nil
}

// listVersions lists a secret's versions in version id order, as Key Vault does. A secret that
// does not exist has no versions: an empty list, not a 404.
func (c *call) listVersions() (any, *kvError) {
	size, after, kerr := c.paging()
	if kerr != nil {
		return nil, kerr
	}
	var keys []string
	var items []bundleJSON
	if o, kerr := c.active(); kerr == nil {
		keys = slices.Sorted(maps.Keys(o.versions))
		for _, k := range keys {
			items = append(items, c.item(o, o.versions[k], true))
		}
	}
	value, next := page(c, keys, items, size, after)
	return listJSON{Value: nonNil(value), NextLink: next}, nil
}

func (c *call) listDeleted() (any, *kvError) {
	size, after, kerr := c.paging()
	if kerr != nil {
		return nil, kerr
	}
	var keys []string
	var items []bundleJSON
	for _, o := range c.v.sortedObjects(c.now) {
		if o.state == stateDeleted && !c.now.Before(o.visibleAt) {
			keys = append(keys, strings.ToLower(o.name))
			items = append(items, c.deletedBundle(o, false))
		}
	}
	value, next := page(c, keys, items, size, after)
	return listJSON{Value: nonNil(value), NextLink: next}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
