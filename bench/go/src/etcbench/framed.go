package main

// etcetera's own client protocol (src/transports/codec/frame.ts): frames
//
//	[length u32 BE, tcp only][kind u8][id u32 BE][method u16 BE, REQUEST/STREAM_OPEN only][payload]
//
// where the payload is the etcd protobuf message of the method, so the gogo-generated
// etcdserverpb types marshal it. Many calls and streams share one connection, told apart by
// the id the client picks. Callers write their frames themselves (see framedClient.wmu) and
// one reader goroutine dispatches answers.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
)

// Frame kinds and method ids: src/transports/codec/frame.ts and methods.ts.
const (
	kindRequest       = 1
	kindResponse      = 2
	kindError         = 3
	kindStreamOpen    = 4
	kindStreamMessage = 5
	kindStreamClose   = 6
	kindCancel        = 7

	methodRange          = 1
	methodPut            = 2
	methodTxn            = 4
	methodWatch          = 16
	methodLeaseGrant     = 32
	methodLeaseKeepAlive = 34
	methodLeaseLeases    = 36
	methodStatus         = 65
)

type marshaler interface {
	Size() int
	MarshalTo([]byte) (int, error)
}

type unmarshaler interface {
	Unmarshal([]byte) error
}

// call is one unary call in flight. The reader goroutine unmarshals the answer into resp
// (so the read buffer can be reused) and then closes done.
type call struct {
	resp unmarshaler
	err  error
	done chan struct{}
}

type framedStream struct {
	c   *framedClient
	id  uint32
	in  chan []byte
	mu  sync.Mutex
	err error
}

type framedClient struct {
	ws   *websocket.Conn
	conn net.Conn
	// Writes: the caller writes its frame itself under wmu; whoever finds no other caller
	// waiting for wmu flushes, so a lone call costs one syscall and a burst shares one.
	wmu     sync.Mutex
	waiting int32
	bw      *bufio.Writer
	mu      sync.Mutex
	nextID  uint32
	calls   map[uint32]*call
	strms   map[uint32]*framedStream
	dead    chan struct{}
	err     error
}

var errClosed = errors.New("connection closed")

func dialFramed(protocol, endpoint string, timeout time.Duration) (Client, error) {
	c := &framedClient{calls: map[uint32]*call{}, strms: map[uint32]*framedStream{}, dead: make(chan struct{})}
	switch protocol {
	case "tcp":
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(endpoint, "tcp://"), timeout)
		if err != nil {
			return nil, err
		}
		conn.(*net.TCPConn).SetNoDelay(true)
		c.conn = conn
		c.bw = bufio.NewWriterSize(conn, 64<<10)
		go c.readTcp()
	case "ws":
		url := endpoint
		if !strings.HasPrefix(url, "ws://") {
			url = "ws://" + url + "/"
		}
		d := websocket.Dialer{HandshakeTimeout: timeout, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			return nil, err
		}
		c.ws = ws
		go c.readWs()
	default:
		return nil, fmt.Errorf("unknown protocol %q (want grpc, tcp or ws)", protocol)
	}
	return c, nil
}

// frame builds one frame with its 4-byte length slot; ws sends it without that slot.
func frame(kind byte, id uint32, method uint16, msg marshaler) []byte {
	head := 9
	if kind == kindRequest || kind == kindStreamOpen {
		head = 11
	}
	n := 0
	if msg != nil {
		n = msg.Size()
	}
	b := make([]byte, head+n)
	binary.BigEndian.PutUint32(b, uint32(head-4+n))
	b[4] = kind
	binary.BigEndian.PutUint32(b[5:], id)
	if head == 11 {
		binary.BigEndian.PutUint16(b[9:], method)
	}
	if msg != nil {
		msg.MarshalTo(b[head:])
	}
	return b
}

