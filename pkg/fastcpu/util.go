package fastcpu

import (
	"os"
	"reflect"
	"strings"

	"github.com/pkg/errors"
)

// copyFlatAny copies between two flat slices of the same type and length.
func copyFlatAny(dst, src any) error {
	dv, sv := reflect.ValueOf(dst), reflect.ValueOf(src)
	if dv.Type() != sv.Type() || dv.Len() != sv.Len() {
		return errors.Errorf("fastcpu: copy between %T[%d] and %T[%d]", dst, dv.Len(), src, sv.Len())
	}
	reflect.Copy(dv, sv)
	return nil
}

// envBool reads a boolean environment variable ("0", "false", "off" are false).
func envBool(name string, def bool) bool {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "0", "false", "off", "no":
		return false
	}
	return true
}
