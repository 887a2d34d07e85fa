package graph

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rotorhq/rotor/sim/directory"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Request body members the credential actions read.
const (
	fieldPasswordCredential = "passwordCredential"
	fieldKeyCredential      = "keyCredential"
	fieldProof              = "proof"
	fieldKeyID              = "keyId"
)

// patchable are the properties PATCH changes on applications and service principals.
var patchable = []string{"keyCredentials", "displayName", "description", "notes", "tags"}

// credentialAction serves the credential actions of applications and service principals:
// addPassword, removePassword, addKey, removeKey.
// https://learn.microsoft.com/graph/api/application-addpassword
// https://learn.microsoft.com/graph/api/application-removepassword
// https://learn.microsoft.com/graph/api/application-addkey
// https://learn.microsoft.com/graph/api/application-removekey
func (s *Server) credentialAction(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	keyAction := rt.action == "addKey" || rt.action == "removeKey"
	if !keyAction && !c.HasRole(roleAppReadWriteAll) && !c.HasRole(roleAppOwnedBy) {
		return errDenied
	}
	o, gerr := s.resolve(c, rt)
	if gerr != nil {
		return gerr
	}
	// "An application does not need any specific permission to roll its own keys."
	self := keyAction && strings.EqualFold(o.appID, c.AppID)
	if !self && !s.canWrite(c, o) {
		return errDenied
	}
	body, gerr := readJSON(r)
	if gerr != nil {
		return gerr
	}
	switch rt.action {
	case "addPassword":
		return s.addPassword(w, r, c, o, body)
	case "removePassword":
		keyID, gerr := keyIDParam(body, "PasswordCredential")
		if gerr != nil {
			return gerr
		}
		if err := s.dir.RemovePassword(c.TenantID, o.ref, keyID, c.AppID); err != nil {
			return mapDirError(err, keyID)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case "addKey":
		return s.addKey(w, r, c, o, body)
	default: // removeKey
		keyID, gerr := keyIDParam(body, "KeyCredential")
		if gerr != nil {
			return gerr
		}
		if gerr := s.checkProof(c, o, body); gerr != nil {
			return gerr
		}
		if err := s.dir.RemoveKey(c.TenantID, o.ref, keyID, c.AppID); err != nil {
			return mapDirError(err, keyID)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func readJSON(r *http.Request) (map[string]json.RawMessage, *graphError) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, errBodyInvalid
	}
	body := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(data)) == 0 {
		return body, nil
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, errBodyInvalid
	}
	return body, nil
}

func keyIDParam(body map[string]json.RawMessage, resource string) (string, *graphError) {
	var keyID string
	if err := json.Unmarshal(body[fieldKeyID], &keyID); err != nil || !directory.IsGUID(keyID) {
		return "", errBadRequest("Invalid value specified for property 'keyId' of resource '" + resource + "'.")
	}
	return keyID, nil
}

type passwordCredentialIn struct {
	DisplayName   *string `json:"displayName"`
	StartDateTime *string `json:"startDateTime"`
	EndDateTime   *string `json:"endDateTime"`
}

// addPassword adds a generated secret. The body's passwordCredential is optional; endDateTime
// defaults to startDateTime + 2 years. App management policies and credential limits apply.
func (s *Server) addPassword(w http.ResponseWriter, r *http.Request, c caller, o resolved, body map[string]json.RawMessage) *graphError {
	var in passwordCredentialIn
	if raw, ok := body[fieldPasswordCredential]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &in); err != nil {
			return errBadRequest("Invalid value specified for property 'passwordCredential' of resource 'Application'.")
		}
	}
	p := directory.AddPasswordParams{TenantID: c.TenantID, Object: o.ref, Actor: c.AppID, Enforce: true}
	if in.DisplayName != nil {
		p.DisplayName = *in.DisplayName
	}
	var gerr *graphError
	if p.StartDateTime, gerr = parseTimeField(in.StartDateTime, "startDateTime", "PasswordCredential"); gerr != nil {
		return gerr
	}
	if p.EndDateTime, gerr = parseTimeField(in.EndDateTime, "endDateTime", "PasswordCredential"); gerr != nil {
		return gerr
	}
	cred, text, err := s.dir.AddPassword(p)
	if err != nil {
		return mapDirError(err, o.ref.ID)
	}
	var b jw
	writePasswordCredential(&b, cred, text.Reveal(), func(w *jw) {
		w.key("@odata.context")
		w.str(s.context(r, "microsoft.graph.passwordCredential"))
	})
	writeBody(w, http.StatusOK, b.b)
	return nil
}

func parseTimeField(v *string, field, resource string) (time.Time, *graphError) {
	if v == nil || *v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return time.Time{}, errBadRequest("Invalid value specified for property '" + field + "' of resource '" + resource + "'.")
	}
	return t, nil
}

type keyCredentialIn struct {
	KeyID         string  `json:"keyId"`
	Type          string  `json:"type"`
	Usage         string  `json:"usage"`
	Key           *string `json:"key"`
	DisplayName   string  `json:"displayName"`
	StartDateTime *string `json:"startDateTime"`
	EndDateTime   *string `json:"endDateTime"`
}

