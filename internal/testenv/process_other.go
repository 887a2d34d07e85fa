//go:build !linux

package testenv

import "os/exec"

// startCmd starts cmd. Outside Linux there is no parent-death signal: Main stops the shared
// processes, but a killed test binary can leave them running.
func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
