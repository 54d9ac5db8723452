/**
 * The cluster's members as the projection records them: one record per member in the
 * backend's 'members' bucket, written when a ConfChange entry is applied (so every member
 * agrees, and a restart or a snapshot brings them back). A ConfChange entry carries the
 * member's record as its context.
 */
import { assert } from '../core/assert.js';
import type { Backend } from '../core/ports/storage-driver.js';

export interface Member {
  readonly id: number;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

function memberKey(id: number): Uint8Array {
  const k = Buffer.alloc(8);
  k.writeUIntBE(id, 2, 6);
  return k;
}

/** The ConfChange context for `m`. */
export function encodeMember(m: Member): Uint8Array {
  return Buffer.from(JSON.stringify({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner }));
}

/** Parses a ConfChange context; `id` is authoritative from the ConfChange itself. */
export function decodeMember(id: number, context: Uint8Array): Member {
  if (context.byteLength === 0) return { id, name: '', peerURLs: [], clientURLs: [], isLearner: false };
  const o = JSON.parse(Buffer.from(context).toString('utf8')) as Partial<Member>;
  return {
    id,
    name: typeof o.name === 'string' ? o.name : '',
    peerURLs: Array.isArray(o.peerURLs) ? o.peerURLs.map(String) : [],
    clientURLs: Array.isArray(o.clientURLs) ? o.clientURLs.map(String) : [],
    isLearner: o.isLearner === true,
  };
}

/** All members recorded in the backend, by id. */
export function loadMembers(backend: Backend): Map<number, Member> {
  const out = new Map<number, Member>();
  for (const [k, v] of backend.range('members')) {
    assert(k.byteLength === 8, 'bad member key');
    const id = Buffer.from(k).readUIntBE(2, 6);
    out.set(id, decodeMember(id, v));
  }
  return out;
}

/** Writes (or replaces) a member record. Not durable by itself: the log replays it. */
export function saveMember(backend: Backend, m: Member): void {
  backend.commit([{ type: 'put', bucket: 'members', key: memberKey(m.id), value: encodeMember(m) }]);
}

export function deleteMember(backend: Backend, id: number): void {
  backend.commit([{ type: 'del', bucket: 'members', key: memberKey(id) }]);
}