func (k keyCredentialIn) input() (directory.KeyCredentialInput, *graphError) {
	in := directory.KeyCredentialInput{KeyID: k.KeyID, Type: k.Type, Usage: k.Usage, DisplayName: k.DisplayName}
	if k.Key != nil {
		der, err := base64.StdEncoding.DecodeString(*k.Key)
		if err != nil {
			return in, errBadRequest("Invalid value specified for property 'key' of resource 'KeyCredential'.")
		}
		in.Key = der
	}
	var gerr *graphError
	if in.StartDateTime, gerr = parseTimeField(k.StartDateTime, "startDateTime", "KeyCredential"); gerr != nil {
		return in, gerr
	}
	if in.EndDateTime, gerr = parseTimeField(k.EndDateTime, "endDateTime", "KeyCredential"); gerr != nil {
		return in, gerr
	}
	return in, nil
}

// addKey adds a certificate after verifying the proof of possession of an existing one.
func (s *Server) addKey(w http.ResponseWriter, r *http.Request, c caller, o resolved, body map[string]json.RawMessage) *graphError {
	var kc keyCredentialIn
	if err := json.Unmarshal(body[fieldKeyCredential], &kc); err != nil || kc.Key == nil || kc.Type == "" || kc.Usage == "" {
		return errBadRequest("The keyCredential's type, usage and key are required.")
	}
	if kc.Type == directory.KeyTypeX509CertAndPassword {
		var pc struct {
			SecretText string `json:"secretText"`
		}
		if err := json.Unmarshal(body[fieldPasswordCredential], &pc); err != nil || pc.SecretText == "" {
			return errBadRequest("A passwordCredential with secretText is required for keys of type X509CertAndPassword.")
		}
	}
	if gerr := s.checkProof(c, o, body); gerr != nil {
		return gerr
	}
	in, gerr := kc.input()
	if gerr != nil {
		return gerr
	}
	in.KeyID = ""
	k, err := s.dir.AddKey(directory.AddKeyParams{TenantID: c.TenantID, Object: o.ref, KeyCredentialInput: in, Actor: c.AppID, Enforce: true})
	if err != nil {
		return mapDirError(err, o.ref.ID)
	}
	var b jw
	writeKeyCredential(&b, k, false, func(w *jw) {
		w.key("@odata.context")
		w.str(s.context(r, "microsoft.graph.keyCredential"))
	})
	writeBody(w, http.StatusOK, b.b)
	return nil
}

// proofAudience is the audience of addKey/removeKey proofs (Azure AD Graph's application id).
const proofAudience = directory.AzureADGraphAppID

// checkProof verifies the proof of possession of addKey and removeKey: a JWT signed with the private
// key of one of the object's currently valid certificates, with aud
// 00000002-0000-0000-c000-000000000000, iss the object's id, and an nbf..exp of at most ten
// minutes around now. A missing or failing proof is refused as Graph refuses it.
// https://learn.microsoft.com/graph/application-rollkey-prooftoken
func (s *Server) checkProof(c caller, o resolved, body map[string]json.RawMessage) *graphError {
	var proof string
	if err := json.Unmarshal(body[fieldProof], &proof); err != nil || proof == "" {
		return errProofInvalid
	}
	var keys []directory.KeyCredential
	if o.app != nil {
		keys = o.app.KeyCredentials
	} else {
		keys = o.sp.KeyCredentials
	}
	now := s.clock.Now()
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithoutClaimsValidation())
	unverified, _, err := parser.ParseUnverified(proof, jwt.MapClaims{})
	if err != nil {
		return errProofInvalid
	}
	var thumb []byte
	if x5t, ok := unverified.Header["x5t"].(string); ok {
		thumb = decodeThumbprint(x5t)
	}
	for _, k := range keys {
		if now.Before(k.StartDateTime) || !now.Before(k.EndDateTime) {
			continue
		}
		if thumb != nil && !directory.MatchesThumbprint(k.Key, thumb) {
			continue
		}
		cert, err := x509.ParseCertificate(k.Key)
		if err != nil {
			continue
		}
		mc := jwt.MapClaims{}
		if _, err := parser.ParseWithClaims(proof, mc, func(*jwt.Token) (any, error) { return cert.PublicKey, nil }); err != nil {
			continue
		}
		if gerr := s.checkProofClaims(mc, o, now); gerr != nil {
			return gerr
		}
		return nil
	}
	return errProofInvalid
}

