package graph

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/rotorhq/rotor/sim/directory"
)

// DefaultPageSize and MaxPageSize of application and service principal lists: "The default and
// maximum page sizes are 100 and 999 application objects respectively."
// https://learn.microsoft.com/graph/api/application-list
const (
	DefaultPageSize = 100
	MaxPageSize     = 999
)

func typeFor(k directory.Kind) (*typeInfo, []prop, string) {
	if k == directory.KindApplication {
		return applicationType, appProps, "Application"
	}
	return servicePrincipalType, spProps, "ServicePrincipal"
}

// listOptions are the parsed query options of a collection request.
type listOptions struct {
	sel      selection
	top      int
	pred     predicate
	count    bool // $count=true with ConsistencyLevel: eventual
	after    uint64
	eventual bool
}

// parseListOptions reads $select, $top, $filter, $count and $skiptoken. Advanced queries (ne,
// endsWith, not) need ConsistencyLevel: eventual and $count=true; $count=true without the header is
// ignored, as Graph ignores it.
// https://learn.microsoft.com/graph/aad-advanced-queries
func (s *Server) parseListOptions(r *http.Request, c caller, rt route) (listOptions, *graphError) {
	t, _, resource := typeFor(rt.kind)
	q := r.URL.Query()
	o := listOptions{top: DefaultPageSize, eventual: strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual")}
	if _, ok := queryParam(q, "search"); ok {
		if !o.eventual {
			return o, errSearchNeedsHeader
		}
		return o, errUnsupportedQuery("$search is not supported by the rotor simulator; use $filter.")
	}
	if _, ok := queryParam(q, "orderby"); ok {
		return o, errUnsupportedQuery("Sorting not supported for current query.")
	}
	if _, ok := queryParam(q, "expand"); ok {
		return o, errUnsupportedQuery("$expand is not supported by the rotor simulator; read the navigation property instead (for example /owners).")
	}
	sel, gerr := parseSelect(firstParam(q, "select"), t)
	if gerr != nil {
		return o, gerr
	}
	o.sel = sel
	if v, ok := queryParam(q, "count"); ok {
		switch strings.ToLower(v) {
		case "true":
			o.count = o.eventual
		case "false":
		default:
			return o, errBadRequest("Invalid value '" + v + "' for the $count query option. The value must be 'true' or 'false'.")
		}
	}
	if v, ok := queryParam(q, "top"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return o, errUnsupportedQuery("Invalid page size specified: '" + v + "'. Must be between 1 and 999 inclusive.")
		}
		o.top = n
	}
	if v, ok := queryParam(q, "filter"); ok {
		pred, gerr := parseFilter(v, resource, o.eventual && o.count)
		if gerr != nil {
			return o, gerr
		}
		o.pred = pred
	}
	if v, ok := queryParam(q, "skiptoken"); ok {
		after, ok := s.openListToken(v, c, rt.kind)
		if !ok {
			return o, newError(http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
		}
		o.after = after
	}
	return o, nil
}

func firstParam(q map[string][]string, name string) string {
	v, _ := queryParam(q, name)
	return v
}

func (s *Server) listToken(c caller, kind directory.Kind, after uint64) string {
	return s.sealToken("L|" + c.TenantID + "|" + string(kind) + "|" + strconv.FormatUint(after, 10))
}

func (s *Server) openListToken(tok string, c caller, kind directory.Kind) (uint64, bool) {
	payload, ok := s.openToken(tok)
	if !ok {
		return 0, false
	}
	parts := strings.Split(payload, "|")
	if len(parts) != 4 || parts[0] != "L" || parts[1] != c.TenantID || parts[2] != string(kind) {
		return 0, false
	}
	n, err := strconv.ParseUint(parts[3], 10, 64)
	return n, err == nil
}

// list serves GET /applications and /servicePrincipals. With only Application.ReadWrite.OwnedBy the
// caller sees the objects it owns.
func (s *Server) list(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	if !c.readsAll() && !c.HasRole(roleAppOwnedBy) {
		return errDenied
	}
	o, gerr := s.parseListOptions(r, c, rt)
	if gerr != nil {
		return gerr
	}
	t, props, _ := typeFor(rt.kind)
	params := directory.ListParams{TenantID: c.TenantID, Kind: rt.kind, After: o.after, Limit: o.top, Match: o.pred}
	if c.ownedOnly() {
		params.OwnedBy = c.ObjectID
	}
	page, err := s.dir.List(params)
	if err != nil {
		return errNotFound(c.TenantID)
	}
	w2, release := pageWriter()
	defer release()
	w2.objStart()
	w2.key("@odata.context")
	w2.str(s.context(r, setContext(t.set, o.sel)))
	if o.count {
		n, err := s.dir.Count(directory.ListParams{TenantID: c.TenantID, Kind: rt.kind, Match: o.pred, OwnedBy: params.OwnedBy})
		if err == nil {
			w2.key("@odata.count")
			w2.integer(int64(n))
		}
	}
	if page.Next != 0 {
		q := r.URL.Query()
		w2.key("@odata.nextLink")
		w2.str(withQuery(s.base(r)+t.set, q, queryKeys(r.URL.RawQuery), map[string]bool{"$skiptoken": true, "skiptoken": true}, "$skiptoken", s.listToken(c, rt.kind, page.Next)))
	}
	w2.key("value")
	w2.arrStart()
	vw := newView(props, o.sel)
	if rt.kind == directory.KindApplication {
		for i := range page.Applications {
			writeObject(w2, vw, &page.Applications[i], nil)
		}
	} else {
		for i := range page.ServicePrincipals {
			writeObject(w2, vw, &page.ServicePrincipals[i], nil)
		}
	}
	w2.arrEnd()
	w2.objEnd()
	writeBody(w, http.StatusOK, w2.b)
	return nil
}

func setContext(set string, sel selection) string {
	if sel.all {
		return set
	}
	return set + "(" + sel.raw + ")"
}

// count serves GET /applications/$count: text/plain, and only with ConsistencyLevel: eventual.
func (s *Server) count(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	if !c.readsAll() && !c.HasRole(roleAppOwnedBy) {
		return errDenied
	}
	if !strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") {
		return errCountNeedsHeader
	}
	_, _, resource := typeFor(rt.kind)
	var pred predicate
	if v, ok := queryParam(r.URL.Query(), "filter"); ok {
		p, gerr := parseFilter(v, resource, true)
		if gerr != nil {
			return gerr
		}
		pred = p
	}
	params := directory.ListParams{TenantID: c.TenantID, Kind: rt.kind, Match: pred}
	if c.ownedOnly() {
		params.OwnedBy = c.ObjectID
	}
	n, err := s.dir.Count(params)
	if err != nil {
		return errNotFound(c.TenantID)
	}
	body := strconv.Itoa(n)
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
	return nil
}

