// Package file is the "file" step type: it writes the new secret into a configuration file on
// rotor's host, in place, atomically, with a backup of the previous content.
//
//   - name: appsettings
//     type: file
//     path: /srv/app/appsettings.json
//     key: Entra:ClientSecret          # json: colon path; yaml: dot path; env: NAME; ini: section.key
//     extra: {"Entra:ClientId": "{{.AppID}}"}
//
// The format comes from the format setting or the file's extension; target/file/edit does the
// editing and changes only the value's bytes. A publish reads the file, edits it, and, when the
// result differs, keeps a backup of the previous content next to the file
// (<file>.rotor-backup.<rotation id>, mode 0600) and replaces the file atomically (temporary file
// in the same directory, fsync, rename, fsync of the directory), keeping its mode and owner.
// Revert restores the backup; Retire removes it once the old credential is gone.
package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target"
	"github.com/rotorhq/rotor/target/file/edit"
	"github.com/rotorhq/rotor/target/internal/fields"
)

// Type is the step type name.
const Type = "file"

// MaxSize is the largest file the step edits.
const MaxSize = 8 << 20

// Config is the step's settings.
type Config struct {
	// Path is the file, absolute. A symbolic link is followed: the file it points to is edited.
	Path string `yaml:"path,required"`
	// Format is json, yaml, env, ini or raw; default from the file's extension.
	Format string `yaml:"format"`
	// Key locates the value (see package edit); not used with raw.
	Key string `yaml:"key"`
	// Extra sets other keys to templates of the deployment's fields, e.g. {{.AppID}}.
	Extra map[string]string `yaml:"extra"`
	// Create creates the file, and the key in it, when missing. Without it a missing file or
	// key is an error: a typo would otherwise leave the application on the old secret.
	Create bool `yaml:"create"`
	// Mode of a created file, octal; default 0600. An existing file keeps its mode.
	Mode string `yaml:"mode"`
	// Backup keeps the previous content next to the file; default true.
	Backup *bool `yaml:"backup"`
}

// Factory returns the file step type's factory.
func Factory() target.Factory {
	return func(d *config.Decoder, params *yaml.Node, at string) rotor.Target {
		var c Config
		before := len(d.Errs())
		d.Decode(params, &c, at)
		t := c.build(d, at)
		if len(d.Errs()) > before {
			return nil
		}
		return t
	}
}

type extraKey struct {
	key string
	tpl *fields.Template
}

// Target is a configured file step.
type Target struct {
	path   string
	format edit.Format
	key    string
	extra  []extraKey
	create bool
	mode   fs.FileMode
	backup bool
	mu     sync.Mutex // serialises this target's writes; other writers are detected, not locked out
}

var (
	_ rotor.Target   = (*Target)(nil)
	_ rotor.Reverter = (*Target)(nil)
	_ rotor.Retirer  = (*Target)(nil)
)

func (c *Config) build(d *config.Decoder, at string) *Target {
	t := &Target{path: filepath.Clean(c.Path), key: c.Key, create: c.Create, mode: 0o600, backup: c.Backup == nil || *c.Backup}
	if c.Path != "" && !filepath.IsAbs(c.Path) {
		d.Errorf(at+".path", "%q: must be an absolute path", c.Path)
	}
	switch {
	case c.Format != "":
		f, err := edit.ParseFormat(c.Format)
		if err != nil {
			d.Errorf(at+".format", "%v", err)
		}
		t.format = f
	case c.Path != "":
		f, ok := edit.FormatOf(c.Path)
		if !ok {
			d.Errorf(at+".format", "cannot tell the format from the file name %q: set json, yaml, env, ini or raw", filepath.Base(c.Path))
		}
		t.format = f
	}
	if t.format != "" {
		if t.format != edit.Raw && c.Key == "" {
			d.Errorf(at+".key", "required for format %s", t.format)
		} else if err := edit.CheckKey(t.format, c.Key); err != nil {
			d.Errorf(at+".key", "%v", err)
		}
	}
	if len(c.Extra) > 0 && t.format == edit.Raw {
		d.Errorf(at+".extra", "a raw file holds only the secret")
	}
	keys := make([]string, 0, len(c.Extra))
	for k := range c.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if t.format != "" && t.format != edit.Raw {
			if err := edit.CheckKey(t.format, k); err != nil {
				d.Errorf(at+".extra."+k, "%v", err)
				continue
			}
		}
		if strings.EqualFold(k, c.Key) {
			d.Errorf(at+".extra."+k, "is the secret's own key")
			continue
		}
		tpl, err := fields.ParseTemplate(c.Extra[k])
		if err != nil {
			d.Errorf(at+".extra."+k, "%v", err)
			continue
		}
		t.extra = append(t.extra, extraKey{key: k, tpl: tpl})
	}
	if c.Mode != "" {
		m, err := strconv.ParseUint(c.Mode, 8, 32)
		if err != nil || m > 0o777 {
			d.Errorf(at+".mode", "%q: want an octal permission such as 0600 or 0640", c.Mode)
		}
		t.mode = fs.FileMode(m)
		if m&0o007 != 0 {
			d.Errorf(at+".mode", "%s: a file holding a secret must not be readable or writable by others", c.Mode)
		}
	}
	return t
}

