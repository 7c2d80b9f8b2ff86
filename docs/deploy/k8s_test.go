package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// k8sObject is the part of a Kubernetes object the test reads.
type k8sObject struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    int   `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
	Volumes        []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		EmptyDir *struct{} `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name, Value string
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe  *probe `yaml:"readinessProbe"`
	LivenessProbe   *probe `yaml:"livenessProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

func readK8s(t *testing.T) (configMap, deployment k8sObject) {
	t.Helper()
	b, err := os.ReadFile("k8s-sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(false)
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("k8s-sidecar.yaml: %v", err)
		}
		switch o.Kind {
		case "ConfigMap":
			configMap = o
		case "Deployment":
			deployment = o
		}
	}
	if configMap.Data["config.yaml"] == "" || len(deployment.Spec.Template.Spec.Containers) == 0 {
		t.Fatal("k8s-sidecar.yaml: want a ConfigMap with config.yaml and a Deployment")
	}
	return configMap, deployment
}

func findContainer(cs []container, name string) *container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// TestK8sSidecarStructure: an app container and a wssproxy container in
// one pod; wssproxy's ports are the ones its configuration listens on,
// its probes ask the admin port for /readyz and /healthz, the route's
// upstream is the app on localhost; secrets and configuration are
// mounted read-only, the state directory writable; both containers run
// as non-root with a read-only root filesystem and no capabilities.
func TestK8sSidecarStructure(t *testing.T) {
	cm, dep := readK8s(t)
	pod := dep.Spec.Template.Spec
	app, px := findContainer(pod.Containers, "app"), findContainer(pod.Containers, "wssproxy")
	if app == nil || px == nil || len(pod.Containers) != 2 {
		t.Fatalf("containers: want app and wssproxy")
	}
	var cfg struct {
		Admin struct {
			Listen    string `yaml:"listen"`
			TokenFile string `yaml:"token_file"`
		} `yaml:"admin"`
		Listeners []struct {
			Listen string `yaml:"listen"`
			TLS    struct {
				CertFile string `yaml:"cert_file"`
				KeyFile  string `yaml:"key_file"`
				PSKFile  string `yaml:"psk_file"`
			} `yaml:"tls"`
			Routes []struct {
				Upstream string `yaml:"upstream"`
			} `yaml:"routes"`
		} `yaml:"listeners"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	ports := map[string]string{}
	for _, p := range px.Ports {
		ports[p.Name] = ":" + strconv.Itoa(p.ContainerPort)
	}
	if len(cfg.Listeners) != 1 || !strings.HasSuffix(cfg.Listeners[0].Listen, ports["wss"]) || ports["wss"] == "" {
		t.Errorf("wss port %q, listeners %+v: want the container port the listener listens on", ports["wss"], cfg.Listeners)
	}
	if !strings.HasSuffix(cfg.Admin.Listen, ports["admin"]) || ports["admin"] == "" {
		t.Errorf("admin port %q, admin listen %q", ports["admin"], cfg.Admin.Listen)
	}
	for name, p := range map[string]*probe{"readiness": px.ReadinessProbe, "liveness": px.LivenessProbe} {
		want := map[string]string{"readiness": "/readyz", "liveness": "/healthz"}[name]
		if p == nil || p.HTTPGet.Path != want || p.HTTPGet.Port != "admin" {
			t.Errorf("%s probe %+v: want GET %s on the admin port", name, p, want)
		}
	}
	appListen := ""
	for _, e := range app.Env {
		if e.Name == "LISTEN" {
			appListen = e.Value
		}
	}
	if up := cfg.Listeners[0].Routes[0].Upstream; appListen == "" || !strings.HasPrefix(appListen, "127.0.0.1:") || up != "ws://"+appListen+"/" {
		t.Errorf("upstream %q, app LISTEN %q: want the app on loopback", up, appListen)
	}

	// Every file the configuration names is under a read-only mount of
	// the wssproxy container; the state directory is writable.
	mounts := map[string]bool{} // path -> read-only
	for _, m := range px.VolumeMounts {
		mounts[m.MountPath] = m.ReadOnly
	}
	for _, f := range []string{cfg.Listeners[0].TLS.CertFile, cfg.Listeners[0].TLS.KeyFile, cfg.Listeners[0].TLS.PSKFile, cfg.Admin.TokenFile, "/etc/wssproxy/config.yaml"} {
		found := false
		for p, ro := range mounts {
			if f == p || strings.HasPrefix(f, p+"/") {
				found = true
				if !ro {
					t.Errorf("%s is under the writable mount %s", f, p)
				}
			}
		}
		if !found {
			t.Errorf("%s (named by the configuration) is not mounted", f)
		}
	}
	if ro, ok := mounts["/var/lib/wssproxy"]; !ok || ro {
		t.Errorf("state directory /var/lib/wssproxy: mounted %v, read-only %v; want a writable volume", ok, ro)
	}
	if px.Args[0] != "serve" || px.Args[len(px.Args)-1] != "/etc/wssproxy/config.yaml" {
		t.Errorf("wssproxy args %q", px.Args)
	}
	secrets := 0
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			secrets++
		}
	}
	if secrets < 2 {
		t.Errorf("%d secret volumes, want the certificate's and the PSK/token's", secrets)
	}

	if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", sc)
	}
	for _, c := range append(append([]container{}, pod.InitContainers...), pod.Containers...) {
		sc := c.SecurityContext
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("container %s securityContext %+v: want a read-only root, no privilege escalation, capabilities dropped", c.Name, sc)
		}
	}
}

