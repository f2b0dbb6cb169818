//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package sqlite

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked by another holder")

func tryLock(*os.File) error {
	return errors.New("leader election on SQLite needs flock(2), which this system lacks; use the PostgreSQL store")
}

func unlock(*os.File) {}
