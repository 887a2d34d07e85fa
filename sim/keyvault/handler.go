package keyvault

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ServiceVersion is what the vault reports in x-ms-keyvault-service-version.
const ServiceVersion = "1.9.0.0"

type opKind int

const (
	opListSecrets opKind = iota
	opSetSecret
	opGetSecret
	opUpdateSecret
	opDeleteSecret
	opListVersions
	opBackupSecret
	opRestoreSecret
	opListDeleted
	opGetDeleted
	opPurgeDeleted
	opRecoverDeleted
	// Keys; every kind from opCreateKey on concerns a key.
	opCreateKey
	opGetKey
	opWrapKey
	opUnwrapKey
)

func (k opKind) isKey() bool { return k >= opCreateKey }

// operation is a resolved request: what to do, on what, and the data action it needs.
type operation struct {
	kind    opKind
	name    string // secret or key name; empty for vault-wide operations
	version string // empty: the current version
	action  string
}

var opActions = map[opKind]string{
	opListSecrets:    ActionReadMetadata,
	opSetSecret:      ActionSetSecret,
	opGetSecret:      ActionGetSecret,
	opUpdateSecret:   ActionUpdate,
	opDeleteSecret:   ActionDelete,
	opListVersions:   ActionReadMetadata,
	opBackupSecret:   ActionBackup,
	opRestoreSecret:  ActionRestore,
	opListDeleted:    ActionReadMetadata,
	opGetDeleted:     ActionReadMetadata,
	opPurgeDeleted:   ActionPurge,
	opRecoverDeleted: ActionRecover,
	opCreateKey:      ActionKeyCreate,
	opGetKey:         ActionKeyRead,
	opWrapKey:        ActionKeyWrap,
	opUnwrapKey:      ActionKeyUnwrap,
}

// resolve maps a method and path to an operation, following the paths of the Key Vault secrets
// and keys REST APIs. A trailing empty segment ("/secrets/name/", "/keys/name/") or an empty
// version ("/keys/name//wrapkey") addresses the current version.
func resolve(method, path string) (operation, *kvError) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	byMethod := func(m map[string]operation) (operation, *kvError) {
		op, ok := m[method]
		if !ok {
			return operation{}, &kvError{status: http.StatusMethodNotAllowed, code: "MethodNotAllowed",
				message: fmt.Sprintf("The requested resource does not support http method '%s'.", method)}
		}
		op.action = opActions[op.kind]
		return op, nil
	}
	n := len(segs)
	switch segs[0] {
	case "secrets":
		switch {
		case n == 1 || (n == 2 && segs[1] == ""):
			return byMethod(map[string]operation{http.MethodGet: {kind: opListSecrets}})
		case n == 2 && segs[1] == "restore":
			return byMethod(map[string]operation{
				http.MethodPost:   {kind: opRestoreSecret},
				http.MethodPut:    {kind: opSetSecret, name: "restore"},
				http.MethodGet:    {kind: opGetSecret, name: "restore"},
				http.MethodPatch:  {kind: opUpdateSecret, name: "restore"},
				http.MethodDelete: {kind: opDeleteSecret, name: "restore"},
			})
		case n == 2:
			name := segs[1]
			return byMethod(map[string]operation{
				http.MethodPut:    {kind: opSetSecret, name: name},
				http.MethodGet:    {kind: opGetSecret, name: name},
				http.MethodPatch:  {kind: opUpdateSecret, name: name},
				http.MethodDelete: {kind: opDeleteSecret, name: name},
			})
		case n == 3 && segs[2] == "versions":
			return byMethod(map[string]operation{http.MethodGet: {kind: opListVersions, name: segs[1]}})
		case n == 3 && segs[2] == "backup":
			return byMethod(map[string]operation{http.MethodPost: {kind: opBackupSecret, name: segs[1]}})
		case n == 3:
			name, ver := segs[1], segs[2]
			return byMethod(map[string]operation{
				http.MethodGet:   {kind: opGetSecret, name: name, version: ver},
				http.MethodPatch: {kind: opUpdateSecret, name: name, version: ver},
			})
		}
	case "deletedsecrets":
		switch {
		case n == 1 || (n == 2 && segs[1] == ""):
			return byMethod(map[string]operation{http.MethodGet: {kind: opListDeleted}})
		case n == 2:
			return byMethod(map[string]operation{
				http.MethodGet:    {kind: opGetDeleted, name: segs[1]},
				http.MethodDelete: {kind: opPurgeDeleted, name: segs[1]},
			})
		case n == 3 && segs[2] == "recover":
			return byMethod(map[string]operation{http.MethodPost: {kind: opRecoverDeleted, name: segs[1]}})
		}
	case "keys":
		return resolveKey(method, segs, byMethod)
	case "deletedkeys", "certificates", "deletedcertificates", "storage", "deletedstorage", "rng", "securitydomain":
		return operation{}, notSimulated(fmt.Sprintf("The rotor simulator does not simulate /%s: only secrets and some key operations.", segs[0]))
	}
	return operation{}, &kvError{status: http.StatusNotFound, code: "NotFound",
		message: fmt.Sprintf("The requested path %s was not found.", path)}
}

