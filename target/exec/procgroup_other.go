//go:build !unix

package exec

import osexec "os/exec"

// setProcessGroup keeps os/exec's default: cancelling kills the process.
func setProcessGroup(*osexec.Cmd) {}
