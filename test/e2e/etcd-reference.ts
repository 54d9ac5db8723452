// The reference for etcd-compatibility tests: finds Debian's etcd 3.4 binaries on PATH and runs
// a real single-member etcd on loopback ports, so a test can send the same requests to etcd
// and to etcetera and compare the answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { tempDir } from './harness.js';

/** The path of `bin` on PATH, or null. */
export function which(bin: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const p = join(dir, bin);
    if (dir !== '' && existsSync(p)) return p;
  }
  return null;
}

/** A free loopback port (bound and released; fine for a test machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A running reference etcd. */
export interface EtcdProcess {
  /** `127.0.0.1:<client port>`. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Starts `etcd` (member name `e2e`, fresh data dir) and resolves once it serves clients. */
export function startEtcd(etcdBin: string): Promise<EtcdProcess> {
  return startEtcdWith(etcdBin, []);
}

/** As `startEtcd`, with extra command-line flags (e.g. `--quota-backend-bytes=300000`). */
export async function startEtcdWith(etcdBin: string, flags: readonly string[]): Promise<EtcdProcess> {
  const [client, peer] = [await freePort(), await freePort()];
  const dir = tempDir('etcd');
  const proc: ChildProcess = spawn(
    etcdBin,
    [
      '--name=e2e',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=e2e=http://127.0.0.1:${peer}`,
      '--logger=zap',
      ...flags,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    let log = '';
    let ready = false;
    const timer = setTimeout(() => reject(new Error(`etcd did not start within 30 s:\n${log}`)), 30_000);
    proc.stderr!.on('data', (d: Buffer) => {
      if (ready) return;
      log += d.toString();
      // etcd 3.4 with the zap logger says this once its client listener accepts requests.
      if (log.includes('serving client traffic')) {
        ready = true;
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`etcd exited before it was ready:\n${log}`));
    });
  });
  return {
    endpoint: `127.0.0.1:${client}`,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
