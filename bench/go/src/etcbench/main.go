// Command etcbench is the load generator of `npm run bench:vs-etcd`: one workload per run,
// against etcd or etcetera, over gRPC (etcd's API) or etcetera's framed tcp/ws protocol, and
// one JSON line of results on stdout. It is written in Go on the raw etcdserverpb stubs so
// that the generator costs the machine far less CPU per operation than the server it drives
// (the two share 2 cores); its own CPU per operation is reported beside the server's.
//
// Build (GOPATH mode, offline, against Debian's packaged etcd sources):
//
//	GOPATH=<repo>/bench/go:/usr/share/gocode GO111MODULE=off go build -o etcbench etcbench
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Result is the one JSON line a run prints. Ops is what the rates and per-op CPU divide by
// (puts, ranges, txns, delivered watch events, lease renewals).
type Result struct {
	Workload         string                 `json:"workload"`
	Protocol         string                 `json:"protocol"`
	Ops              int64                  `json:"ops"`
	Errors           int64                  `json:"errors"`
	FirstError       string                 `json:"firstError,omitempty"`
	Seconds          float64                `json:"seconds"`
	OpsPerSec        float64                `json:"opsPerSec"`
	P50Ms            float64                `json:"p50Ms"`
	P99Ms            float64                `json:"p99Ms"`
	ServerCPUUsPerOp float64                `json:"serverCpuUsPerOp"`
	ServerCPUPct     float64                `json:"serverCpuPct"`
	GenCPUUsPerOp    float64                `json:"genCpuUsPerOp"`
	RSSBeforeMB      float64                `json:"rssBeforeMB"`
	RSSAfterMB       float64                `json:"rssAfterMB"`
	Extra            map[string]interface{} `json:"extra,omitempty"`
}

// Options are the command-line flags, shared by all workloads.
type Options struct {
	Workload     string
	Protocol     string
	Endpoints    []string
	Pids         []int
	Conns        int
	InFlight     int
	Duration     time.Duration
	Warmup       time.Duration
	Total        int64
	Keys         int
	ValueBytes   int
	Serializable bool
	Watchers     int
	Puts         int
	PutInFlight  int
	Leases       int
	TTL          int64
	Timeout      time.Duration
}

func main() {
	var o Options
	var endpoints, pids string
	var dur, warm float64
	flag.StringVar(&o.Workload, "workload", "put", "put | range | txn | watch | lease | failover | status")
	flag.StringVar(&o.Protocol, "protocol", "grpc", "grpc | tcp | ws")
	flag.StringVar(&endpoints, "endpoints", "127.0.0.1:2379", "comma-separated host:port list")
	flag.StringVar(&pids, "pids", "", "comma-separated server pids (CPU and RSS are summed over them; failover: one per endpoint)")
	flag.IntVar(&o.Conns, "conns", 1, "connections (spread over the endpoints)")
	flag.IntVar(&o.InFlight, "inflight", 1, "requests in flight, spread over the connections")
	flag.Float64Var(&dur, "duration", 3, "measured seconds (put/range/txn/lease)")
	flag.Float64Var(&warm, "warmup", 0.5, "unmeasured seconds of the same load first")
	flag.Int64Var(&o.Total, "total", 0, "put: this many puts instead of a duration (keys unique)")
	flag.IntVar(&o.Keys, "keys", 1000, "put: distinct keys cycled through")
	flag.IntVar(&o.ValueBytes, "value-bytes", 256, "value size")
	flag.BoolVar(&o.Serializable, "serializable", false, "range: serializable instead of linearizable")
	flag.IntVar(&o.Watchers, "watchers", 1000, "watch: watchers (spread over -conns streams)")
	flag.IntVar(&o.Puts, "puts", 2000, "watch: puts to the watched key")
	flag.IntVar(&o.PutInFlight, "put-inflight", 1, "watch: puts in flight")
	flag.IntVar(&o.Leases, "leases", 1000, "lease: leases kept alive")
	flag.Int64Var(&o.TTL, "ttl", 6, "lease: TTL in seconds (renewed every TTL/3)")
	flag.DurationVar(&o.Timeout, "timeout", 10*time.Second, "dial timeout; watch: wait for stragglers")
	flag.Parse()
	o.Duration = time.Duration(dur * float64(time.Second))
	o.Warmup = time.Duration(warm * float64(time.Second))
	o.Endpoints = strings.Split(endpoints, ",")
	if pids != "" {
		for _, p := range strings.Split(pids, ",") {
			n, err := strconv.Atoi(p)
			if err != nil {
				fatal(fmt.Errorf("bad pid %q", p))
			}
			o.Pids = append(o.Pids, n)
		}
	}
	// The generator allocates a little per operation; collecting less often keeps its CPU low.
	debug.SetGCPercent(400)

	var r *Result
	var err error
	switch o.Workload {
	case "put":
		r, err = runPut(&o)
	case "range":
		r, err = runRange(&o)
	case "txn":
		r, err = runTxn(&o)
	case "watch":
		r, err = runWatch(&o)
	case "lease":
		r, err = runLease(&o)
	case "failover":
		r, err = runFailover(&o)
	case "status":
		err = runStatus(&o)
	default:
		err = fmt.Errorf("unknown workload %q", o.Workload)
	}
	if err != nil {
		fatal(err)
	}
	if r != nil {
		r.Workload, r.Protocol = o.Workload, o.Protocol
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "etcbench:", err)
	os.Exit(1)
}
