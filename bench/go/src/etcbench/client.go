package main

// The two ways the generator talks to a server: etcd's gRPC API (the raw etcdserverpb stubs
// over google.golang.org/grpc, no clientv3 balancer or retry layer), and etcetera's framed
// protocol over tcp or ws (framed.go). Both satisfy Client, so every workload runs unchanged
// against etcd/gRPC, etcetera/gRPC, etcetera/tcp and etcetera/ws.

import (
	"context"
	"time"

	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"google.golang.org/grpc"
)

// Client is one connection to one endpoint. Calls may be made from many goroutines at once;
// they are multiplexed on the connection.
type Client interface {
	Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error)
	Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error)
	Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error)
	Status(ctx context.Context) (*pb.StatusResponse, error)
	LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error)
	LeaseLeases(ctx context.Context) (*pb.LeaseLeasesResponse, error)
	// Watch opens one Watch stream; many watchers may be created on it.
	Watch(ctx context.Context) (WatchStream, error)
	// KeepAlive opens one LeaseKeepAlive stream; many leases may be renewed on it.
	KeepAlive(ctx context.Context) (KeepAliveStream, error)
	Close() error
}

// WatchStream is one open Watch stream. Send may be called from one goroutine, Recv from one.
type WatchStream interface {
	Send(r *pb.WatchRequest) error
	Recv() (*pb.WatchResponse, error)
}

// KeepAliveStream is one open LeaseKeepAlive stream.
type KeepAliveStream interface {
	Send(r *pb.LeaseKeepAliveRequest) error
	Recv() (*pb.LeaseKeepAliveResponse, error)
}

// Dial connects to endpoint (host:port; for ws a ws:// URL is also accepted) with the given
// protocol: "grpc", "tcp" or "ws".
func Dial(protocol, endpoint string, timeout time.Duration) (Client, error) {
	switch protocol {
	case "grpc":
		return dialGrpc(endpoint, timeout)
	default:
		return dialFramed(protocol, endpoint, timeout)
	}
}

type grpcClient struct {
	conn  *grpc.ClientConn
	kv    pb.KVClient
	watch pb.WatchClient
	lease pb.LeaseClient
	maint pb.MaintenanceClient
}

func dialGrpc(endpoint string, timeout time.Duration) (Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, endpoint, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, err
	}
	return &grpcClient{conn, pb.NewKVClient(conn), pb.NewWatchClient(conn), pb.NewLeaseClient(conn), pb.NewMaintenanceClient(conn)}, nil
}

func (c *grpcClient) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	return c.kv.Put(ctx, r)
}
func (c *grpcClient) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	return c.kv.Range(ctx, r)
}
func (c *grpcClient) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	return c.kv.Txn(ctx, r)
}
func (c *grpcClient) Status(ctx context.Context) (*pb.StatusResponse, error) {
	return c.maint.Status(ctx, &pb.StatusRequest{})
}
func (c *grpcClient) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	return c.lease.LeaseGrant(ctx, r)
}
func (c *grpcClient) LeaseLeases(ctx context.Context) (*pb.LeaseLeasesResponse, error) {
	return c.lease.LeaseLeases(ctx, &pb.LeaseLeasesRequest{})
}
func (c *grpcClient) Watch(ctx context.Context) (WatchStream, error) {
	return c.watch.Watch(ctx)
}
func (c *grpcClient) KeepAlive(ctx context.Context) (KeepAliveStream, error) {
	return c.lease.LeaseKeepAlive(ctx)
}
func (c *grpcClient) Close() error { return c.conn.Close() }
