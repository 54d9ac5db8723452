// Checks that every way of starting the server passes the same V8 flags (src/server/node-flags.ts):
// bin/etcetera's shebang, `npm start`, scripts/cluster.mjs and the test harness; and that the
// binary really starts with them (its --help runs through the shebang; a server started by the
// harness has them on its command line).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NODE_FLAGS } from '../../src/server/node-flags.js';
import { ROOT, startServer } from '../e2e/harness.js';

test('bin/etcetera, npm start and scripts/cluster.mjs carry NODE_FLAGS', () => {
  const flags = NODE_FLAGS.join(' ');
  const shebang = readFileSync(join(ROOT, 'bin', 'etcetera'), 'utf8').split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${flags}`);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.ok(pkg.scripts['start']!.startsWith(`node ${flags} dist/src/server/main.js`), pkg.scripts['start']);
  assert.match(readFileSync(join(ROOT, 'scripts', 'cluster.mjs'), 'utf8'), /spawn\(process\.execPath, \[\.\.\.NODE_FLAGS,/);
});

test('the binary starts with the flags, and a harness-started server runs with them', async () => {
  const help = execFileSync(join(ROOT, 'bin', 'etcetera'), ['--help'], { encoding: 'utf8' });
  assert.match(help, /--config <file>/);
  const server = await startServer({ driver: 'memory' });
  try {
    const argv = readFileSync(`/proc/${server.proc.pid}/cmdline`, 'utf8').split('\0');
    for (const f of NODE_FLAGS) assert.ok(argv.includes(f), `${f} in ${argv.join(' ')}`);
  } finally {
    await server.stop();
  }
});
