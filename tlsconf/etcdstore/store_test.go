package etcdstore

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// Two Stores on one 3-member cluster see each other's pins and PSK
// identities through Watch within a second, also after a member crashed.
func TestTwoStoresShare(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{})
	ctx := context.Background()
	a := openStore(t, c, "/wssproxy/share", nil)
	b := openStore(t, c, "wssproxy/share/", nil) // the same prefix, normalized
	if a.Prefix() != "/wssproxy/share" || b.Prefix() != a.Prefix() {
		t.Fatalf("prefixes %q %q", a.Prefix(), b.Prefix())
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw := b.Watch(wctx)
	aw := a.Watch(wctx)

	added := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	e := tlsconf.PinEntry{Server: "Upstream.example:443", Pin: testPin(1), Kinds: []tlsconf.ErrorKind{tlsconf.SelfSigned},
		Added: added, Source: tlsconf.SourceResume, By: "10.0.0.1", Note: "CN=upstream"}
	if err := a.PutPin(ctx, e); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, bw, time.Second, "a pin put on the other store")
	got, err := b.PinsFor(ctx, "upstream.EXAMPLE:443")
	if err != nil || len(got) != 1 || got[0].Pin != e.Pin || got[0].Source != tlsconf.SourceResume || !got[0].Added.Equal(added) ||
		got[0].Note != "CN=upstream" || len(got[0].Kinds) != 1 || got[0].Server != e.Server {
		t.Fatalf("b.PinsFor: %+v %v", got, err)
	}

	drain(aw)
	if err := b.PutPSK(ctx, "device-1", testKey(1)); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, aw, time.Second, "an identity put on the other store")
	if k, err := a.GetKey(ctx, []byte("device-1")); err != nil || !bytes.Equal(k, testKey(1)) {
		t.Fatalf("a.GetKey: %x %v", k, err)
	}
	if ids, _ := a.PSKIdentities(ctx); len(ids) != 1 || ids[0] != "device-1" {
		t.Fatalf("identities %q", ids)
	}
	if k, err := a.GetKey(ctx, []byte("device-2")); k != nil || err != nil {
		t.Fatalf("unknown identity: %x %v", k, err)
	}

	// A member crashes: both stores keep working and propagating.
	c.Kill(0)
	c.WaitHealthy(10 * time.Second)
	drain(bw)
	if ok, err := a.DeletePin(ctx, "UPSTREAM.example:443", e.Pin); !ok || err != nil {
		t.Fatalf("DeletePin: %v %v", ok, err)
	}
	waitSignal(t, bw, time.Second, "a pin deleted on the other store with a member down")
	if hasPin(t, b, e.Server, e.Pin) {
		t.Fatal("the deleted pin is still served")
	}
	deletePSKSeen(ctx, t, b, a, aw, "device-1", "an identity deleted on the other store")
	if ok, err := b.DeletePSK(ctx, "device-1"); ok || err != nil {
		t.Fatalf("DeletePSK again: %v %v", ok, err)
	}
	for _, s := range []*Store{a, b} {
		if st := s.Status(); st.Degraded || st.PendingWrites != 0 || st.Revision == 0 {
			t.Fatalf("status %+v", st)
		}
	}
}

func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}
