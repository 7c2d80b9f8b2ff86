package tlsconf

import (
	"slices"
	"testing"
)

func kindsOf(errs []SSLError) []ErrorKind {
	out := make([]ErrorKind, len(errs))
	for i, e := range errs {
		out[i] = e.Kind
	}
	return out
}

func depthsOf(errs []SSLError) []int {
	out := make([]int, len(errs))
	for i, e := range errs {
		out[i] = e.Depth
	}
	return out
}

func TestVerifyScenarios(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios(t) {
		t.Run(sc.name, func(t *testing.T) {
			errs := Verify(certsOf(sc.served...), VerifyOptions{DNSName: sc.host, Roots: pool(sc.roots...)})
			if got := kindsOf(errs); !slices.Equal(got, sc.want) {
				t.Fatalf("kinds = %v, want %v\nerrors: %v", got, sc.want, errs)
			}
			if got := depthsOf(errs); len(sc.want) > 0 && !slices.Equal(got, sc.wantDepths) {
				t.Fatalf("depths = %v, want %v\nerrors: %v", got, sc.wantDepths, errs)
			}
			for _, e := range errs {
				if e.Cert == nil {
					t.Errorf("%v has no certificate", e)
				}
			}
		})
	}
}