// keyOpSegments are the key operations addressed as /keys/{name}/{version}/{operation}: the
// simulated ones and those answered 501.
var keyOpSegments = map[string]opKind{"wrapkey": opWrapKey, "unwrapkey": opUnwrapKey}

var unsimulatedKeySegments = []string{"encrypt", "decrypt", "sign", "verify", "release", "attestation", "versions", "backup", "rotate", "rotationpolicy"}

// resolveKey resolves the /keys paths: create, get, wrapKey and unwrapKey are simulated; the other
// key operations are answered 501 NotImplemented.
func resolveKey(method string, segs []string, byMethod func(map[string]operation) (operation, *kvError)) (operation, *kvError) {
	n := len(segs)
	unsimulated := func(what string) (operation, *kvError) {
		return operation{}, notSimulated(fmt.Sprintf("The rotor simulator does not simulate %s: only create, get, wrapKey and unwrapKey.", what))
	}
	switch {
	case n == 1 || (n == 2 && segs[1] == ""):
		return unsimulated("listing keys")
	case n == 2 && segs[1] == "restore" && method == http.MethodPost:
		return unsimulated("key restore")
	case n == 2:
		if method == http.MethodDelete || method == http.MethodPatch || method == http.MethodPut {
			return unsimulated(method + " /keys/{name}")
		}
		return byMethod(map[string]operation{http.MethodGet: {kind: opGetKey, name: segs[1]}})
	case n == 3 && segs[2] == "create":
		return byMethod(map[string]operation{http.MethodPost: {kind: opCreateKey, name: segs[1]}})
	case n == 3 && segs[2] == "import":
		return unsimulated("key import")
	case n == 3 && slices.Contains(unsimulatedKeySegments, segs[2]):
		return unsimulated("/keys/{name}/" + segs[2])
	case n == 3:
		if kind, ok := keyOpSegments[segs[2]]; ok { // no version: the current one
			return byMethod(map[string]operation{http.MethodPost: {kind: kind, name: segs[1]}})
		}
		if method == http.MethodPatch {
			return unsimulated("updating keys")
		}
		return byMethod(map[string]operation{http.MethodGet: {kind: opGetKey, name: segs[1], version: segs[2]}})
	case n == 4:
		if kind, ok := keyOpSegments[segs[3]]; ok {
			return byMethod(map[string]operation{http.MethodPost: {kind: kind, name: segs[1], version: segs[2]}})
		}
		if slices.Contains(unsimulatedKeySegments, segs[3]) {
			return unsimulated("/keys/{name}/{version}/" + segs[3])
		}
	}
	return operation{}, &kvError{status: http.StatusNotFound, code: "NotFound",
		message: fmt.Sprintf("The requested path %s was not found.", "/"+strings.Join(segs, "/"))}
}

// ServeHTTP serves the Key Vault data plane (secrets, and the simulated key operations). Checks run in this order: authentication
// (401 with the challenge), api-version (400), path (404/405), RBAC (403), then the operation.
func (v *Vault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := v.clock.Now()
	v.commonHeaders(w, r, now)

	principal, kerr := v.authenticate(r)
	if kerr != nil {
		w.Header().Set("WWW-Authenticate", v.challenge())
		writeError(w, kerr)
		return
	}
	apiVersion, kerr := checkAPIVersion(r.URL.Query())
	if kerr != nil {
		writeError(w, kerr)
		return
	}
	op, kerr := resolve(r.Method, r.URL.Path)
	if kerr != nil {
		writeError(w, kerr)
		return
	}
	if op.name != "" {
		if kerr := validateName(op.name); kerr != nil {
			writeError(w, kerr)
			return
		}
	}

	body, kerr := readBody(r)
	if kerr != nil {
		writeError(w, kerr)
		return
	}
	c := &call{v: v, r: r, body: body, now: now, op: op, apiVersion: apiVersion, base: v.baseURL(r)}
	if op.kind == opCreateKey {
		c.prepared = prepareCreate(body, now) // RSA key generation, outside the lock
	}

	v.mu.Lock()
	assignment, ok := v.authorize(principal.ObjectID, op, now)
	var (
		status = http.StatusForbidden
		result any
	)
	if ok {
		status, result, kerr = c.run()
	} else {
		kerr = v.forbiddenByRBAC(principal, op)
	}
	v.mu.Unlock()

	if ok {
		w.Header().Set("x-ms-keyvault-rbac-assignment-id", assignment.ID)
		w.Header().Set("x-ms-keyvault-rbac-cache", "ra_age=0;da_age=0;rd_age=0;brd_age=0;ra_notif_age=0;dec_lev=1;")
	}
	switch {
	case kerr != nil:
		writeError(w, kerr)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, result)
	}
}

