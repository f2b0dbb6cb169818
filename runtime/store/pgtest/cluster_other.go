//go:build !unix

package pgtest

import (
	"errors"
	"testing"
)

type cluster struct{ admin string }

func sharedCluster(testing.TB) (*cluster, error) {
	return nil, errors.New("throwaway clusters need a Unix system; set " + EnvURL)
}