func (c *framedClient) readTcp() {
	r := bufio.NewReaderSize(c.conn, 256<<10)
	var lenb [4]byte
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(r, lenb[:]); err != nil {
			c.readerExit(err)
			return
		}
		n := int(binary.BigEndian.Uint32(lenb[:]))
		if n > len(buf) {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			c.readerExit(err)
			return
		}
		c.dispatch(buf[:n])
	}
}

func (c *framedClient) readWs() {
	for {
		_, m, err := c.ws.ReadMessage()
		if err != nil {
			c.readerExit(err)
			return
		}
		c.dispatch(m)
	}
}

// readerExit fails the connection and ends its streams. Only the reader goroutine ends
// streams, so a stream's channel is never closed while the reader may still send on it.
func (c *framedClient) readerExit(err error) {
	c.fail(err)
	c.mu.Lock()
	strms := c.strms
	c.strms = map[uint32]*framedStream{}
	c.mu.Unlock()
	for _, s := range strms {
		s.end(errClosed)
	}
}

// dispatch handles one frame (without its length prefix). f is only valid during the call.
func (c *framedClient) dispatch(f []byte) {
	if len(f) < 5 {
		return
	}
	kind, id, payload := f[0], binary.BigEndian.Uint32(f[1:]), f[5:]
	c.mu.Lock()
	if kind == kindResponse || (kind == kindError && c.calls[id] != nil) {
		cl := c.calls[id]
		delete(c.calls, id)
		c.mu.Unlock()
		if cl == nil {
			return
		}
		if kind == kindResponse {
			cl.err = cl.resp.Unmarshal(payload)
		} else {
			cl.err = errorReply(payload)
		}
		close(cl.done)
		return
	}
	s := c.strms[id]
	if s != nil && kind != kindStreamMessage {
		delete(c.strms, id)
	}
	c.mu.Unlock()
	if s == nil {
		return
	}
	switch kind {
	case kindStreamMessage:
		s.in <- append([]byte(nil), payload...)
	case kindError:
		s.end(errorReply(payload))
	default:
		s.end(io.EOF)
	}
}

// errorReply decodes etcetera.ErrorReply { uint32 status = 1; string message = 2; }.
func errorReply(p []byte) error {
	status, msg := uint64(0), ""
	for i := 0; i < len(p); {
		tag := p[i]
		i++
		switch tag {
		case 0x08:
			v, n := binary.Uvarint(p[i:])
			if n <= 0 {
				return errors.New("bad error reply")
			}
			status, i = v, i+n
		case 0x12:
			l, n := binary.Uvarint(p[i:])
			if n <= 0 || i+n+int(l) > len(p) {
				return errors.New("bad error reply")
			}
			msg, i = string(p[i+n:i+n+int(l)]), i+n+int(l)
		default:
			return errors.New("bad error reply")
		}
	}
	return fmt.Errorf("etcetera error %d: %s", status, msg)
}

func (c *framedClient) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	calls := c.calls
	c.calls = map[uint32]*call{}
	close(c.dead)
	c.mu.Unlock()
	for _, cl := range calls {
		cl.err = errClosed
		close(cl.done)
	}
	if c.conn != nil {
		c.conn.Close()
	} else {
		c.ws.Close()
	}
}

func (c *framedClient) register(cl *call, s *framedStream) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, errClosed
	}
	for {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if c.calls[c.nextID] == nil && c.strms[c.nextID] == nil {
			break
		}
	}
	if cl != nil {
		c.calls[c.nextID] = cl
	} else {
		c.strms[c.nextID] = s
	}
	return c.nextID, nil
}

func (c *framedClient) send(b []byte) error {
	atomic.AddInt32(&c.waiting, 1)
	c.wmu.Lock()
	last := atomic.AddInt32(&c.waiting, -1) == 0
	var err error
	select {
	case <-c.dead:
		err = errClosed
	default:
		if c.ws != nil {
			err = c.ws.WriteMessage(websocket.BinaryMessage, b[4:])
		} else if _, err = c.bw.Write(b); err == nil && last {
			err = c.bw.Flush()
		}
	}
	c.wmu.Unlock()
	if err != nil && err != errClosed {
		c.fail(err)
		err = errClosed
	}
	return err
}

