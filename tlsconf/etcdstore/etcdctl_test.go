package etcdstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// The etcdctl commands of the package documentation work: a pin and a
// PSK identity added by hand are served within a second, listed by
// etcdctl, and gone once deleted by hand.
func TestEtcdctlOperator(t *testing.T) {
	etcdctl := testpeer.LookPath(t, "etcdctl", "apt-get install etcd-client (scripts/peers/etcdstore.apt)")
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	ctx := context.Background()
	s := openStore(t, c, "/wssproxy/prod", nil)
	run := func(args ...string) string {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, etcdctl, append([]string{"--endpoints", strings.Join(c.Endpoints(), ",")}, args...)...)
		cmd.Env = append(cmd.Environ(), "ETCDCTL_API=3")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("etcdctl %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	changed := s.Watch(ctx)

	pin := testPin(7)
	b64 := base64.StdEncoding.EncodeToString(pin.Sum[:])
	hexPin := hex.EncodeToString(pin.Sum[:])
	pinKey := "/wssproxy/prod/trust/pins/upstream.example:443/spki-sha256:" + hexPin
	run("put", pinKey, `{"server":"upstream.example:443","pin":"sha256//`+b64+`","source":"operator"}`)
	key := hex.EncodeToString(testKey(7))
	run("put", "/wssproxy/prod/trust/psk/device-17", key)
	testpeer.WaitFor(t, time.Second, "the hand-written pin and identity", func() bool {
		k, _ := s.GetKey(ctx, []byte("device-17"))
		return hasPin(t, s, "upstream.example:443", pin) && bytes.Equal(k, testKey(7))
	})
	got, _ := s.PinsFor(ctx, "upstream.example:443")
	if len(got) != 1 || got[0].Source != tlsconf.SourceOperator || len(s.Status().Malformed) != 0 {
		t.Fatalf("pins %+v, status %+v", got, s.Status())
	}
	// What the Store writes, etcdctl lists.
	if err := s.PutPSK(ctx, "device-18", testKey(8)); err != nil {
		t.Fatal(err)
	}
	list := run("get", "--prefix", "--keys-only", "/wssproxy/prod/trust/psk/")
	if !strings.Contains(list, "/wssproxy/prod/trust/psk/device-17\n") || !strings.Contains(list, "/wssproxy/prod/trust/psk/device-18\n") || strings.Contains(list, key) {
		t.Fatalf("etcdctl lists:\n%s", list)
	}
	if pins := run("get", "--prefix", "/wssproxy/prod/trust/pins/"); !strings.Contains(pins, pinKey) {
		t.Fatalf("etcdctl pins:\n%s", pins)
	}

	drain(changed)
	run("del", pinKey)
	run("del", "/wssproxy/prod/trust/psk/device-17")
	waitSignal(t, changed, time.Second, "etcdctl del")
	testpeer.WaitFor(t, time.Second, "the deletions", func() bool {
		k, _ := s.GetKey(ctx, []byte("device-17"))
		return !hasPin(t, s, "upstream.example:443", pin) && k == nil
	})
}
