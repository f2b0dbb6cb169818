//go:build unix && !linux

package pgtest

import "syscall"

// procAttr runs a server program as cred (nil: as this process's user). Outside Linux nothing ends it if the test
// binary is killed; it is stopped when the last test using it ends.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
