package sim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net/http"
	"time"

	"github.com/rotorhq/rotor/sim/fault"
)

// quietLog drops net/http's server log lines (TLS handshakes cut short by clients that do not
// trust the CA, dropped connections), which the simulator causes on purpose.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// inspection serves the simulator's own API, for tests and demos. It never returns a secret value.
//
//	GET /_sim/                                 endpoints, vaults and seeded tenants
//	GET /_sim/ca.pem                           the CA certificate to trust
//	GET /_sim/tenants/{tenant}/credentials     credential history (?app=CLIENT_ID to narrow)
//	GET /_sim/tenants/{tenant}/signins/{app}   the application's last successful sign-in
//	GET /_sim/vaults/{vault}                   a vault's secrets, versions, tags and attributes
//	GET /_sim/vaults/{vault}/keys              a vault's keys, versions, public keys and attributes
//	GET /_sim/faults                           fault rules and their counters
//	PUT /_sim/faults                           replace the rules (body: rules as rotor sim --fault takes them)
func (s *Server) inspection() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/{$}", func(w http.ResponseWriter, r *http.Request) {
		type tenant struct {
			ID, DisplayName, Domain, ManagerClientID, ManagerObjectID, Vault string
		}
		out := struct {
			AuthorityHost string
			GraphURL      string
			Vaults        map[string]string
			Tenants       []tenant
		}{AuthorityHost: s.url + "/", GraphURL: s.GraphURL(), Vaults: map[string]string{}}
		for _, v := range s.Vaults() {
			out.Vaults[v.KV.Name()] = v.URL
		}
		for _, t := range s.Seeded.Tenants {
			out.Tenants = append(out.Tenants, tenant{ID: t.Tenant.ID, DisplayName: t.Tenant.DisplayName, Domain: t.Tenant.DefaultDomain,
				ManagerClientID: t.Manager.AppID, ManagerObjectID: t.Manager.ObjectID, Vault: VaultName(t.Tenant)})
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /_sim/ca.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(s.CA.CertPEM())
	})
	mux.HandleFunc("GET /_sim/tenants/{tenant}/credentials", func(w http.ResponseWriter, r *http.Request) {
		t, err := s.Directory.Tenant(r.PathValue("tenant"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		evs, err := s.Directory.CredentialHistory(t.ID, r.URL.Query().Get("app"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, evs)
	})
	mux.HandleFunc("GET /_sim/tenants/{tenant}/signins/{app}", func(w http.ResponseWriter, r *http.Request) {
		t, err := s.Directory.Tenant(r.PathValue("tenant"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		use, ok, err := s.Directory.LastSignIn(t.ID, r.PathValue("app"))
		switch {
		case err != nil:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		case !ok:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no sign-in yet"})
		default:
			writeJSON(w, http.StatusOK, use)
		}
	})
	mux.HandleFunc("GET /_sim/vaults/{vault}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.Vault(r.PathValue("vault"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such vault"})
			return
		}
		writeJSON(w, http.StatusOK, vaultView(v))
	})
	mux.HandleFunc("GET /_sim/vaults/{vault}/keys", func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.Vault(r.PathValue("vault"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such vault"})
			return
		}
		writeJSON(w, http.StatusOK, vaultKeysView(v))
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var rules []string
		for _, rl := range s.Faults.Rules() {
			rules = append(rules, rl.String())
		}
		writeJSON(w, http.StatusOK, map[string]any{"rules": rules, "stats": s.Faults.Stats()})
	})
	mux.HandleFunc("PUT /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		rules, err := fault.ParseRules(string(b))
		if err == nil {
			err = s.Faults.SetRules(rules)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"rules": len(rules)})
	})
	return mux
}

// VaultVersion is one secret version as the inspection API shows it: everything but the value.
type VaultVersion struct {
	ID          string
	ContentType string
	Tags        map[string]string
	Enabled     bool
	NotBefore   *time.Time
	Expires     *time.Time
	Created     time.Time
}

// VaultSecret is one secret with its versions, without values.
type VaultSecret struct {
	Name     string
	State    string
	Versions []VaultVersion
}

func vaultView(v *Vault) []VaultSecret {
	snap := v.KV.Snapshot()
	out := make([]VaultSecret, 0, len(snap.Secrets))
	for _, sec := range snap.Secrets {
		vs := VaultSecret{Name: sec.Name, State: sec.State}
		for _, ver := range sec.Versions {
			vs.Versions = append(vs.Versions, VaultVersion{ID: ver.ID, ContentType: ver.ContentType, Tags: ver.Tags, Enabled: ver.Enabled,
				NotBefore: ver.NotBefore, Expires: ver.Expires, Created: ver.Created})
		}
		out = append(out, vs)
	}
	return out
}

// VaultKeyVersion is one key version as the inspection API shows it: its public part and
// attributes; the private key never leaves the vault.
type VaultKeyVersion struct {
	ID      string
	Kty     string
	Size    int
	Ops     []string
	N, E    string // public modulus and exponent, base64url as in a JSON Web Key
	Tags    map[string]string
	Enabled bool
	Created time.Time
}

// VaultKey is one key with its versions.
type VaultKey struct {
	Name     string
	Versions []VaultKeyVersion
}

func vaultKeysView(v *Vault) []VaultKey {
	snap := v.KV.Snapshot()
	out := make([]VaultKey, 0, len(snap.Keys))
	for _, k := range snap.Keys {
		vk := VaultKey{Name: k.Name}
		for _, ver := range k.Versions {
			vk.Versions = append(vk.Versions, VaultKeyVersion{ID: ver.ID, Kty: ver.Kty, Size: ver.Size, Ops: ver.Ops,
				N:    base64.RawURLEncoding.EncodeToString(ver.PublicKey.N.Bytes()),
				E:    base64.RawURLEncoding.EncodeToString(big.NewInt(int64(ver.PublicKey.E)).Bytes()),
				Tags: ver.Tags, Enabled: ver.Enabled, Created: ver.Created})
		}
		out = append(out, vk)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