// state is what a publish found.
type state struct {
	real    string // the path after following links
	exists  bool
	content []byte
	mode    fs.FileMode
	owner   *Owner
}

func (t *Target) read() (state, error) {
	real, err := filepath.EvalSymlinks(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		if !t.create {
			return state{}, rotor.Permanent(fmt.Errorf("file %s does not exist; set create: true to create it", t.path))
		}
		// A dangling link is not followed: its target's directory may not be rotor's to write.
		if fi, lerr := os.Lstat(t.path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return state{}, rotor.Permanent(fmt.Errorf("file %s is a symbolic link to a missing file; rotor does not create link targets", t.path))
		}
		return state{real: t.path, mode: t.mode}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("file %s: %w", t.path, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return state{}, fmt.Errorf("file %s: %w", t.path, err)
	}
	if !fi.Mode().IsRegular() {
		return state{}, rotor.Permanent(fmt.Errorf("file %s is not a regular file", t.path))
	}
	if fi.Size() > MaxSize {
		return state{}, rotor.Permanent(fmt.Errorf("file %s is larger than %d bytes; rotor edits configuration files", t.path, MaxSize))
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return state{}, fmt.Errorf("read file %s: %w", t.path, err)
	}
	return state{real: real, exists: true, content: b, mode: fi.Mode().Perm(), owner: ownerOf(fi)}, nil
}

// checkKey requires the secret's key to exist in an existing file, unless create is set: a
// typo in the key would otherwise add a key nobody reads and leave the application on the old
// secret. Extra keys (non-secret, such as a client id) may always be added.
func (t *Target) checkKey(content []byte) error {
	_, found, err := edit.Get(t.format, content, t.key)
	if err != nil {
		return t.editErr(err)
	}
	if !found && !t.create && t.format != edit.Raw {
		return rotor.Permanent(fmt.Errorf("file %s: key %s not found; check the key or set create: true to add it", t.path, t.key))
	}
	return nil
}

// render returns content with the secret and the extra keys set.
func (t *Target) render(content []byte, d rotor.Deployment) ([]byte, error) {
	out, err := edit.Set(t.format, content, t.key, d.Value)
	if err != nil {
		return nil, t.editErr(err)
	}
	for _, x := range t.extra {
		v, err := x.tpl.Render(d)
		if err != nil {
			return nil, rotor.Permanent(fmt.Errorf("file %s: extra.%s: %w", t.path, x.key, err))
		}
		if out, err = edit.Set(t.format, out, x.key, secret.New(v)); err != nil {
			return nil, t.editErr(err)
		}
	}
	return out, nil
}

func (t *Target) editErr(err error) error {
	return rotor.Permanent(fmt.Errorf("file %s (%s): %w", t.path, t.format, err))
}

func (t *Target) what() string {
	if t.format == edit.Raw {
		return t.path
	}
	return t.key + " in " + t.path
}

// Preflight checks that the file (or its directory, with create) is there and writable, that it
// parses, that the key exists (or create is set) and that rotor can keep the file's owner.
func (t *Target) Preflight(ctx context.Context, d rotor.Deployment) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := t.read()
	if err != nil {
		return err
	}
	dir := filepath.Dir(st.real)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return rotor.Permanent(fmt.Errorf("file %s: directory %s does not exist", t.path, dir))
	}
	if err := canWriteDir(dir); err != nil {
		return rotor.Permanent(fmt.Errorf("file %s: cannot create files in %s (rotor replaces the file atomically): %w", t.path, dir, err))
	}
	if st.owner != nil && !canChown(*st.owner) {
		return rotor.Permanent(fmt.Errorf("file %s belongs to %d:%d and rotor cannot keep that owner: run rotor as that user or as root", t.path, st.owner.UID, st.owner.GID))
	}
	if !st.exists {
		return nil
	}
	if err := t.checkKey(st.content); err != nil {
		return err
	}
	for _, x := range t.extra {
		if _, _, err := edit.Get(t.format, st.content, x.key); err != nil {
			return t.editErr(err)
		}
	}
	for _, x := range t.extra {
		if _, err := x.tpl.Render(d); err != nil {
			return rotor.Permanent(fmt.Errorf("file %s: extra.%s: %w", t.path, x.key, err))
		}
	}
	return nil
}

