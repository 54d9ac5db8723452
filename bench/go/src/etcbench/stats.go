package main

// Measuring: server CPU and RSS from /proc (summed over all member processes), the
// generator's own CPU from getrusage, latency percentiles from sorted samples.

import (
	"io/ioutil"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const ticksPerSecond = 100 // USER_HZ on Linux

// procCPUSeconds is utime+stime of pid (all its threads, living and exited), in seconds;
// 0 when the process is gone.
func procCPUSeconds(pid int) float64 {
	b, err := ioutil.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	// Fields after the command name (which may contain spaces) start after the last ')'.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / ticksPerSecond
}

// procRSSBytes is VmRSS of pid; 0 when the process is gone.
func procRSSBytes(pid int) float64 {
	b, err := ioutil.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

func sumCPU(pids []int) float64 {
	t := 0.0
	for _, p := range pids {
		t += procCPUSeconds(p)
	}
	return t
}

func sumRSS(pids []int) float64 {
	t := 0.0
	for _, p := range pids {
		t += procRSSBytes(p)
	}
	return t
}

// selfCPUSeconds is the generator's own user+system CPU so far.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// window samples server and generator CPU (and server RSS) at its start and end.
type window struct {
	pids                []int
	t0                  time.Time
	srv0, self0, rss0   float64
	secs, srv, self     float64
	rssBefore, rssAfter float64
}

func startWindow(pids []int) *window {
	w := &window{pids: pids, rss0: sumRSS(pids)}
	w.srv0, w.self0, w.t0 = sumCPU(pids), selfCPUSeconds(), time.Now()
	return w
}

func (w *window) stop() {
	w.secs = time.Since(w.t0).Seconds()
	w.srv = sumCPU(w.pids) - w.srv0
	w.self = selfCPUSeconds() - w.self0
	w.rssBefore, w.rssAfter = w.rss0, sumRSS(w.pids)
}

// fill sets the common fields of r from the window, for ops operations.
func (w *window) fill(r *Result, ops int64) {
	r.Ops = ops
	r.Seconds = w.secs
	if w.secs > 0 {
		r.OpsPerSec = float64(ops) / w.secs
		r.ServerCPUPct = 100 * w.srv / w.secs
	}
	if ops > 0 {
		r.ServerCPUUsPerOp = 1e6 * w.srv / float64(ops)
		r.GenCPUUsPerOp = 1e6 * w.self / float64(ops)
	}
	r.RSSBeforeMB = w.rssBefore / (1 << 20)
	r.RSSAfterMB = w.rssAfter / (1 << 20)
}

// percentiles sorts lat (nanoseconds) and returns p50 and p99 in milliseconds.
func percentiles(lat []int64) (p50, p99 float64) {
	if len(lat) == 0 {
		return 0, 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p float64) float64 {
		i := int(p * float64(len(lat)))
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return float64(lat[i]) / 1e6
	}
	return at(0.50), at(0.99)
}
