package transfer

import (
	"io"

	"github.com/gomlx/gomlx/backends"

	"github.com/msdkit/msdkit/pkg/backend"
)

func backendForTest() (backends.Backend, error) {
	be, _, err := backend.New(io.Discard)
	return be, err
}