// undo is the state Revert needs. It holds the previous value: the engine seals it.
type undo struct {
	Backup   string  `json:"backup,omitempty"`   // backup of the previous content
	Created  bool    `json:"created,omitempty"`  // the file did not exist
	Written  string  `json:"written"`            // sha256 of the content written
	Value    string  `json:"value"`              // sha256 of the value written at the key
	Previous *string `json:"previous,omitempty"` // previous value at the key; nil when absent
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// BackupPath is where a publish of rotationID keeps the previous content of path.
func BackupPath(path, rotationID string) string {
	return path + ".rotor-backup." + unsafeName.ReplaceAllString(rotationID, "_")
}

// Publish writes the value (and the extra keys). A file already holding them is left alone.
func (t *Target) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return rotor.Outcome{}, err
	}
	if d.Value.IsZero() {
		return rotor.Outcome{}, rotor.Permanent(fmt.Errorf("file %s: %w", t.path, fields.ErrNoValue))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for attempt := 0; ; attempt++ {
		o, err := t.publish(d)
		if errors.Is(err, errConcurrentChange) && attempt < 3 {
			continue
		}
		return o, err
	}
}

var errConcurrentChange = errors.New("the file changed while rotor was editing it")

func (t *Target) publish(d rotor.Deployment) (rotor.Outcome, error) {
	st, err := t.read()
	if err != nil {
		return rotor.Outcome{}, err
	}
	if st.exists {
		if err := t.checkKey(st.content); err != nil {
			return rotor.Outcome{}, err
		}
	}
	out, err := t.render(st.content, d)
	if err != nil {
		return rotor.Outcome{}, err
	}
	u := undo{Written: digest(out), Value: digest(d.Value.RevealBytes()), Created: !st.exists}
	backup := BackupPath(st.real, d.RotationID)
	if string(out) == string(st.content) && st.exists {
		// Already published (a retry after a crash): report the backup the first attempt made.
		if prev, err := os.ReadFile(backup); err == nil && t.backup {
			u.Backup = backup
			if v, found, err := edit.Get(t.format, prev, t.key); err == nil && found {
				s := v.Reveal()
				u.Previous = &s
			}
		}
		return rotor.Outcome{Changed: false, Message: "already up to date: " + t.what(), Undo: encodeUndo(u)}, nil
	}
	if st.exists {
		if v, found, err := edit.Get(t.format, st.content, t.key); err == nil && found {
			s := v.Reveal()
			u.Previous = &s
		}
	}
	if t.backup && st.exists {
		if _, err := os.Lstat(backup); errors.Is(err, fs.ErrNotExist) {
			// The backup of a rotation is written once: a retry must not replace the
			// original content with a half-published one.
			if err := WriteAtomic(backup, st.content, 0o600, nil); err != nil {
				return rotor.Outcome{}, fmt.Errorf("file %s: backup: %w", t.path, err)
			}
		} else if err != nil {
			return rotor.Outcome{}, fmt.Errorf("file %s: backup: %w", t.path, err)
		}
		u.Backup = backup
	}
	// Detect another writer between our read and our rename.
	if again, err := os.ReadFile(st.real); (err == nil) != st.exists || (err == nil && string(again) != string(st.content)) {
		return rotor.Outcome{}, errConcurrentChange
	}
	if err := WriteAtomic(st.real, out, st.mode, st.owner); err != nil {
		return rotor.Outcome{}, fmt.Errorf("file %s: %w", t.path, err)
	}
	msg := "wrote " + t.what()
	if !st.exists {
		msg = "created " + t.path
		if t.format != edit.Raw {
			msg += " with " + t.key
		}
	}
	if u.Backup != "" {
		msg += " (backup " + filepath.Base(u.Backup) + ")"
	}
	return rotor.Outcome{Changed: true, Message: msg, Undo: encodeUndo(u)}, nil
}

