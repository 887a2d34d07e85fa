package keyvault

import (
	"fmt"
	"net/url"
	"slices"
)

// APIVersions are the data-plane api-version values the simulator accepts: the stable Key Vault
// secrets versions from 2015-06-01 to 2026-04-01 (the default of azsecrets v1.5.1) and the
// previews recent Azure SDKs sent. Behaviour is the same for all of them.
var APIVersions = []string{
	"2015-06-01", "2016-10-01",
	"7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6",
	"7.4-preview.1", "7.5-preview.1", "7.6-preview.1", "7.6-preview.2",
	"2025-07-01", "2026-04-01",
}

// LatestAPIVersion is the newest version in APIVersions.
const LatestAPIVersion = "2026-04-01"

// checkAPIVersion requires the api-version query parameter, as Key Vault does ("there is no
// default"), and rejects versions it does not know with Key Vault's BadParameter answer.
func checkAPIVersion(q url.Values) (string, *kvError) {
	vs, ok := q["api-version"]
	if !ok || len(vs) == 0 || vs[0] == "" {
		return "", badParameter("The 'api-version' query parameter is missing. Specify a supported version, such as " + LatestAPIVersion + ".")
	}
	if !slices.Contains(APIVersions, vs[0]) {
		return "", badParameter(fmt.Sprintf("The specified version (%s) is not recognized. Consider using the latest supported version (%s).", vs[0], LatestAPIVersion))
	}
	return vs[0], nil
}
