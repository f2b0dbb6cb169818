package pgtest

import "syscall"

// procAttr runs a server program as cred (nil: as this process's user) and has the kernel end it if the test
// binary dies first (SIGQUIT: PostgreSQL's immediate shutdown, which also ends its backends).
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
}
