package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
)

// epoch is the zero of the timestamps a watch put carries in its value.
var epoch = time.Now()

func nowNs() int64 { return int64(time.Since(epoch)) }

// dialAll opens n connections, spread round-robin over the endpoints.
func dialAll(o *Options, n int) ([]Client, error) {
	cs := make([]Client, n)
	for i := range cs {
		c, err := Dial(o.Protocol, o.Endpoints[i%len(o.Endpoints)], o.Timeout)
		if err != nil {
			closeAll(cs)
			return nil, fmt.Errorf("dial %s %s: %v", o.Protocol, o.Endpoints[i%len(o.Endpoints)], err)
		}
		cs[i] = c
	}
	return cs, nil
}

func closeAll(cs []Client) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// key8 is the 8-byte key "<p><7 digits>".
func key8(prefix byte, i int64) []byte {
	return []byte(fmt.Sprintf("%c%07d", prefix, i%10000000))
}

// load is a closed loop: inflight workers over the connections, each issuing op after op
// until the deadline (or until total ops were started), recording each op's latency.
type load struct {
	errors   int64
	firstErr atomic.Value
}

func (l *load) run(cs []Client, inflight int, dur time.Duration, total int64, op func(c Client, w int, i int64) error) (int64, []int64) {
	var next int64
	deadline := time.Now().Add(dur)
	lats := make([][]int64, inflight)
	var wg sync.WaitGroup
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := cs[w%len(cs)]
			lat := make([]int64, 0, 4096)
			for {
				i := atomic.AddInt64(&next, 1) - 1
				if total > 0 && i >= total {
					break
				}
				if total == 0 && i&15 == 0 && time.Now().After(deadline) {
					break
				}
				t := nowNs()
				if err := op(c, w, i); err != nil {
					if atomic.AddInt64(&l.errors, 1) == 1 {
						l.firstErr.Store(err.Error())
					}
					if atomic.LoadInt64(&l.errors) > 1000 {
						break
					}
					continue
				}
				lat = append(lat, nowNs()-t)
				if total == 0 && i&15 != 0 && time.Now().After(deadline) {
					break
				}
			}
			lats[w] = lat
		}(w)
	}
	wg.Wait()
	var all []int64
	for _, l := range lats {
		all = append(all, l...)
	}
	return int64(len(all)), all
}

func (l *load) report(r *Result) {
	r.Errors = l.errors
	if e, ok := l.firstErr.Load().(string); ok {
		r.FirstError = e
	}
}

// measured runs the load twice: a warm-up, then the measured window.
func measured(o *Options, cs []Client, total int64, op func(c Client, w int, i int64) error) *Result {
	var l load
	if o.Warmup > 0 && total == 0 {
		l.run(cs, o.InFlight, o.Warmup, 0, op)
	}
	l = load{}
	win := startWindow(o.Pids)
	ops, lat := l.run(cs, o.InFlight, o.Duration, total, op)
	win.stop()
	r := &Result{}
	win.fill(r, ops)
	r.P50Ms, r.P99Ms = percentiles(lat)
	l.report(r)
	return r
}

