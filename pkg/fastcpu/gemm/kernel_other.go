//go:build !amd64 || purego

package gemm

func init() {
	all = append(all, kernGeneric)
	active = kernGeneric
}
