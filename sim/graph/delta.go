package graph

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rotorhq/rotor/sim/directory"
)

// deltaState is what a delta token (deltaLink) or a skip token inside a round (nextLink) seals.
// A round either pages the initial snapshot (Phase "i": live objects created up to Until) or the
// changes in (Since, Until] (Phase "c"); a deltaLink remembers Since for the next round.
type deltaState struct {
	Phase  string   `json:"p"` // "i" snapshot page, "c" changes page, "d" deltaLink
	Tenant string   `json:"t"`
	Kind   string   `json:"k"`
	Since  uint64   `json:"s,omitempty"`
	Until  uint64   `json:"u,omitempty"`
	After  uint64   `json:"a,omitempty"`
	Issued int64    `json:"at"` // unix seconds of the round's start, for the token lifetime
	Select string   `json:"sel,omitempty"`
	IDs    []string `json:"ids,omitempty"`
}

// delta serves GET /applications/delta and /servicePrincipals/delta.
// https://learn.microsoft.com/graph/api/application-delta
// https://learn.microsoft.com/graph/delta-query-overview
func (s *Server) delta(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	if !c.readsAll() && !c.HasRole(roleAppOwnedBy) {
		return errDenied
	}
	t, props, resource := typeFor(rt.kind)
	q := r.URL.Query()
	now := s.clock.Now()
	head, floor, err := s.dir.ChangeHead(c.TenantID)
	if err != nil {
		return errNotFound(c.TenantID)
	}

	var st deltaState
	deltaTok, hasDelta := queryParam(q, "deltatoken")
	skipTok, hasSkip := queryParam(q, "skiptoken")
	switch {
	case hasDelta && strings.EqualFold(deltaTok, "latest"):
		// "sync from now": no data, just a deltaLink at the current head.
		st = deltaState{Phase: "d", Tenant: c.TenantID, Kind: string(rt.kind), Since: head, Issued: now.Unix()}
		sel, gerr := parseSelect(firstParam(q, "select"), t)
		if gerr != nil {
			return gerr
		}
		st.Select = sel.raw
		return s.writeDelta(w, r, t, props, st, nil, st)
	case hasDelta || hasSkip:
		tok := deltaTok
		if hasSkip {
			tok = skipTok
		}
		var ok bool
		st, ok = s.openDeltaToken(tok, c, rt.kind)
		if !ok || (hasDelta && st.Phase != "d") || (hasSkip && st.Phase == "d") {
			return s.syncStateNotFound(w, r, t)
		}
		// Delta tokens of directory objects live seven days; the change log they continue from
		// must still be there.
		if now.Sub(time.Unix(st.Issued, 0)) > directory.DefaultChangeRetention || (st.Phase != "i" && st.Since < floor) {
			return s.syncStateNotFound(w, r, t)
		}
		if st.Phase == "d" {
			st = deltaState{Phase: "c", Tenant: st.Tenant, Kind: st.Kind, Since: st.Since, Until: head, Issued: now.Unix(), Select: st.Select, IDs: st.IDs}
		}
	default:
		sel, gerr := parseSelect(firstParam(q, "select"), t)
		if gerr != nil {
			return gerr
		}
		ids, gerr := deltaFilter(firstParam(q, "filter"), resource)
		if gerr != nil {
			return gerr
		}
		st = deltaState{Phase: "i", Tenant: c.TenantID, Kind: string(rt.kind), Until: head, Issued: now.Unix(), Select: sel.raw, IDs: ids}
	}

	owner := ""
	if c.ownedOnly() {
		owner = c.ObjectID
	}
	var idSet map[string]bool
	if st.IDs != nil {
		idSet = map[string]bool{}
		for _, id := range st.IDs {
			idSet[id] = true
		}
	}
	var items []directory.Change
	next := st
	done := false
	switch st.Phase {
	case "i":
		var match func(directory.Summary) bool
		if idSet != nil {
			match = func(s directory.Summary) bool { return idSet[strings.ToLower(s.ID)] }
		}
		page, err := s.dir.List(directory.ListParams{TenantID: c.TenantID, Kind: rt.kind, After: st.After, Until: st.Until, Limit: s.deltaMax, Match: match, OwnedBy: owner})
		if err != nil {
			return errNotFound(c.TenantID)
		}
		for i := range page.Applications {
			items = append(items, directory.Change{ID: page.Applications[i].ID, Application: &page.Applications[i]})
		}
		for i := range page.ServicePrincipals {
			items = append(items, directory.Change{ID: page.ServicePrincipals[i].ID, ServicePrincipal: &page.ServicePrincipals[i]})
		}
		next.After = page.Next
		done = page.Next == 0
	case "c":
		page, err := s.dir.Changes(directory.ChangesParams{TenantID: c.TenantID, Kind: rt.kind, Since: st.Since, Until: st.Until, After: st.After, Limit: s.deltaMax, IDs: idSet, OwnedBy: owner})
		if err != nil {
			return s.syncStateNotFound(w, r, t)
		}
		items = page.Changes
		next.After = page.Next
		done = page.Next == 0
	}
	if done {
		// The round is complete: the next one starts where this one's snapshot ended.
		d := deltaState{Phase: "d", Tenant: st.Tenant, Kind: st.Kind, Since: st.Until, Issued: st.Issued, Select: st.Select, IDs: st.IDs}
		return s.writeDelta(w, r, t, props, d, items, d)
	}
	return s.writeDelta(w, r, t, props, next, items, deltaState{})
}