func runPut(o *Options) (*Result, error) {
	cs, err := dialAll(o, o.Conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	value := make([]byte, o.ValueBytes)
	for i := range value {
		value[i] = 'v'
	}
	var keys [][]byte
	if o.Total == 0 {
		for i := 0; i < o.Keys; i++ {
			keys = append(keys, key8('k', int64(i)))
		}
	}
	ctx := context.Background()
	r := measured(o, cs, o.Total, func(c Client, w int, i int64) error {
		k := []byte(nil)
		if o.Total > 0 {
			k = key8('u', i)
		} else {
			k = keys[i%int64(len(keys))]
		}
		_, err := c.Put(ctx, &pb.PutRequest{Key: k, Value: value})
		return err
	})
	return r, nil
}

func runRange(o *Options) (*Result, error) {
	cs, err := dialAll(o, o.Conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	ctx := context.Background()
	key := []byte("r0000000")
	if _, err := cs[0].Put(ctx, &pb.PutRequest{Key: key, Value: make([]byte, o.ValueBytes)}); err != nil {
		return nil, err
	}
	req := &pb.RangeRequest{Key: key, Serializable: o.Serializable}
	r := measured(o, cs, 0, func(c Client, w int, i int64) error {
		res, err := c.Range(ctx, req)
		if err == nil && len(res.Kvs) != 1 {
			err = errors.New("range: key missing")
		}
		return err
	})
	r.Extra = map[string]interface{}{"serializable": o.Serializable}
	return r, nil
}

// runTxn: compare-and-swap increments of one counter. Each worker knows the counter's value
// and mod revision; a txn puts value+1 if the mod revision is unchanged, else reads the key
// (the failure branch) to learn the current one. Afterwards the counter must equal the
// number of successful txns.
func runTxn(o *Options) (*Result, error) {
	cs, err := dialAll(o, o.Conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	ctx := context.Background()
	key := []byte("counter0")
	if _, err := cs[0].Put(ctx, &pb.PutRequest{Key: key, Value: []byte("0")}); err != nil {
		return nil, err
	}
	type view struct{ value, modRev int64 }
	views := make([]view, o.InFlight)
	var successes, measuredSuccesses int64
	counting := int32(0)
	op := func(c Client, w int, i int64) error {
		v := &views[w]
		if v.modRev == 0 {
			res, err := c.Range(ctx, &pb.RangeRequest{Key: key})
			if err != nil {
				return err
			}
			v.value, _ = strconv.ParseInt(string(res.Kvs[0].Value), 10, 64)
			v.modRev = res.Kvs[0].ModRevision
		}
		res, err := c.Txn(ctx, &pb.TxnRequest{
			Compare: []*pb.Compare{{Key: key, Target: pb.Compare_MOD, Result: pb.Compare_EQUAL,
				TargetUnion: &pb.Compare_ModRevision{ModRevision: v.modRev}}},
			Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: key, Value: []byte(strconv.FormatInt(v.value+1, 10))}}}},
			Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: key}}}},
		})
		if err != nil {
			return err
		}
		if res.Succeeded {
			atomic.AddInt64(&successes, 1)
			if atomic.LoadInt32(&counting) == 1 {
				atomic.AddInt64(&measuredSuccesses, 1)
			}
			v.value, v.modRev = v.value+1, res.Header.Revision
			return nil
		}
		kv := res.Responses[0].GetResponseRange().Kvs[0]
		v.value, _ = strconv.ParseInt(string(kv.Value), 10, 64)
		v.modRev = kv.ModRevision
		return nil
	}
	var l load
	if o.Warmup > 0 {
		l.run(cs, o.InFlight, o.Warmup, 0, op)
	}
	l = load{}
	atomic.StoreInt32(&counting, 1)
	win := startWindow(o.Pids)
	ops, lat := l.run(cs, o.InFlight, o.Duration, 0, op)
	win.stop()
	r := &Result{}
	win.fill(r, ops)
	r.P50Ms, r.P99Ms = percentiles(lat)
	l.report(r)
	res, err := cs[0].Range(ctx, &pb.RangeRequest{Key: key})
	if err != nil {
		return nil, err
	}
	final, _ := strconv.ParseInt(string(res.Kvs[0].Value), 10, 64)
	r.Extra = map[string]interface{}{
		"successes":       measuredSuccesses,
		"successesPerSec": float64(measuredSuccesses) / r.Seconds,
		"finalCount":      final,
		"countOk":         final == successes,
	}
	return r, nil
}