func (s *Server) checkProofClaims(mc jwt.MapClaims, o resolved, now time.Time) *graphError {
	aud, err := mc.GetAudience()
	if err != nil || len(aud) != 1 || aud[0] != proofAudience {
		return errProofInvalid
	}
	if iss, _ := mc["iss"].(string); !strings.EqualFold(iss, o.ref.ID) {
		return errProofInvalid
	}
	nbf, err1 := mc.GetNotBefore()
	exp, err2 := mc.GetExpirationTime()
	if err1 != nil || err2 != nil || nbf == nil || exp == nil {
		return errProofInvalid
	}
	const skew = 5 * time.Minute
	if exp.Sub(nbf.Time) > 10*time.Minute || now.Add(skew).Before(nbf.Time) || !now.Add(-skew).Before(exp.Time) {
		return errProofInvalid
	}
	return nil
}

func decodeThumbprint(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && (len(b) == 20 || len(b) == 32) {
			return b
		}
	}
	return nil
}

// patchObject serves PATCH /applications/{id} and /servicePrincipals/{id}: keyCredentials (the
// documented way to add a first certificate) and a few plain properties.
// https://learn.microsoft.com/graph/api/application-update
func (s *Server) patchObject(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	if !c.HasRole(roleAppReadWriteAll) && !c.HasRole(roleAppOwnedBy) {
		return errDenied
	}
	o, gerr := s.resolve(c, rt)
	if gerr != nil {
		return gerr
	}
	if !s.canWrite(c, o) {
		return errDenied
	}
	body, gerr := readJSON(r)
	if gerr != nil {
		return gerr
	}
	t, _, _ := typeFor(rt.kind)
	upd := directory.UpdateParams{TenantID: c.TenantID, Object: o.ref, Actor: c.AppID}
	var keys []directory.KeyCredentialInput
	setKeys := false
	for name, raw := range body {
		switch name {
		case "keyCredentials":
			var in []keyCredentialIn
			if err := json.Unmarshal(raw, &in); err != nil {
				return errBadRequest("Invalid value specified for property 'keyCredentials' of resource '" + t.name + "'.")
			}
			for _, k := range in {
				ki, gerr := k.input()
				if gerr != nil {
					return gerr
				}
				keys = append(keys, ki)
			}
			setKeys = true
		case "displayName", "description", "notes":
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return errBadRequest("Invalid value specified for property '" + name + "' of resource '" + t.name + "'.")
			}
			switch name {
			case "displayName":
				upd.DisplayName = &v
			case "description":
				upd.Description = &v
			default:
				upd.Notes = &v
			}
		case "tags":
			var v []string
			if err := json.Unmarshal(raw, &v); err != nil {
				return errBadRequest("Invalid value specified for property 'tags' of resource '" + t.name + "'.")
			}
			upd.Tags = &v
		case "@odata.type", "id":
		default:
			if slices.Contains(patchable, name) {
				return errBadRequest("Invalid property '" + name + "'.")
			}
			if t.known[strings.ToLower(name)] {
				return errBadRequest("Updating '" + name + "' is not supported by the rotor simulator.")
			}
			return errBadRequest("Property '" + name + "' does not exist on type 'microsoft.graph." + t.name + "'.")
		}
	}
	if setKeys {
		if _, err := s.dir.ReplaceKeyCredentials(c.TenantID, o.ref, keys, c.AppID, true); err != nil {
			return mapDirError(err, o.ref.ID)
		}
	}
	if err := s.dir.Update(upd); err != nil {
		return mapDirError(err, o.ref.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mapDirError turns a directory error into Graph's answer.
func mapDirError(err error, id string) *graphError {
	if v, ok := directory.IsPolicyViolation(err); ok {
		if v.Lifetime() {
			msg := fmt.Sprintf("Credential lifetime exceeds the max value allowed as per assigned policy '%s'.", v.PolicyID)
			return &graphError{status: http.StatusBadRequest, code: "CredentialInvalidLifetimeAsPerAppPolicy", message: msg,
				details: []errorDetail{{code: "InvalidKeyEndDate", message: msg, target: "EndDate"}}}
		}
		return newError(http.StatusBadRequest, "CredentialTypeNotAllowedAsPerAppPolicy", fmt.Sprintf("Credential type not allowed as per assigned policy '%s'.", v.PolicyID))
	}
	var lim *directory.CredentialLimitError
	if errors.As(err, &lim) {
		if lim.PersonalAccounts {
			return errBadRequest(fmt.Sprintf("You can only add a maximum of %d encrypted credentials.", lim.Limit))
		}
		return errBadRequest(fmt.Sprintf("The object already holds the maximum number of credentials (%d).", lim.Limit))
	}
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return errNotFound(id)
	case errors.Is(err, directory.ErrConflict):
		return newError(http.StatusBadRequest, "Request_BadRequest", "Another object with the same value for property keyId already exists.")
	case errors.Is(err, directory.ErrInvalid):
		return errBadRequest(invalidMessage(err))
	}
	return newError(http.StatusInternalServerError, "Service_InternalServerError", "Encountered an internal server error.")
}

// invalidMessage keeps the directory's explanation without the wrapping prefixes.
func invalidMessage(err error) string {
	msg := strings.TrimSuffix(err.Error(), ": "+directory.ErrInvalid.Error())
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg[:i], " to ") {
		msg = msg[i+2:]
	}
	return "Invalid value: " + msg
}
