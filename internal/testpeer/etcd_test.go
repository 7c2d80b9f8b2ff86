package testpeer

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The cluster helper starts three TLS members, survives one member's
// crash, and comes back after a full stop.
func TestStartEtcd(t *testing.T) {
	c := StartEtcd(t, EtcdOptions{TLS: true})
	if len(c.Endpoints()) != 3 || c.ClientTLS() == nil || c.CAFile == "" {
		t.Fatalf("cluster: %v %v", c.Endpoints(), c.CAFile)
	}
	c.Kill(1)
	c.WaitHealthy(10 * time.Second)
	c.Stop()
	c.Restart()
}
