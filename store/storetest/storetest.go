// Package storetest is the conformance suite every rotor.Store implementation runs:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{New: ..., NewDatabase: ..., Replicas: ...})
//	}
//
// Each test gets a fresh, migrated store. The suite checks the contract documented on
// rotor.Store and its parts: not-found errors, uniqueness, transactions, fencing, claiming under
// concurrency, the audit chain, and crash-safe migrations; and, with two handles on one database
// (two replicas), that claims, leases, the one-rotation-in-flight rule and the audit chain hold
// between processes as they do between goroutines.
package storetest

import (
	"context"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

// Harness opens stores for the suite.
type Harness struct {
	// New returns a fresh, migrated, empty store, closed when t ends.
	New func(t *testing.T) rotor.Store
	// NewDatabase returns a function that opens un-migrated handles on one fresh, empty database;
	// the suite uses it for migration tests, with several handles at once.
	NewDatabase func(t *testing.T) func() Migrator
	// Replicas returns two handles on one fresh, migrated, empty database, each with its own
	// connections, as two rotor processes sharing the store have; closed when t ends.
	Replicas func(t *testing.T) (a, b rotor.Store)
}

// Migrator is what the migration tests need of a store.
type Migrator interface {
	// MigrateFS applies the pending migrations of fsys (files NNNN_name.sql).
	MigrateFS(ctx context.Context, fsys fs.FS) error
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	tests := map[string]func(t *testing.T, s rotor.Store){
		"Tenant":                       testTenant,
		"SyncCursor":                   testSyncCursor,
		"AppUpsertAndFind":             testAppUpsertAndFind,
		"AppListPaging":                testAppListPaging,
		"InventoryObjectIDs":           testInventoryObjectIDs,
		"AppListNamePrefixCase":        testAppListNamePrefixCase,
		"AppMarkDeleted":               testAppMarkDeleted,
		"ServicePrincipal":             testServicePrincipal,
		"CredentialSyncOwners":         testCredentialSyncOwners,
		"CredentialSyncOwnersRepeated": testCredentialSyncOwnersRepeatedKey,
		"CredentialList":               testCredentialList,
		"CredentialMarkRemoved":        testCredentialMarkRemoved,
		"CredentialPut":                testCredentialPut,
		"Binding":                      testBinding,
		"BindingOptimistic":            testBindingOptimistic,
		"RotationOneInFlight":          testRotationOneInFlight,
		"RotationClaimAndFence":        testRotationClaimAndFence,
		"RotationClaimConcurrent":      testRotationClaimConcurrent,
		"RotationSteps":                testRotationSteps,
		"RotationParkRenewCancelRetry": testRotationParkRenewCancelRetry,
		"SealedSecret":                 testSealedSecret,
		"SealedRewrap":                 testSealedRewrap,
		"AuditChain":                   testAuditChain,
		"AuditConcurrent":              testAuditConcurrent,
		"InTxRollback":                 testInTxRollback,
		"ConcurrentWriters":            testConcurrentWriters,
		"Lease":                        testLease,
		"Agent":                        testAgent,
		"TimePrecision":                testTimePrecision,
		"APIToken":                     testAPIToken,
		"SessionEnd":                   testSessionEnd,
		"CredentialSearchStates":       testCredentialSearchStates,
		"CredentialSearchPaging":       testCredentialSearchPaging,
		"CredentialStats":              testCredentialStats,
		"AppSearch":                    testAppSearch,
		"BindingSearch":                testBindingSearch,
		"RotationSearch":               testRotationSearch,
		"AuditSearch":                  testAuditSearch,
		"NotificationInsertOnce":       testNotificationInsertOnce,
		"NotificationInsertConcurrent": testNotificationInsertConcurrent,
		"NotificationClaimAndFence":    testNotificationClaimAndFence,
		"NotificationClaimConcurrent":  testNotificationClaimConcurrent,
		"NotificationList":             testNotificationList,
		"NotificationRetryAndPrune":    testNotificationRetryAndPrune,
		"NotifyCursor":                 testNotifyCursor,
		"NotificationThreshold":        testNotificationThreshold,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, h.New(t))
		})
	}
	replicaTests := map[string]func(t *testing.T, a, b rotor.Store){
		"ReplicaClaimConcurrent": testReplicaClaimConcurrent,
		"ReplicaLeaseTakeover":   testReplicaLeaseTakeover,
		"ReplicaOneInFlight":     testReplicaOneInFlight,
		"ReplicaAuditConcurrent": testReplicaAuditConcurrent,
	}
	for name, fn := range replicaTests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NotNil(t, h.Replicas, "Harness.Replicas is required")
			a, b := h.Replicas(t)
			fn(t, a, b)
		})
	}
	t.Run("MigrationFailureKeepsVersion", func(t *testing.T) {
		t.Parallel()
		testMigrationFailure(t, h.NewDatabase(t))
	})
	t.Run("MigrationConcurrent", func(t *testing.T) {
		t.Parallel()
		testMigrationConcurrent(t, h.NewDatabase(t))
	})
}

// now is the suite's fixed clock reading; tests derive every time from it.
var now = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

const day = 24 * time.Hour

func ctx(t *testing.T) context.Context { return t.Context() }

func newID() string { return uuid.NewString() }

func mustTenant(t *testing.T, s rotor.Store, name string) {
	t.Helper()
	require.NoError(t, s.TenantUpsert(ctx(t), &rotor.Tenant{Name: name, TenantID: newID(), CreatedAt: now, UpdatedAt: now}))
}

func secretCred(keyID string, end time.Time) *rotor.Credential {
	return &rotor.Credential{KeyID: keyID, Kind: rotor.KindSecret, DisplayName: "cred " + keyID[:8], Hint: "abc",
		StartAt: end.Add(-180 * day), EndAt: end}
}

func mustBinding(t *testing.T, s rotor.Store, tenant string) *rotor.Binding {
	t.Helper()
	b := &rotor.Binding{ID: newID(), Tenant: tenant, OwnerKind: rotor.OwnerApplication, OwnerID: newID(), AppID: newID(),
		Kind: rotor.KindSecret, Policy: "default", Source: rotor.BindingManual, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.BindingInsert(ctx(t), b))
	return b
}

func newRotation(b *rotor.Binding) *rotor.Rotation {
	return &rotor.Rotation{ID: newID(), BindingID: b.ID, Tenant: b.Tenant, OwnerKind: b.OwnerKind, OwnerID: b.OwnerID,
		AppID: b.AppID, Trigger: rotor.TriggerManual, State: rotor.RotationPending, NextAttemptAt: now,
		CreatedAt: now, UpdatedAt: now}
}

func keyIDs(creds []*rotor.Credential) []string {
	out := make([]string, len(creds))
	for i, c := range creds {
		out[i] = c.KeyID
	}
	return out
}

func appNames(apps []*rotor.App) []string {
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.DisplayName
	}
	return out
}

func name(i int) string { return fmt.Sprintf("app-%03d", i) }
