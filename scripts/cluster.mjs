// `npm run cluster`: starts the three members of config/cluster-3 as separate processes on
// loopback, prefixes their log lines with the member name, and stops them all on Ctrl-C.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const members = ['node1', 'node2', 'node3'];
const procs = members.map((name) => {
  const p = spawn(process.execPath, ['dist/src/server/main.js', '--config', `config/cluster-3/${name}.yaml`], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  createInterface({ input: p.stderr }).on('line', (line) => process.stderr.write(`${name} | ${line}\n`));
  p.on('exit', (code, signal) => process.stderr.write(`${name} exited (${code ?? signal})\n`));
  return p;
});
process.stderr.write(
  'cluster-3: clients on ws://127.0.0.1:{1,2,3}2381 and tcp://127.0.0.1:{1,2,3}2382; peers on tcp://127.0.0.1:{1,2,3}2380. Ctrl-C stops all.\n',
);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  for (const p of procs) p.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
await Promise.all(procs.map((p) => new Promise((r) => p.on('exit', r))));