// writeDelta writes a delta page: a nextLink carrying next, or (when link.Phase is "d") a
// deltaLink.
func (s *Server) writeDelta(w http.ResponseWriter, r *http.Request, t *typeInfo, props []prop, next deltaState, items []directory.Change, link deltaState) *graphError {
	sel, gerr := parseSelect(next.Select, t)
	if gerr != nil {
		return gerr
	}
	if !sel.all {
		sel.names["id"] = true // "The id property is always returned."
	}
	vw := newView(props, sel)
	base := s.base(r) + t.set + "/delta"
	b, release := pageWriter()
	defer release()
	b.objStart()
	b.key("@odata.context")
	b.str(s.context(r, setContext(t.set, sel)))
	if link.Phase == "" {
		b.key("@odata.nextLink")
		b.str(base + "?$skiptoken=" + s.sealDelta(next))
	}
	b.key("value")
	b.arrStart()
	for _, it := range items {
		switch {
		case it.Removed:
			b.objStart()
			b.key("id")
			b.str(it.ID)
			b.key("@removed")
			b.objStart()
			b.key("reason")
			if it.Restorable {
				b.str("changed")
			} else {
				b.str("deleted")
			}
			b.objEnd()
			b.objEnd()
		case it.Application != nil:
			writeObject(b, vw, it.Application, nil)
		case it.ServicePrincipal != nil:
			writeObject(b, vw, it.ServicePrincipal, nil)
		}
	}
	b.arrEnd()
	if link.Phase == "d" {
		b.key("@odata.deltaLink")
		b.str(base + "?$deltatoken=" + s.sealDelta(link))
	}
	b.objEnd()
	writeBody(w, http.StatusOK, b.b)
	return nil
}

func (s *Server) sealDelta(st deltaState) string {
	b, _ := json.Marshal(st)
	return s.sealToken("D" + string(b))
}

func (s *Server) openDeltaToken(tok string, c caller, kind directory.Kind) (deltaState, bool) {
	payload, ok := s.openToken(tok)
	if !ok || !strings.HasPrefix(payload, "D") {
		return deltaState{}, false
	}
	var st deltaState
	if err := json.Unmarshal([]byte(payload[1:]), &st); err != nil {
		return deltaState{}, false
	}
	return st, st.Tenant == c.TenantID && st.Kind == string(kind)
}

// syncStateNotFound answers an expired or unknown state token: "In case of an expired token, the
// service should respond with a 40X-series error with error codes such as syncStateNotFound", and
// a reset points (Location) at a fresh full synchronization.
// https://learn.microsoft.com/graph/delta-query-overview#token-duration
func (s *Server) syncStateNotFound(w http.ResponseWriter, r *http.Request, t *typeInfo) *graphError {
	w.Header().Set("Location", s.base(r)+t.set+"/delta")
	return newError(http.StatusGone, "syncStateNotFound", "The delta token is expired or unknown; start over with a full synchronization.")
}

// deltaFilter accepts the only $filter delta supports: id eq '...' joined with or.
func deltaFilter(src, resource string) ([]string, *graphError) {
	if src == "" {
		return nil, nil
	}
	unsupported := errUnsupportedQuery("Unsupported or invalid query filter clause specified for property 'id' of resource '" + resource + "'. Delta supports only $filter=id eq '{value}' or id eq '{value}'.")
	toks, pos, ok := lexFilter(src)
	if !ok {
		return nil, syntaxError(src, pos)
	}
	var ids []string
	for i := 0; i < len(toks); {
		if i+2 >= len(toks) || toks[i].kind != tIdent || !strings.EqualFold(toks[i].text, "id") ||
			toks[i+1].kind != tIdent || !strings.EqualFold(toks[i+1].text, "eq") || toks[i+2].kind != tString {
			return nil, unsupported
		}
		ids = append(ids, strings.ToLower(toks[i+2].text))
		i += 3
		if i < len(toks) {
			if toks[i].kind != tIdent || !strings.EqualFold(toks[i].text, "or") {
				return nil, unsupported
			}
			i++
			if i == len(toks) {
				return nil, syntaxError(src, len(src))
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}