// get serves GET /applications/{id}, /applications(appId='{appId}') and the same for service
// principals.
func (s *Server) get(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	if !c.readsAll() && !c.HasRole(roleAppOwnedBy) {
		return errDenied
	}
	t, props, _ := typeFor(rt.kind)
	sel, gerr := parseSelect(firstParam(r.URL.Query(), "select"), t)
	if gerr != nil {
		return gerr
	}
	o, gerr := s.resolve(c, rt)
	if gerr != nil {
		return gerr
	}
	if !s.canRead(c, o) {
		return errDenied
	}
	var v any = o.app
	if o.sp != nil {
		v = o.sp
	}
	var b jw
	writeObject(&b, newView(props, sel), v, func(w *jw) {
		w.key("@odata.context")
		w.str(s.context(r, setContext(t.set, sel)+"/$entity"))
	})
	writeBody(w, http.StatusOK, b.b)
	return nil
}

// owners serves GET /applications/{id}/owners: a directoryObject collection of users and service
// principals, each with its @odata.type.
// https://learn.microsoft.com/graph/api/application-list-owners
func (s *Server) owners(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	if !c.readsAll() && !c.HasRole(roleAppOwnedBy) {
		return errDenied
	}
	o, gerr := s.resolve(c, rt)
	if gerr != nil {
		return gerr
	}
	if !s.canRead(c, o) {
		return errDenied
	}
	owners, err := s.dir.Owners(c.TenantID, o.ref)
	if err != nil {
		return errNotFound(rt.key)
	}
	var b jw
	b.objStart()
	b.key("@odata.context")
	b.str(s.context(r, "directoryObjects"))
	b.key("value")
	b.arrStart()
	for _, ow := range owners {
		writeOwner(&b, ow)
	}
	b.arrEnd()
	b.objEnd()
	writeBody(w, http.StatusOK, b.b)
	return nil
}