// authenticate reads the bearer token and validates it with the vault's Authenticator.
func (v *Vault) authenticate(r *http.Request) (Principal, *kvError) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
	}
	p, err := v.cfg.Authenticator.Authenticate(r.Context(), token, Audience)
	switch {
	case err == nil:
	case errors.Is(err, ErrTokenAudience):
		return Principal{}, unauthorized("AKV10022: Invalid audience. Expected " + Audience + ".")
	case errors.Is(err, ErrTokenExpired):
		return Principal{}, unauthorized("Token expired.")
	case errors.Is(err, ErrTokenNotYetValid):
		return Principal{}, unauthorized("Token not yet valid.")
	default:
		return Principal{}, unauthorized("Token validation failed.")
	}
	if !strings.EqualFold(p.TenantID, v.cfg.TenantID) {
		return Principal{}, unauthorized(fmt.Sprintf("AKV10032: Invalid issuer. Expected one of https://sts.windows.net/%s/, found https://sts.windows.net/%s/.",
			v.cfg.TenantID, p.TenantID))
	}
	return p, nil
}

// challenge is the WWW-Authenticate value azsecrets parses for the tenant and the scope.
func (v *Vault) challenge() string {
	return fmt.Sprintf(`Bearer authorization="%s/%s", resource="%s"`, v.cfg.Authority, v.cfg.TenantID, Audience)
}

func (v *Vault) forbiddenByRBAC(p Principal, op operation) *kvError {
	resource := fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/microsoft.keyvault/vaults/%s",
		v.cfg.SubscriptionID, strings.ToLower(v.cfg.ResourceGroup), strings.ToLower(v.cfg.Name))
	switch {
	case op.name != "" && op.kind.isKey():
		resource += "/keys/" + strings.ToLower(op.name)
	case op.name != "":
		resource += "/secrets/" + strings.ToLower(op.name)
	}
	msg := "Caller is not authorized to perform action on resource.\r\n" +
		"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n" +
		fmt.Sprintf("Caller: appid=%s;oid=%s;iss=https://sts.windows.net/%s/\r\n", p.AppID, p.ObjectID, p.TenantID) +
		fmt.Sprintf("Action: '%s'\r\n", op.action) +
		fmt.Sprintf("Resource: '%s'\r\n", resource) +
		"Assignment: (not found)\r\n" +
		"DenyAssignmentId: null\r\n" +
		"DecisionReason: null \r\n" +
		fmt.Sprintf("Vault: %s;location=%s\r\n", v.cfg.Name, v.cfg.Region)
	return &kvError{status: http.StatusForbidden, code: "Forbidden", message: msg, inner: "ForbiddenByRbac"}
}

func (v *Vault) baseURL(r *http.Request) string {
	if v.cfg.BaseURL != "" {
		return v.cfg.BaseURL
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

// commonHeaders sets the headers Key Vault sends on every answer.
func (v *Vault) commonHeaders(w http.ResponseWriter, r *http.Request, now time.Time) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "-1")
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("Strict-Transport-Security", "max-age=31536000;includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("x-ms-keyvault-region", v.cfg.Region)
	h.Set("x-ms-keyvault-service-version", ServiceVersion)
	h.Set("x-ms-request-id", newUUID())
	h.Set("x-ms-keyvault-network-info", networkInfo(r.RemoteAddr))
}

func networkInfo(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return fmt.Sprintf("conn_type=Ipv6;addr=%s;act_addr_fam=InterNetworkV6;", host)
	}
	return fmt.Sprintf("conn_type=Ipv4;addr=%s;act_addr_fam=InterNetwork;", host)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"code":"InternalServerError","message":"encode response"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func writeError(w http.ResponseWriter, e *kvError) { writeJSON(w, e.status, e.body()) }

// FaultErrorWriter writes Key Vault's answers for injected faults: 429 "Throttled" with
// Retry-After (whole seconds, rounded up), 500 and 503. Its signature is fault.ErrorWriter's:
// mount it with fault.Injector.Handler in front of a vault.
func FaultErrorWriter(w http.ResponseWriter, r *http.Request, status int, retryAfter time.Duration) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("x-ms-request-id", newUUID())
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(retryAfter.Seconds())), 10))
	}
	e := &kvError{status: status}
	switch status {
	case http.StatusTooManyRequests:
		e.code, e.message = "Throttled", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"
	case http.StatusServiceUnavailable:
		e.code, e.message = "ServiceUnavailable", "The service is temporarily unavailable. Please retry later."
	default:
		e.code, e.message = "InternalServerError", "An unexpected error occurred while processing the request."
	}
	writeError(w, e)
}