// runWatch: o.Watchers watchers of one key over o.Conns streams (one Watch stream per
// connection, many watchers on it, as etcd's clientv3 does), then o.Puts puts to that key
// from another connection. Each put's value starts with its send time, so every delivered
// event gives a put-to-delivery latency.
func runWatch(o *Options) (*Result, error) {
	cs, err := dialAll(o, o.Conns+1)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	key := []byte("w0000000")
	writer := cs[o.Conns]
	if _, err := writer.Put(ctx, &pb.PutRequest{Key: key, Value: make([]byte, o.ValueBytes)}); err != nil {
		return nil, err
	}
	var delivered, lastNs int64
	lats := make([][]int64, o.Conns)
	created := make(chan error, o.Watchers)
	var recvWg sync.WaitGroup
	for s := 0; s < o.Conns; s++ {
		ws, err := cs[s].Watch(ctx)
		if err != nil {
			return nil, err
		}
		n := o.Watchers / o.Conns
		if s < o.Watchers%o.Conns {
			n++
		}
		go func() {
			for i := 0; i < n; i++ {
				ws.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: key}}})
			}
		}()
		recvWg.Add(1)
		go func(s int) {
			defer recvWg.Done()
			lat := make([]int64, 0, o.Puts*n)
			defer func() { lats[s] = lat }()
			for {
				res, err := ws.Recv()
				if err != nil {
					return
				}
				if res.Created {
					created <- nil
				}
				if res.Canceled {
					created <- fmt.Errorf("watch canceled: %s", res.CancelReason)
				}
				if len(res.Events) == 0 {
					continue
				}
				now := nowNs()
				for _, ev := range res.Events {
					if ev.Kv != nil && len(ev.Kv.Value) >= 8 {
						lat = append(lat, now-int64(binary.LittleEndian.Uint64(ev.Kv.Value)))
					}
				}
				atomic.AddInt64(&delivered, int64(len(res.Events)))
				for {
					last := atomic.LoadInt64(&lastNs)
					if now <= last || atomic.CompareAndSwapInt64(&lastNs, last, now) {
						break
					}
				}
			}
		}(s)
	}
	for i := 0; i < o.Watchers; i++ {
		select {
		case err := <-created:
			if err != nil {
				return nil, err
			}
		case <-time.After(o.Timeout):
			return nil, fmt.Errorf("only %d of %d watchers created", i, o.Watchers)
		}
	}
	var l load
	win := startWindow(o.Pids)
	t0 := nowNs()
	_, putLat := l.run([]Client{writer}, o.PutInFlight, 0, int64(o.Puts), func(c Client, w int, i int64) error {
		v := make([]byte, o.ValueBytes)
		binary.LittleEndian.PutUint64(v, uint64(nowNs()))
		_, err := c.Put(ctx, &pb.PutRequest{Key: key, Value: v})
		return err
	})
	putsDone := nowNs()
	expected := int64(o.Watchers) * int64(o.Puts)
	// Wait for every event, or until deliveries stop for o.Timeout.
	lastSeen, lastChange := int64(-1), time.Now()
	for {
		d := atomic.LoadInt64(&delivered)
		if d >= expected {
			break
		}
		if d != lastSeen {
			lastSeen, lastChange = d, time.Now()
		} else if time.Since(lastChange) > o.Timeout {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	win.stop()
	d := atomic.LoadInt64(&delivered)
	cancel()
	closeAll(cs)
	recvWg.Wait()
	var all []int64
	for _, l := range lats {
		all = append(all, l...)
	}
	r := &Result{}
	win.fill(r, d)
	span := float64(atomic.LoadInt64(&lastNs)-t0) / 1e9
	r.Seconds = span
	if span > 0 {
		r.OpsPerSec = float64(d) / span
	}
	r.P50Ms, r.P99Ms = percentiles(all)
	l.report(r)
	pp50, pp99 := percentiles(putLat)
	r.Extra = map[string]interface{}{
		"expected":   expected,
		"lost":       expected - d,
		"putsPerSec": float64(o.Puts) / (float64(putsDone-t0) / 1e9),
		"putP50Ms":   pp50,
		"putP99Ms":   pp99,
	}
	return r, nil
}

// runLease: o.Leases leases of TTL o.TTL kept alive over o.Conns LeaseKeepAlive streams,
// each renewed every TTL/3 with the renewals spread evenly over that period. Measured: the
// renewals answered in the window, their latency (answer − send), server CPU per renewal
// and as a share of a core; afterwards every lease must still exist.
func runLease(o *Options) (*Result, error) {
	cs, err := dialAll(o, o.Conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ids := make([]int64, o.Leases)
	var l load
	oldInFlight := o.InFlight
	l.run(cs, 16, 0, int64(o.Leases), func(c Client, w int, i int64) error {
		res, err := c.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: o.TTL})
		if err == nil {
			ids[i] = res.ID
		}
		return err
	})
	o.InFlight = oldInFlight
	if l.errors > 0 {
		return nil, fmt.Errorf("lease grant: %v", l.firstErr.Load())
	}
	period := time.Duration(o.TTL) * time.Second / 3
	var mu sync.Mutex
	sent := make(map[int64]int64, o.Leases)
	var lat []int64
	var renewals, expired int64
	measuring := int32(0)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for s := 0; s < o.Conns; s++ {
		ka, err := cs[s].KeepAlive(ctx)
		if err != nil {
			return nil, err
		}
		var mine []int64
		for i := s; i < len(ids); i += o.Conns {
			mine = append(mine, ids[i])
		}
		wg.Add(1)
		go func() { // answers
			defer wg.Done()
			for {
				res, err := ka.Recv()
				if err != nil {
					return
				}
				now := nowNs()
				mu.Lock()
				if t, ok := sent[res.ID]; ok {
					delete(sent, res.ID)
					if atomic.LoadInt32(&measuring) == 1 {
						lat = append(lat, now-t)
						renewals++
					}
				}
				if res.TTL <= 0 {
					expired++
				}
				mu.Unlock()
			}
		}()
		go func() { // renewals, lease j of n due at start + j/n·period (mod period)
			start := time.Now()
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			next := 0
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				due := int(float64(len(mine)) * float64(time.Since(start)) / float64(period))
				for ; next < due; next++ {
					id := mine[next%len(mine)]
					mu.Lock()
					sent[id] = nowNs()
					mu.Unlock()
					if ka.Send(&pb.LeaseKeepAliveRequest{ID: id}) != nil {
						return
					}
				}
			}
		}()
	}
	time.Sleep(period + o.Warmup)
	atomic.StoreInt32(&measuring, 1)
	win := startWindow(o.Pids)
	time.Sleep(o.Duration)
	atomic.StoreInt32(&measuring, 0)
	win.stop()
	close(stop)
	mu.Lock()
	n, all, exp := renewals, append([]int64(nil), lat...), expired
	mu.Unlock()
	left, err := cs[0].LeaseLeases(ctx)
	if err != nil {
		return nil, err
	}
	r := &Result{}
	win.fill(r, n)
	r.P50Ms, r.P99Ms = percentiles(all)
	// Other runs may have left leases of their own on the server: count only ours.
	alive := make(map[int64]bool, len(left.Leases))
	for _, l := range left.Leases {
		alive[l.ID] = true
	}
	lost := 0
	for _, id := range ids {
		if !alive[id] {
			lost++
		}
	}
	r.Extra = map[string]interface{}{
		"leases":  o.Leases,
		"expired": exp,
		"lost":    lost,
	}
	cancel()
	return r, nil
}