// objectPolicies serves GET /applications/{id}/appManagementPolicies.
// https://learn.microsoft.com/graph/api/application-list-appmanagementpolicies
func (s *Server) objectPolicies(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	if !c.readsPolicies() && !c.readsAll() && !c.HasRole(roleAppOwnedBy) {
		return errDenied
	}
	o, gerr := s.resolve(c, rt)
	if gerr != nil {
		return gerr
	}
	if !c.readsPolicies() && !s.canRead(c, o) {
		return errDenied
	}
	pols, err := s.dir.AppManagementPoliciesOf(c.TenantID, o.ref)
	if err != nil {
		return errNotFound(rt.key)
	}
	var b jw
	b.objStart()
	b.key("@odata.context")
	b.str(s.context(r, "policies/appManagementPolicies"))
	b.key("value")
	b.arrStart()
	for _, p := range pols {
		writeAppManagementPolicy(&b, p, nil)
	}
	b.arrEnd()
	b.objEnd()
	writeBody(w, http.StatusOK, b.b)
	return nil
}

// getPolicies serves GET /policies/defaultAppManagementPolicy and /policies/appManagementPolicies,
// which need Policy.Read.All (or Policy.ReadWrite.ApplicationConfiguration).
// https://learn.microsoft.com/graph/api/tenantappmanagementpolicy-get
// https://learn.microsoft.com/graph/api/appmanagementpolicy-list
func (s *Server) getPolicies(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	if !c.readsPolicies() {
		return errDenied
	}
	var b jw
	switch rt.policy {
	case "default":
		p, err := s.dir.DefaultAppManagementPolicy(c.TenantID)
		if err != nil {
			return errNotFound(c.TenantID)
		}
		b.objStart()
		b.key("@odata.context")
		b.str(s.context(r, "policies/defaultAppManagementPolicy/$entity"))
		b.key("id")
		b.str(p.ID)
		b.key("deletedDateTime")
		b.null()
		b.key("description")
		b.strOrNull(p.Description)
		b.key("displayName")
		b.strOrNull(p.DisplayName)
		b.key("isEnabled")
		b.boolean(p.IsEnabled)
		b.key("applicationRestrictions")
		writeRestrictions(&b, p.ApplicationRestrictions)
		b.key("servicePrincipalRestrictions")
		writeRestrictions(&b, p.ServicePrincipalRestrictions)
		b.objEnd()
	case "list":
		pols, err := s.dir.AppManagementPolicies(c.TenantID)
		if err != nil {
			return errNotFound(c.TenantID)
		}
		b.objStart()
		b.key("@odata.context")
		b.str(s.context(r, "policies/appManagementPolicies"))
		b.key("value")
		b.arrStart()
		for _, p := range pols {
			writeAppManagementPolicy(&b, p, nil)
		}
		b.arrEnd()
		b.objEnd()
	default:
		p, err := s.dir.AppManagementPolicy(c.TenantID, rt.policy)
		if err != nil {
			return errNotFound(rt.policy)
		}
		writeAppManagementPolicy(&b, p, func(w *jw) {
			w.key("@odata.context")
			w.str(s.context(r, "policies/appManagementPolicies/$entity"))
		})
	}
	writeBody(w, http.StatusOK, b.b)
	return nil
}
