package main

// Checks the generator's side of etcetera's frame format (src/transports/codec/frame.ts)
// on fixed bytes: a REQUEST frame's header and payload, a STREAM_MESSAGE frame without a
// method, and the decoding of an ErrorReply. Run: GOPATH=<repo>/bench/go:/usr/share/gocode
// GO111MODULE=off go test etcbench

import (
	"bytes"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
)

func TestRequestFrame(t *testing.T) {
	req := &pb.PutRequest{Key: []byte("k"), Value: []byte("v")}
	payload, _ := req.Marshal()
	got := frame(kindRequest, 0x01020304, methodPut, req)
	want := append([]byte{0, 0, 0, byte(7 + len(payload)), kindRequest, 1, 2, 3, 4, 0, methodPut}, payload...)
	if !bytes.Equal(got, want) {
		t.Fatalf("frame = % x, want % x", got, want)
	}
}

func TestStreamMessageFrameHasNoMethod(t *testing.T) {
	req := &pb.LeaseKeepAliveRequest{ID: 5}
	payload, _ := req.Marshal()
	got := frame(kindStreamMessage, 9, 0, req)
	want := append([]byte{0, 0, 0, byte(5 + len(payload)), kindStreamMessage, 0, 0, 0, 9}, payload...)
	if !bytes.Equal(got, want) {
		t.Fatalf("frame = % x, want % x", got, want)
	}
	if open := frame(kindStreamOpen, 9, methodWatch, nil); !bytes.Equal(open, []byte{0, 0, 0, 7, kindStreamOpen, 0, 0, 0, 9, 0, methodWatch}) {
		t.Fatalf("stream open = % x", open)
	}
}

func TestErrorReply(t *testing.T) {
	// status 14 (Unavailable), message "no leader"
	err := errorReply(append([]byte{0x08, 14, 0x12, 9}, "no leader"...))
	if err == nil || !strings.Contains(err.Error(), "14") || !strings.Contains(err.Error(), "no leader") {
		t.Fatalf("errorReply = %v", err)
	}
	if err := errorReply([]byte{0x12, 50, 'x'}); err == nil || !strings.Contains(err.Error(), "bad error reply") {
		t.Fatalf("truncated reply: %v", err)
	}
}