func (c *framedClient) unary(ctx context.Context, method uint16, req marshaler, resp unmarshaler) error {
	cl := &call{resp: resp, done: make(chan struct{})}
	id, err := c.register(cl, nil)
	if err != nil {
		return err
	}
	if err := c.send(frame(kindRequest, id, method, req)); err != nil {
		return err
	}
	select {
	case <-cl.done:
		return cl.err
	case <-ctx.Done():
		c.mu.Lock()
		_, pending := c.calls[id]
		delete(c.calls, id)
		c.mu.Unlock()
		if !pending { // answered meanwhile
			<-cl.done
			return cl.err
		}
		c.send(frame(kindCancel, id, 0, nil))
		return ctx.Err()
	}
}

func (c *framedClient) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	res := &pb.PutResponse{}
	return res, c.unary(ctx, methodPut, r, res)
}
func (c *framedClient) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	res := &pb.RangeResponse{}
	return res, c.unary(ctx, methodRange, r, res)
}
func (c *framedClient) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	res := &pb.TxnResponse{}
	return res, c.unary(ctx, methodTxn, r, res)
}
func (c *framedClient) Status(ctx context.Context) (*pb.StatusResponse, error) {
	res := &pb.StatusResponse{}
	return res, c.unary(ctx, methodStatus, &pb.StatusRequest{}, res)
}
func (c *framedClient) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	res := &pb.LeaseGrantResponse{}
	return res, c.unary(ctx, methodLeaseGrant, r, res)
}
func (c *framedClient) LeaseLeases(ctx context.Context) (*pb.LeaseLeasesResponse, error) {
	res := &pb.LeaseLeasesResponse{}
	return res, c.unary(ctx, methodLeaseLeases, &pb.LeaseLeasesRequest{}, res)
}

func (c *framedClient) openStream(method uint16) (*framedStream, error) {
	s := &framedStream{c: c, in: make(chan []byte, 8192)}
	id, err := c.register(nil, s)
	if err != nil {
		return nil, err
	}
	s.id = id
	return s, c.send(frame(kindStreamOpen, id, method, nil))
}

func (s *framedStream) end(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		close(s.in)
	}
	s.mu.Unlock()
}

func (s *framedStream) sendMsg(m marshaler) error {
	return s.c.send(frame(kindStreamMessage, s.id, 0, m))
}

func (s *framedStream) recv(into unmarshaler) error {
	b, ok := <-s.in
	if !ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err
	}
	return into.Unmarshal(b)
}

type framedWatch struct{ *framedStream }

func (w framedWatch) Send(r *pb.WatchRequest) error { return w.sendMsg(r) }
func (w framedWatch) Recv() (*pb.WatchResponse, error) {
	r := &pb.WatchResponse{}
	return r, w.recv(r)
}

type framedKeepAlive struct{ *framedStream }

func (k framedKeepAlive) Send(r *pb.LeaseKeepAliveRequest) error { return k.sendMsg(r) }
func (k framedKeepAlive) Recv() (*pb.LeaseKeepAliveResponse, error) {
	r := &pb.LeaseKeepAliveResponse{}
	return r, k.recv(r)
}

func (c *framedClient) Watch(ctx context.Context) (WatchStream, error) {
	s, err := c.openStream(methodWatch)
	if err != nil {
		return nil, err
	}
	return framedWatch{s}, nil
}

func (c *framedClient) KeepAlive(ctx context.Context) (KeepAliveStream, error) {
	s, err := c.openStream(methodLeaseKeepAlive)
	if err != nil {
		return nil, err
	}
	return framedKeepAlive{s}, nil
}

func (c *framedClient) Close() error {
	c.fail(errClosed)
	return nil
}
