package testenv

import "testing"

func TestSanitize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sep  rune
		n    int
		want string
	}{
		{"TestStore/PostgreSQL_claims", '_', 50, "teststore_postgresql_claims"},
		{"TestRotate/#00", '-', 50, "testrotate-00"},
		{"Test/--x--", '-', 50, "test-x"},
		{"TestAVeryLongName/with_a_subtest", '-', 12, "testaverylon"},
		{"Test___/abc", '_', 5, "test"},
		{"ünïcode", '-', 50, "n-code"},
		{"", '-', 50, ""},
	} {
		if got := sanitize(tc.name, tc.sep, tc.n); got != tc.want {
			t.Errorf("sanitize(%q, %q, %d) = %q, want %q", tc.name, tc.sep, tc.n, got, tc.want)
		}
	}
}