func encodeUndo(u undo) secret.Value {
	b, _ := json.Marshal(u) // plain fields: cannot fail
	return secret.FromBytes(b)
}

// Revert puts back what the file held before d was published: the backup when the file is
// still exactly what rotor wrote, else the previous value at the key. It refuses when someone
// changed the value since, and does nothing when the previous value is back already. It works
// from undo alone (d.Value is not needed); without undo (a publish interrupted before it
// returned) it refuses.
func (t *Target) Revert(ctx context.Context, d rotor.Deployment, undoVal secret.Value) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if undoVal.IsZero() {
		return rotor.Permanent(fmt.Errorf("file %s: revert: the publish left no record of what it wrote; check %s and its backup %s by hand", t.path, t.what(), filepath.Base(BackupPath(t.path, d.RotationID))))
	}
	var u undo
	if err := json.Unmarshal(undoVal.RevealBytes(), &u); err != nil || u.Value == "" {
		return rotor.Permanent(fmt.Errorf("file %s: revert: undo state does not parse", t.path))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	real, err := filepath.EvalSymlinks(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		if u.Created {
			return nil // removed already
		}
		return rotor.Permanent(fmt.Errorf("file %s: revert: the file is gone", t.path))
	}
	if err != nil {
		return fmt.Errorf("file %s: revert: %w", t.path, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("file %s: revert: %w", t.path, err)
	}
	cur, err := os.ReadFile(real)
	if err != nil {
		return fmt.Errorf("file %s: revert: %w", t.path, err)
	}
	v, found, err := edit.Get(t.format, cur, t.key)
	if err != nil {
		return t.editErr(err)
	}
	switch {
	case found && digest(v.RevealBytes()) == u.Value:
		// ours: revert below
	case u.Previous != nil && found && v.Reveal() == *u.Previous, u.Previous == nil && !found:
		return nil // reverted already
	default:
		return rotor.Permanent(fmt.Errorf("file %s: revert: %s changed since rotor wrote it; not reverting", t.path, t.what()))
	}
	unchanged := digest(cur) == u.Written
	switch {
	case u.Created && unchanged:
		if err := os.Remove(real); err != nil {
			return fmt.Errorf("file %s: revert: %w", t.path, err)
		}
		return SyncDir(filepath.Dir(real))
	case unchanged && u.Backup != "":
		prev, err := os.ReadFile(u.Backup)
		if err == nil {
			if err := WriteAtomic(real, prev, fi.Mode().Perm(), ownerOf(fi)); err != nil {
				return fmt.Errorf("file %s: revert: %w", t.path, err)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("file %s: revert: read backup: %w", t.path, err)
		}
	}
	if u.Previous == nil {
		return rotor.Permanent(fmt.Errorf("file %s: revert: %s did not exist before and the file changed since; remove it by hand", t.path, t.what()))
	}
	out, err := edit.Set(t.format, cur, t.key, secret.New(*u.Previous))
	if err != nil {
		return t.editErr(err)
	}
	if err := WriteAtomic(real, out, fi.Mode().Perm(), ownerOf(fi)); err != nil {
		return fmt.Errorf("file %s: revert: %w", t.path, err)
	}
	return nil
}

// Retire removes the backup d's publish made: it holds the previous credential, which is
// removed from Entra by then.
func (t *Target) Retire(ctx context.Context, d rotor.Deployment) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(t.path)
	if err != nil {
		real = t.path
	}
	b := BackupPath(real, d.RotationID)
	if err := os.Remove(b); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file %s: remove backup: %w", t.path, err)
	}
	return nil
}
