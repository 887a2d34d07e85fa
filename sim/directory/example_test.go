package directory_test

import (
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/sim/directory"
)

// A tenant with an application, a client secret and an application permission on Microsoft
// Graph: what a rotor installation needs to sign in and manage credentials.
func Example() {
	dir := directory.New(directory.Options{Clock: clockwork.NewFakeClockAt(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))})
	tenant, err := dir.AddTenant(directory.AddTenantParams{DisplayName: "Contoso"})
	if err != nil {
		panic(err)
	}
	app, err := dir.AddApplication(directory.AddApplicationParams{TenantID: tenant.ID, DisplayName: "rotor"})
	if err != nil {
		panic(err)
	}
	cred, secretText, err := dir.AddPassword(directory.AddPasswordParams{TenantID: tenant.ID, Object: app.Ref(), DisplayName: "bootstrap"})
	if err != nil {
		panic(err)
	}
	if err := dir.GrantAppRole(tenant.ID, app.AppID, directory.MicrosoftGraphAppID, "Application.ReadWrite.All"); err != nil {
		panic(err)
	}
	check, err := dir.CheckClientSecret(tenant.ID, app.AppID, secretText.Reveal())
	if err != nil {
		panic(err)
	}
	fmt.Println(tenant.DefaultDomain, cred.EndDateTime.Format(time.DateOnly), check.Status == directory.AuthValid, secretText)
	// Output: contoso.onmicrosoft.com 2028-02-29 true [REDACTED]
}
