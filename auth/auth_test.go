package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/secret"
)

func TestRolesGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role                Role
		read, rotate, write bool
	}{
		{Viewer, true, false, false},
		{Operator, true, true, false},
		{Admin, true, true, true},
		{Role("root"), false, false, false},
		{Role(""), false, false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.read, tt.role.Can(Read))
			require.Equal(t, tt.rotate, tt.role.Can(Rotate))
			require.Equal(t, tt.write, tt.role.Can(Write))
			require.True(t, tt.role.Can(Public), "public routes need no role")
		})
	}
	var nobody *Principal
	require.False(t, nobody.Can(Read))
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"viewer", "Operator", " admin "} {
		r, err := ParseRole(s)
		require.NoError(t, err)
		require.True(t, r.Valid())
	}
	_, err := ParseRole("owner")
	require.EqualError(t, err, `unknown role "owner": use viewer, operator or admin`)
}

func TestRoleMapStrongestWins(t *testing.T) {
	t.Parallel()
	m := RoleMap{
		Groups:   map[string]Role{"aaaaaaaa-0000-0000-0000-000000000001": Viewer, "aaaaaaaa-0000-0000-0000-000000000003": Admin},
		AppRoles: map[string]Role{"Rotor.Operator": Operator},
	}
	tests := []struct {
		name          string
		groups, roles []string
		want          Role
		ok            bool
	}{
		{"nothing", nil, nil, "", false},
		{"unmapped group", []string{"bbbbbbbb-0000-0000-0000-000000000000"}, nil, "", false},
		{"viewer group", []string{"aaaaaaaa-0000-0000-0000-000000000001"}, nil, Viewer, true},
		{"group ids ignore case", []string{"AAAAAAAA-0000-0000-0000-000000000001"}, nil, Viewer, true},
		{"app role", nil, []string{"Rotor.Operator"}, Operator, true},
		{"app roles are case-sensitive", nil, []string{"rotor.operator"}, "", false},
		{"group and app role: the stronger", []string{"aaaaaaaa-0000-0000-0000-000000000001"}, []string{"Rotor.Operator"}, Operator, true},
		{"admin group wins", []string{"aaaaaaaa-0000-0000-0000-000000000003", "aaaaaaaa-0000-0000-0000-000000000001"}, []string{"Rotor.Operator"}, Admin, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := m.Resolve(tt.groups, tt.roles)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	v, hash, err := NewToken()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(v.Reveal(), "rotor_"))
	require.Len(t, v.Reveal(), len("rotor_")+43)
	require.True(t, LooksLikeToken(v.Reveal()))
	require.Equal(t, HashToken(v.Reveal()), hash)
	require.Len(t, hash, 64)
	require.NotContains(t, hash, v.Reveal()[6:])
	v2, hash2, err := NewToken()
	require.NoError(t, err)
	require.NotEqual(t, v.Reveal(), v2.Reveal())
	require.NotEqual(t, hash, hash2)
	for _, s := range []string{"", "rotor_", "rotor_short", "bearer " + v.Reveal(), strings.Replace(v.Reveal(), "rotor_", "rotar_", 1), v.Reveal()[:48] + "!!"} {
		require.False(t, LooksLikeToken(s), s)
	}
}

func TestSealer(t *testing.T) {
	t.Parallel()
	_, err := NewSealer(secret.New("too short"))
	require.ErrorContains(t, err, "session key is 9 bytes: use at least 32")
	s, err := NewSealer(secret.New(strings.Repeat("k", 44)))
	require.NoError(t, err)
	other, err := NewSealer(secret.New(strings.Repeat("j", 44)))
	require.NoError(t, err)

	sealed, err := s.Seal("session", []byte(`{"sub":"alice"}`))
	require.NoError(t, err)
	require.NotContains(t, sealed, "alice")
	pt, err := s.Open("session", sealed)
	require.NoError(t, err)
	require.Equal(t, `{"sub":"alice"}`, string(pt))
	again, err := s.Seal("session", []byte(`{"sub":"alice"}`))
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "a fresh nonce each time")

	_, err = s.Open("login", sealed)
	require.ErrorIs(t, err, ErrBadSeal, "sealed for another purpose")
	_, err = other.Open("session", sealed)
	require.ErrorIs(t, err, ErrBadSeal, "another key")
	b := []byte(sealed)
	b[len(b)/2] ^= 1
	_, err = s.Open("session", string(b))
	require.ErrorIs(t, err, ErrBadSeal, "altered")
	for _, bad := range []string{"", "!!", "AAAA"} {
		_, err = s.Open("session", bad)
		require.ErrorIs(t, err, ErrBadSeal)
	}

	mac := s.MAC("csrf", "session-1")
	require.True(t, s.CheckMAC("csrf", "session-1", mac))
	require.False(t, s.CheckMAC("csrf", "session-2", mac))
	require.False(t, s.CheckMAC("other", "session-1", mac))
	require.False(t, other.CheckMAC("csrf", "session-1", mac))
}

func TestPrincipalActor(t *testing.T) {
	t.Parallel()
	require.Equal(t, "user:alice@contoso.com", (&Principal{Kind: KindUser, Name: "alice@contoso.com"}).Actor())
	require.Equal(t, "token:ci", (&Principal{Kind: KindToken, Name: "ci"}).Actor())
}
