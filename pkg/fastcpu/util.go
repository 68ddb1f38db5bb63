package fastcpu

import (
	"reflect"

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
