//go:build unix

package file

import (
	"io/fs"
	"os"
	"syscall"
)

// ownerOf returns the owner of the file fi describes.
func ownerOf(fi fs.FileInfo) *Owner {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return &Owner{UID: int(st.Uid), GID: int(st.Gid)}
}

// chown gives f to o, unless o is already the owner the process creates files as.
func chown(f *os.File, o Owner) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if cur := ownerOf(fi); cur != nil && *cur == o {
		return nil
	}
	return f.Chown(o.UID, o.GID)
}

// canWriteDir reports whether the process may create and rename files in dir.
func canWriteDir(dir string) error {
	return syscall.Access(dir, 0x2|0x1) // W_OK|X_OK
}

// canChown reports whether the process can give a file it creates to o.
func canChown(o Owner) bool {
	if os.Geteuid() == 0 {
		return true
	}
	return o.UID == os.Geteuid() && (o.GID == os.Getegid() || inGroup(o.GID))
}

func inGroup(gid int) bool {
	groups, err := os.Getgroups()
	if err != nil {
		return false
	}
	for _, g := range groups {
		if g == gid {
			return true
		}
	}
	return false
}
