/**
 * The alarm table: which (member, alarm type) pairs are active, as etcd's v3alarm store.
 *
 * It is a projection of the log like the lease table: only the applier changes it (ACTIVATE and
 * DEACTIVATE entries), each change staged as a write to the backend's `alarm` bucket in the same
 * batch as the entry's consistent index, so alarms survive restarts and travel in snapshots,
 * and every member holds the same set. The in-memory copy is rebuilt from the bucket at start
 * and after a snapshot replaced the backend (`reload`).
 *
 * Bucket layout: key = member id (8 bytes, big-endian) · alarm type (4 bytes, big-endian, the
 * int32's two's-complement bits); value empty. So the bucket's byte order is member order, then
 * type order.
 *
 * Listing order: by alarm type, then member id. NB: etcd lists from Go maps, in no fixed order;
 * a fixed one is chosen here so that answers are the same on every member and every time.
 */
import type { AlarmMember } from '../api/alarm.js';
import { AlarmType } from '../api/alarm.js';
import { assert } from '../assert.js';
import type { Backend, BackendOp } from '../ports/storage-driver.js';

const KEY_BYTES = 12;

function alarmKey(a: AlarmMember): Uint8Array {
  const k = new Uint8Array(KEY_BYTES);
  const v = new DataView(k.buffer);
  v.setUint32(0, Math.floor(a.memberID / 2 ** 32));
  v.setUint32(4, a.memberID >>> 0);
  v.setInt32(8, a.alarm);
  return k;
}

function decodeAlarmKey(k: Uint8Array): AlarmMember {
  assert(k.length === KEY_BYTES, `alarm key of ${k.length} bytes`);
  const v = new DataView(k.buffer, k.byteOffset, k.byteLength);
  const memberID = v.getUint32(0) * 2 ** 32 + v.getUint32(4);
  assert(Number.isSafeInteger(memberID), 'alarm member id beyond 2^53');
  return { memberID, alarm: v.getInt32(8) };
}

function compareAlarms(a: AlarmMember, b: AlarmMember): number {
  return a.alarm - b.alarm || a.memberID - b.memberID;
}

/** See the file comment. Deterministic; no I/O besides the reads of `reload`. */
export class AlarmStore {
  /** Active alarms by `${alarm}/${memberID}`. */
  private readonly active = new Map<string, AlarmMember>();
  /** How many alarms of each type are active (a type absent here has none). */
  private readonly counts = new Map<number, number>();

  /** An empty table; `reload(backend)` fills it from a backend. */
  constructor(backend?: Backend) {
    if (backend !== undefined) this.reload(backend);
  }

  /** Rebuilds the table from the backend's `alarm` bucket (at start, after a snapshot restore). */
  reload(backend: Backend): void {
    this.active.clear();
    this.counts.clear();
    for (const [k] of backend.range('alarm')) this.add(decodeAlarmKey(k));
  }

  /** Whether any member has an alarm of `type` active. */
  has(type: number): boolean {
    return (this.counts.get(type) ?? 0) > 0;
  }

  /** Whether this exact alarm is active. */
  isActive(memberID: number, type: number): boolean {
    return this.active.has(`${type}/${memberID}`);
  }

  /**
   * The active alarms of `type`, or of every type for NONE (etcd's AlarmStore.Get), ordered by
   * type then member id. NB: as in etcd, NONE cannot select alarms stored with type NONE alone.
   */
  list(type: number = AlarmType.NONE): AlarmMember[] {
    const out: AlarmMember[] = [];
    for (const a of this.active.values()) if (type === AlarmType.NONE || a.alarm === type) out.push({ ...a });
    return out.sort(compareAlarms);
  }

  /**
   * Raises an alarm. Returns the alarm and, when it was not active yet, the backend write the
   * caller must stage in its apply batch. Raising an active alarm changes nothing.
   */
  activate(memberID: number, type: number): { alarm: AlarmMember; op?: BackendOp } {
    const alarm: AlarmMember = { memberID, alarm: type };
    if (this.isActive(memberID, type)) return { alarm };
    this.add(alarm);
    return { alarm: { ...alarm }, op: { type: 'put', bucket: 'alarm', key: alarmKey(alarm), value: new Uint8Array(0) } };
  }

  /**
   * Clears an alarm. Returns the alarm and its backend deletion when it was active; nothing
   * when it was not (etcd then answers with no alarms).
   */
  deactivate(memberID: number, type: number): { alarm: AlarmMember; op: BackendOp } | undefined {
    const id = `${type}/${memberID}`;
    const alarm = this.active.get(id);
    if (alarm === undefined) return undefined;
    this.active.delete(id);
    const n = (this.counts.get(type) ?? 0) - 1;
    assert(n >= 0, 'alarm count below zero');
    if (n === 0) this.counts.delete(type);
    else this.counts.set(type, n);
    return { alarm: { ...alarm }, op: { type: 'del', bucket: 'alarm', key: alarmKey(alarm) } };
  }

  private add(a: AlarmMember): void {
    const id = `${a.alarm}/${a.memberID}`;
    if (this.active.has(id)) return;
    this.active.set(id, a);
    this.counts.set(a.alarm, (this.counts.get(a.alarm) ?? 0) + 1);
  }
}
