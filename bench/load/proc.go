package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procSample is the CPU time and resident memory of the target processes
// (the given PIDs and all their descendants, so that nginx's and
// HAProxy's workers count with their master).
type procSample struct {
	cpuSeconds float64 // utime + stime
	rssKiB     int64   // sum of VmRSS
	procs      int     // processes sampled
}

// sampler reads /proc for a set of root PIDs; with none it samples nothing.
type sampler struct {
	roots []int
	proc  string // the proc filesystem's mount point ("/proc")
}

// enabled reports whether there is a target to sample.
func (s *sampler) enabled() bool { return s != nil && len(s.roots) > 0 }

// sample returns the current totals over the roots and their descendants.
func (s *sampler) sample() (procSample, error) {
	var ps procSample
	if !s.enabled() {
		return ps, nil
	}
	pids, err := s.tree()
	if err != nil {
		return ps, err
	}
	for _, pid := range pids {
		st, err := readStat(s.proc, pid)
		if err != nil {
			if pid == s.roots[0] || slices.Contains(s.roots, pid) {
				return ps, err
			}
			continue // a child that just exited
		}
		rss, err := readRSS(s.proc, pid)
		if err != nil && slices.Contains(s.roots, pid) {
			return ps, err
		}
		ps.cpuSeconds += float64(st.utime+st.stime) / clockTicks
		ps.rssKiB += rss
		ps.procs++
	}
	return ps, nil
}

// tree returns the roots and every process descending from them.
func (s *sampler) tree() ([]int, error) {
	for _, r := range s.roots {
		if _, err := os.Stat(filepath.Join(s.proc, strconv.Itoa(r))); err != nil {
			return nil, fmt.Errorf("target process %d: %w", r, err)
		}
	}
	entries, err := os.ReadDir(s.proc)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", s.proc, err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(s.proc, pid)
		if err != nil {
			continue
		}
		children[st.ppid] = append(children[st.ppid], pid)
	}
	seen := map[int]bool{}
	var out []int
	queue := append([]int(nil), s.roots...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
		queue = append(queue, children[p]...)
	}
	return out, nil
}

type statFields struct {
	ppid         int
	utime, stime uint64
}

// readStat parses /proc/PID/stat (proc(5)): the command name is in
// parentheses and may hold spaces, so fields are counted after the last ')'.
func readStat(proc string, pid int) (statFields, error) {
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return statFields{}, fmt.Errorf("reading stat of %d: %w", pid, err)
	}
	return parseStat(b)
}

func parseStat(b []byte) (statFields, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return statFields{}, fmt.Errorf("malformed stat line %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return statFields{}, fmt.Errorf("stat line has %d fields after the command", len(f))
	}
	var st statFields
	var err error
	if st.ppid, err = strconv.Atoi(f[1]); err != nil {
		return st, fmt.Errorf("stat ppid: %w", err)
	}
	if st.utime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return st, fmt.Errorf("stat utime: %w", err)
	}
	if st.stime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return st, fmt.Errorf("stat stime: %w", err)
	}
	return st, nil
}

// readRSS returns VmRSS from /proc/PID/status in KiB (0 for a zombie or
// kernel thread, which has none).
func readRSS(proc string, pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	return parseRSS(b)
}

func parseRSS(b []byte) (int64, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("malformed VmRSS line %q", line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return n, nil
	}
	return 0, nil
}
