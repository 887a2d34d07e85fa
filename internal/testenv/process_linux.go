package testenv

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// startCmd starts cmd so that the kernel sends it SIGKILL when the test binary dies.
//
// The parent-death signal fires when the thread that forked the child exits, not the process
// (https://go.dev/issue/27505), and the Go runtime ends a thread when a goroutine locked to it
// returns. So every child is forked by one goroutine locked to its thread for the life of the test
// binary: that thread ends only with the process.
func startCmd(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	req := forkRequest{cmd: cmd, err: make(chan error, 1)}
	forker() <- req
	return <-req.err
}

type forkRequest struct {
	cmd *exec.Cmd
	err chan error
}

var forker = sync.OnceValue(func() chan<- forkRequest {
	reqs := make(chan forkRequest)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the process
		for r := range reqs {
			r.err <- r.cmd.Start()
		}
	}()
	return reqs
})
