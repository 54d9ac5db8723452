// Test harness for end-to-end tests: runs the real server binary as a child process on a
// temporary data dir with ephemeral ports, and reads its listener URLs from the ready log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const SERVER_MAIN = join(ROOT, 'dist', 'src', 'server', 'main.js');

export interface ServerProcess {
  readonly proc: ChildProcess;
  readonly dataDir: string;
  readonly ws: string;
  readonly tcp: string;
  /** The grpc listener's URL (`grpc://host:port`), when started with `grpcAddress`. */
  readonly grpc?: string;
  /** Every log line the server wrote (stderr), parsed. */
  readonly logs: Record<string, unknown>[];
  /** Sends a signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
}

export interface StartOptions {
  driver: 'lmdb' | 'sqlite' | 'memory';
  /** Member name, default 'e2e'. */
  name?: string;
  dataDir?: string;
  /** Extra YAML lines. */
  extra?: string;
  /** Fixed listener addresses, default 127.0.0.1:0 each. */
  wsAddress?: string;
  tcpAddress?: string;
  /** Adds a grpc listener (etcd's gRPC API + HTTP endpoints) at this address, e.g. 127.0.0.1:0. */
  grpcAddress?: string;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `etcetera-${prefix}-`));
}

/** Starts a server and resolves once it logged its ready line. */
export async function startServer(o: StartOptions): Promise<ServerProcess> {
  const dataDir = o.dataDir ?? join(tempDir('data'), 'member');
  const cfgDir = tempDir('cfg');
  const cfg = join(cfgDir, 'server.yaml');
  writeFileSync(
    cfg,
    [
      `name: ${o.name ?? 'e2e'}`,
      `data-dir: ${dataDir}`,
      `storage: { driver: ${o.driver} }`,
      'listeners:',
      `  - { transport: ws, address: "${o.wsAddress ?? '127.0.0.1:0'}" }`,
      `  - { transport: tcp, address: "${o.tcpAddress ?? '127.0.0.1:0'}" }`,
      ...(o.grpcAddress === undefined ? [] : [`  - { transport: grpc, address: "${o.grpcAddress}" }`]),
      'log-level: info',
      o.extra ?? '',
    ].join('\n'),
  );
  const proc = spawn(process.execPath, [SERVER_MAIN, '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<number | string>((res) => proc.once('exit', (code, sig) => res(code ?? sig ?? -1)));
  const ready = new Promise<{ ws: string; tcp: string; grpc?: string }>((res, rej) => {
    const rl = createInterface({ input: proc.stderr! });
    let stderr = '';
    rl.on('line', (line) => {
      stderr += line + '\n';
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(rec);
      if (rec['msg'] === 'ready to serve client requests') {
        const urls = rec['urls'] as string[];
        const grpc = urls.find((u) => u.startsWith('grpc://'));
        res({
          ws: urls.find((u) => u.startsWith('ws://'))!,
          tcp: urls.find((u) => u.startsWith('tcp://'))!,
          ...(grpc === undefined ? {} : { grpc }),
        });
      }
    });
    void exited.then((code) => rej(new Error(`server exited (${code}) before it was ready:\n${stderr}`)));
  });
  const { ws, tcp, grpc } = await ready;
  return {
    proc,
    dataDir,
    ws,
    tcp,
    ...(grpc === undefined ? {} : { grpc }),
    logs,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      proc.kill(signal);
      return exited;
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs the server binary to completion with the given args; resolves with code and output. */
export function runServer(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((res) => {
    const proc = spawn(process.execPath, [SERVER_MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('exit', (code) => res({ code, stderr }));
  });
}
