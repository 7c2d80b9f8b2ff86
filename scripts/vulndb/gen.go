//go:build ignore

// Command gen writes the part of the Go vulnerability database that
// concerns this repository (the standard library, the toolchain and every
// module of "go list -m all" in the library's module and in tests/) in the database's v1 layout, for
// "govulncheck -db file://…" on machines that cannot reach vuln.go.dev.
//
// Its input is a checkout of https://github.com/golang/vulndb (the OSV
// entries of data/osv); refresh the committed copy with:
//
//	go run scripts/vulndb/gen.go -vulndb /path/to/vulndb -out scripts/vulndb/db
//
// (-modified TIME when the folder is an export, not a git checkout). The
// entries are copied unchanged but for "modified" (CC-BY 4.0, see the
// vulndb repo's data/LICENSE, copied beside the database); "modified" is
// the checkout's commit time.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// modules are the repository's Go modules: the library and the tests
// module (tests/go.mod, with the other WebSocket libraries and chromedp).
var modules = []string{".", "tests"}

type entry struct {
	ID       string   `json:"id"`
	Modified string   `json:"modified"`
	Aliases  []string `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string `json:"id"`
	Modified string `json:"modified"`
	Fixed    string `json:"fixed,omitempty"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

func main() {
	vulndb := flag.String("vulndb", "", "checkout of github.com/golang/vulndb")
	out := flag.String("out", "scripts/vulndb/db", "database folder to write")
	at := flag.String("modified", "", "the vulndb commit's time (RFC 3339), when -vulndb is not a git checkout")
	flag.Parse()
	if *vulndb == "" {
		log.Fatal("-vulndb is required")
	}
	when := []byte(*at)
	if *at == "" {
		var err error
		if when, err = exec.Command("git", "-C", *vulndb, "log", "-1", "--format=%cI").Output(); err != nil {
			log.Fatalf("commit time of %s: %v", *vulndb, err)
		}
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(when)))
	if err != nil {
		log.Fatal(err)
	}
	modified := t.UTC().Format(time.RFC3339)
	wanted := map[string]bool{"stdlib": true, "toolchain": true}
	for _, dir := range modules {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Path}}", "all")
		cmd.Dir = dir
		list, err := cmd.Output()
		if err != nil {
			log.Fatalf("go list -m all in %s: %v", dir, err)
		}
		for _, m := range strings.Fields(string(list)) {
			wanted[m] = true
		}
	}
	files, err := filepath.Glob(filepath.Join(*vulndb, "data", "osv", "GO-*.json"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no OSV entries under %s/data/osv", *vulndb)
	}
	if err := os.RemoveAll(*out); err != nil {
		log.Fatal(err)
	}
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(*out, d), 0o755); err != nil {
			log.Fatal(err)
		}
	}
	modules := map[string]*module{}
	type vulnIndex struct {
		ID       string   `json:"id"`
		Modified string   `json:"modified"`
		Aliases  []string `json:"aliases,omitempty"`
	}
	var vulns []vulnIndex
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			log.Fatalf("%s: %v", f, err)
		}
		keep := false
		for _, a := range e.Affected {
			if !wanted[a.Package.Name] {
				continue
			}
			keep = true
			m := modules[a.Package.Name]
			if m == nil {
				m = &module{Path: a.Package.Name}
				modules[a.Package.Name] = m
			}
			fixed := ""
			for _, r := range a.Ranges {
				for _, ev := range r.Events {
					if v := ev["fixed"]; v != "" {
						fixed = v // the last range's fix is the latest
					}
				}
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: modified, Fixed: fixed})
		}
		if !keep {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			log.Fatal(err)
		}
		obj["modified"] = modified
		b, err := json.Marshal(obj)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, "ID", e.ID+".json"), b, 0o644); err != nil {
			log.Fatal(err)
		}
		vulns = append(vulns, vulnIndex{ID: e.ID, Modified: modified, Aliases: e.Aliases})
	}
	var mods []*module
	for _, m := range modules {
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b *module) int { return strings.Compare(a.Path, b.Path) })
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, "index", name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if lic, err := os.ReadFile(filepath.Join(*vulndb, "data", "LICENSE")); err == nil {
		if err := os.WriteFile(filepath.Join(*out, "LICENSE"), lic, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write("db.json", map[string]string{"modified": modified})
	write("modules.json", mods)
	write("vulns.json", vulns)
	fmt.Printf("%d of %d entries (%d modules) as of %s in %s\n", len(vulns), len(files), len(mods), modified, *out)
}