// TestK8sSidecarServes runs the static binary with the ConfigMap's
// configuration, its paths and ports mapped to a temporary folder and
// loopback: /readyz answers 200, a certificate client and a PSK device
// (both with the allowed Origin) get their messages echoed by the
// "app", and SIGTERM ends it with 0.
func TestK8sSidecarServes(t *testing.T) {
	cm, _ := readK8s(t)
	bin := staticBinary(t)
	dir := t.TempDir()
	for _, d := range []string{"tls", "run", "state"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := certs.DevCA(&certs.DevCAOptions{Dir: filepath.Join(dir, "devca")})
	if err != nil {
		t.Fatal(err)
	}
	copyFile := func(from, to string, mode os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(ca.CertFile, filepath.Join(dir, "tls", "tls.crt"), 0o644)
	copyFile(ca.KeyFile, filepath.Join(dir, "tls", "tls.key"), 0o400)
	key := []byte("0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(filepath.Join(dir, "run", "psk.txt"), []byte("device-1:"+hex.EncodeToString(key)+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run", "admin-token"), []byte("k8s-sidecar-test-token-0123456789\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	app := echo.Start(listenLocal(t), nil, nil)
	defer app.Shutdown(context.Background(), ws.StatusGoingAway, "")

	conf := strings.NewReplacer(
		"/etc/wssproxy/tls/", filepath.Join(dir, "tls")+"/",
		"/run/wssproxy/", filepath.Join(dir, "run")+"/",
		"0.0.0.0:9090", "127.0.0.1:0",
		"0.0.0.0:8443", "127.0.0.1:0",
		"ws://127.0.0.1:8080/", "ws://"+app.Addr().String()+"/",
	).Replace(cm.Data["config.yaml"])
	confFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", confFile)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	var wssURL, adminURL string
	sc := bufio.NewScanner(stdout)
	for (wssURL == "" || adminURL == "") && sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case strings.HasPrefix(sc.Text(), "wssproxy: serving wss://"):
			wssURL = f[2]
		case strings.HasPrefix(sc.Text(), "admin API:"):
			adminURL = strings.TrimSuffix(f[2], "/")
		}
	}
	if wssURL == "" || adminURL == "" {
		t.Fatalf("serve printed no wss or admin URL; stderr: %s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := hc.Get(adminURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("/readyz never answered 200 (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	hc.CloseIdleConnections()

	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(ca.CACertFile)
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("CA: %v", err)
	}
	origin := http.Header{"Origin": {"https://chat.example.com"}}
	device := &psk.ClientConfig{Identity: []byte("device-1"), Key: key}
	for name, opts := range map[string]*ws.DialOptions{
		"certificate client": {Header: origin, TLSConfig: &tls.Config{RootCAs: roots}},
		"psk device":         {Header: origin, TLSClient: device.TLSClient},
	} {
		c, _, err := ws.Dial(ctx, wssURL, opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.WriteMessage(ctx, ws.MessageText, []byte(name)); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.ReadMessage(ctx); err != nil || string(msg) != name {
			t.Errorf("%s: echo %q %v", name, msg, err)
		}
		c.Close(ws.StatusNormalClosure, "")
	}
	// Another origin is refused: the allow-list of the example is live.
	if _, _, err := ws.Dial(ctx, wssURL, &ws.DialOptions{Header: http.Header{"Origin": {"https://evil.example"}}, TLSConfig: &tls.Config{RootCAs: roots}}); err == nil {
		t.Error("a foreign origin was let through")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v; stderr: %s", err, stderr.String())
	}
}

func listenLocal(t *testing.T) net.Listener { return testpeer.Listen(t) }