// runStatus prints, per endpoint, its member id and the leader it knows (one JSON line each).
func runStatus(o *Options) error {
	for _, e := range o.Endpoints {
		c, err := Dial(o.Protocol, e, o.Timeout)
		if err != nil {
			fmt.Printf("{\"endpoint\":%q,\"error\":%q}\n", e, err.Error())
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
		s, err := c.Status(ctx)
		cancel()
		c.Close()
		if err != nil {
			fmt.Printf("{\"endpoint\":%q,\"error\":%q}\n", e, err.Error())
			continue
		}
		fmt.Printf("{\"endpoint\":%q,\"member\":\"%x\",\"leader\":\"%x\",\"term\":%d}\n", e, s.Header.MemberId, s.Leader, s.RaftTerm)
	}
	return nil
}

// findLeader returns the index of the endpoint whose member every reachable member names
// as leader, polling until they agree.
func findLeader(o *Options, cs []Client) (int, error) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		leader, agree, at := uint64(0), true, -1
		for i, c := range cs {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			s, err := c.Status(ctx)
			cancel()
			if err != nil || s.Leader == 0 || (leader != 0 && s.Leader != leader) {
				agree = false
				break
			}
			leader = s.Leader
			if s.Header.MemberId == leader {
				at = i
			}
		}
		if agree && at >= 0 {
			return at, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return -1, errors.New("no agreed leader within 15 s")
}

// runFailover: find the leader, kill -9 its process, and time until a put succeeds. The
// client knows all endpoints and starts an attempt every 20 ms, round-robin over them
// (redialling an endpoint whose connection failed), each attempt allowed 5 s; the first
// attempt to succeed ends the clock.
func runFailover(o *Options) (*Result, error) {
	if len(o.Pids) != len(o.Endpoints) {
		return nil, errors.New("failover: want one pid per endpoint")
	}
	o.Conns = len(o.Endpoints)
	cs, err := dialAll(o, len(o.Endpoints))
	if err != nil {
		return nil, err
	}
	leader, err := findLeader(o, cs)
	if err != nil {
		closeAll(cs)
		return nil, err
	}
	value := make([]byte, o.ValueBytes)
	if _, err := cs[leader].Put(context.Background(), &pb.PutRequest{Key: []byte("f0000000"), Value: value}); err != nil {
		closeAll(cs)
		return nil, err
	}
	var mu sync.Mutex
	done := make(chan int64, 1)
	redial := func(i int) Client {
		mu.Lock()
		c := cs[i]
		mu.Unlock()
		if c != nil {
			return c
		}
		c, err := Dial(o.Protocol, o.Endpoints[i], 200*time.Millisecond)
		if err != nil {
			return nil
		}
		mu.Lock()
		if cs[i] == nil {
			cs[i] = c
		} else {
			c.Close()
			c = cs[i]
		}
		mu.Unlock()
		return c
	}
	if err := syscall.Kill(o.Pids[leader], syscall.SIGKILL); err != nil {
		return nil, err
	}
	t0 := nowNs()
	stop := make(chan struct{})
	attempts := int64(0)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			ep := i % len(o.Endpoints)
			atomic.AddInt64(&attempts, 1)
			go func() {
				c := redial(ep)
				if c == nil {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.Put(ctx, &pb.PutRequest{Key: []byte("f0000001"), Value: value})
				cancel()
				if err == nil {
					select {
					case done <- nowNs() - t0:
					default:
					}
					return
				}
				if err == errClosed || ctx.Err() != nil {
					mu.Lock()
					if cs[ep] == c {
						cs[ep] = nil
					}
					mu.Unlock()
					c.Close()
				}
			}()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	var took int64
	select {
	case took = <-done:
	case <-time.After(30 * time.Second):
		close(stop)
		return nil, errors.New("failover: no put succeeded within 30 s")
	}
	close(stop)
	mu.Lock()
	closeAll(cs)
	mu.Unlock()
	r := &Result{Ops: 1, P50Ms: float64(took) / 1e6, P99Ms: float64(took) / 1e6, Seconds: float64(took) / 1e9}
	r.Extra = map[string]interface{}{"failoverMs": float64(took) / 1e6, "killedEndpoint": o.Endpoints[leader], "attempts": atomic.LoadInt64(&attempts)}
	return r, nil
}
