// A linearizability checker for the simulated clients' histories, written for this project in the
// style of Wing & Gong's search with Lowe's memoization (as Porcupine does it), plus
// P-compositionality: a history is linearizable iff each key's sub-history is, so every key is
// checked on its own.
//
// The model (`registerModel`) is one register per key, initially absent (null):
//
//   get()                  → the current value, or null when absent
//   put(v)                 → ok;                    value := v
//   delete()               → whether a value existed; value := null
//   cas(expected, v)       → whether value === expected (null = absent); if so, value := v
//
// An operation is an interval [call, ret] of logical time. A client that gave up waiting
// (timeout, crashed member) cannot tell whether its write happened: such an operation has
// `ret = Infinity` and no output; the search may linearize it at any point after its call,
// including after everything else (which is how "it never happened" is expressed: nothing
// observes it there). Reads without an answer tell nothing and are left out by the caller.
//
// The search (Lowe, "Testing for linearizability", 2017): walk the time-ordered list of call
// and return events; at a call, try to linearize that operation now (the model must accept its
// output), remove it from the list and start over; at a return whose operation is not yet
// linearized, undo the last choice and try the next call. A cache of (set of linearized
// operations, model state) pairs already explored prunes the search: the outcome from a
// configuration does not depend on the path that reached it.

/** One operation on one key, with its output when the client got an answer. */
export type RegisterOp =
  | { readonly kind: 'get'; readonly output: string | null }
  | { readonly kind: 'put'; readonly value: string }
  | { readonly kind: 'delete'; readonly output?: boolean }
  | { readonly kind: 'cas'; readonly expected: string | null; readonly value: string; readonly output?: boolean };

/**
 * One client operation in a history. `call` < `ret`; times are logical and comparable across
 * clients; `ret = Infinity` marks an unknown outcome (then outputs are absent and ignored).
 */
export interface HistoryOp {
  readonly id: number;
  readonly client: number;
  readonly key: string;
  readonly call: number;
  readonly ret: number;
  readonly op: RegisterOp;
}

/**
 * A sequential specification: `step` returns the state after `op` when the model allows it
 * (with its output, unless `unknown`), undefined when it does not; with `unknown` it must
 * always return a state (an operation whose outcome nobody saw is possible in any state).
 * States must be usable as cache keys through `stateKey`; the model must be deterministic.
 */
export interface Model<S, O> {
  readonly init: S;
  step(state: S, op: O, unknown: boolean): S | undefined;
  stateKey(state: S): string;
  /**
   * True when `op` is a blind write: accepted in every state, with a next state that does not
   * depend on the state before it (a put; a delete whose output nobody saw).
   */
  blindWrite(op: O, unknown: boolean): boolean;
  /**
   * Optional symmetry: operations of unknown outcome with the same class are interchangeable
   * (same effect on every state as far as any operation of the history can tell), so at one
   * point of the search only one of each class needs trying.
   */
  unknownClass?(op: O): string;
  describe(op: O): string;
}

/** The register of the file comment. */
export const registerModel: Model<string | null, RegisterOp> = {
  init: null,
  step(state, op, unknown) {
    switch (op.kind) {
      case 'get':
        return unknown || op.output === state ? state : undefined;
      case 'put':
        return op.value;
      case 'delete':
        if (!unknown && op.output !== undefined && op.output !== (state !== null)) return undefined;
        return null;
      case 'cas': {
        const hit = state === op.expected;
        if (!unknown && op.output !== undefined && op.output !== hit) return undefined;
        return hit ? op.value : state;
      }
    }
  },
  stateKey(state) {
    return state === null ? '\u0000' : `=${state}`;
  },
  blindWrite(op, unknown) {
    return op.kind === 'put' || (op.kind === 'delete' && (unknown || op.output === undefined));
  },
  describe(op) {
    switch (op.kind) {
      case 'get':
        return `get → ${op.output ?? 'absent'}`;
      case 'put':
        return `put ${op.value}`;
      case 'delete':
        return `delete → ${op.output === undefined ? '?' : op.output}`;
      case 'cas':
        return `cas ${op.expected ?? 'absent'} → ${op.value} : ${op.output === undefined ? '?' : op.output}`;
    }
  },
};

/**
 * `registerModel` specialised to one history, with two symmetries. A value that no operation
 * observes (no get returns it, no CAS expects it) behaves like any other such value: every
 * comparison with it fails. So states holding unobserved values share one cache key, and
 * unknown writes of unobserved values (and unknown deletes, and unknown CASes that expect the
 * same value and write an unobserved one) are interchangeable.
 */
export function registerModelFor(ops: readonly { op: RegisterOp }[]): Model<string | null, RegisterOp> {
  const observed = new Set<string>();
  for (const { op } of ops) {
    if (op.kind === 'get' && op.output !== null) observed.add(op.output);
    if (op.kind === 'cas' && op.expected !== null) observed.add(op.expected);
  }
  const valueKey = (v: string): string => (observed.has(v) ? `=${v}` : '*');
  return {
    ...registerModel,
    stateKey(state) {
      return state === null ? '\u0000' : valueKey(state);
    },
    unknownClass(op) {
      switch (op.kind) {
        case 'get':
          return 'get';
        case 'put':
          return `put${valueKey(op.value)}`;
        case 'delete':
          return 'delete';
        case 'cas':
          return `cas${op.expected === null ? '\u0000' : valueKey(op.expected)}${valueKey(op.value)}`;
      }
    },
  };
}

/** The verdict on one sub-history (or a whole history). */
export interface CheckResult {
  readonly ok: boolean;
  /** False when the search gave up at the budget: then `ok` is meaningless. */
  readonly decided: boolean;
  /** The key whose sub-history failed (or was undecided). */
  readonly key?: string;
  /** Configurations explored (all keys). */
  readonly explored: number;
  /** On failure: the deepest linearizable prefix found, then the operations it could not place. */
  readonly explanation?: string;
}

interface Event {
  readonly isCall: boolean;
  readonly op: number; // index into ops
  readonly time: number;
  prev: Event | undefined;
  next: Event | undefined;
  /** For a call, its return event. */
  match: Event | undefined;
}

/**
 * Checks one key's operations against `model`. `budget` caps the configurations explored (the
 * problem is NP-complete); past it the result is undecided.
 */
export function checkOperations<S, O>(model: Model<S, O>, ops: readonly { call: number; ret: number; op: O; id: number }[], budget = 2_000_000): CheckResult {
  const n = ops.length;
  if (n === 0) return { ok: true, decided: true, explored: 0 };
  // Events in time order; returns at Infinity come last, in call order, so that an unknown
  // operation may be linearized after everything else.
  const events: Event[] = [];
  for (let i = 0; i < n; i++) {
    const o = ops[i]!;
    if (!(o.call < o.ret)) throw new Error(`operation ${o.id}: call ${o.call} is not before return ${o.ret}`);
    const call: Event = { isCall: true, op: i, time: o.call, prev: undefined, next: undefined, match: undefined };
    const ret: Event = { isCall: false, op: i, time: o.ret, prev: undefined, next: undefined, match: undefined };
    call.match = ret;
    events.push(call, ret);
  }
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    if (a.time === Infinity) return ops[a.op]!.call - ops[b.op]!.call;
    // Equal finite times: calls first, so operations that touch at one instant overlap.
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1;
    return a.op - b.op;
  });
  const head: Event = { isCall: false, op: -1, time: -Infinity, prev: undefined, next: undefined, match: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (call: Event): void => {
    call.prev!.next = call.next;
    call.next!.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next !== undefined) ret.next.prev = ret.prev;
  };
  const unlift = (call: Event): void => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next !== undefined) ret.next.prev = ret;
    call.prev!.next = call;
    call.next!.prev = call;
  };

  // Known operations (with a return) and unknown ones (ret = Infinity) are numbered apart, so
  // that the cache can reason about the unknown ones (below).
  const slot = new Int32Array(n);
  let nKnown = 0;
  let nUnknown = 0;
  for (let i = 0; i < n; i++) slot[i] = ops[i]!.ret === Infinity ? nUnknown++ : nKnown++;
  const known = new Uint32Array(Math.max(1, Math.ceil(nKnown / 32)));
  const unknownSet = new Uint32Array(Math.max(1, Math.ceil(nUnknown / 32)));
  const isUnknown = (i: number): boolean => ops[i]!.ret === Infinity;
  const flip = (i: number): void => {
    const b = isUnknown(i) ? unknownSet : known;
    const k = slot[i]!;
    b[k >>> 5]! ^= 1 << (k & 31);
  };

  // Unknown operations (U) make the search exponential unless it reasons about them. An unknown
  // operation constrains nothing (no return) and can always go last, where nothing observes it
  // and the model accepts it (or not happen at all, which is the same). So in any linearization
  // an unknown operation can be dropped when it (1) leaves the state as it was, or (2) is
  // followed at once by a blind write (accepted in every state, next state independent of the
  // previous one): nothing saw its effect. The search therefore never places an unknown no-op,
  // nor a blind write right after an unknown operation ("after unknown" is part of the
  // configuration). Dominance in the cache: a configuration (K, s, U, after) can do whatever
  // one with a superset of U can, and after = false whatever after = true can; so once a
  // configuration failed, every one it dominates is pruned. Without unknown operations this
  // is the plain (set, state) cache.
  const cache = new Map<string, Uint32Array[]>();
  const dominated = (key: string): boolean => {
    const seen = cache.get(key);
    if (seen === undefined) return false;
    for (const u of seen) {
      let subset = true;
      for (let w = 0; w < u.length && subset; w++) if ((u[w]! & ~unknownSet[w]!) !== 0) subset = false;
      if (subset) return true;
    }
    return false;
  };
  /** Records the current configuration; false when it, or one that dominates it, was seen. */
  const visit = (stateKey: string, after: boolean): boolean => {
    const base = `${known.join(',')}|${stateKey}|`;
    if (dominated(`${base}0`) || (after && dominated(`${base}1`))) return false;
    const key = `${base}${after ? 1 : 0}`;
    const seen = cache.get(key);
    if (seen === undefined) cache.set(key, [unknownSet.slice()]);
    else seen.push(unknownSet.slice());
    return true;
  };

  // Candidates (the calls before the first return in the list) are tried in two passes: known
  // operations first, unknown ones only when no known one leads anywhere. Same candidates,
  // better order: a linearizable history is usually found without touching the unknown
  // operations, which are concurrent with everything after their call.
  const stack: Array<{ call: Event; state: S; pass: number; after: boolean }> = [];
  let state = model.init;
  let after = false;
  let explored = 0;
  let deepest: Array<{ op: number; state: S }> = [];
  let entry = head.next;
  let pass = 0;
  // Per search depth: the classes of unknown operations already tried at that configuration.
  const tried: Array<Set<string> | undefined> = [];
  // Done when every known operation is linearized: the unknown ones left go last (or never
  // happened), which the model always accepts.
  let knownLeft = nKnown;
  while (knownLeft > 0) {
    if (entry === undefined) break; // cannot happen: a known return is still in the list
    if (entry.isCall) {
      const call = entry;
      const i = call.op;
      const unknown = isUnknown(i);
      let advanced = false;
      let candidate = unknown === (pass === 1) && !(after && model.blindWrite(ops[i]!.op, unknown));
      if (candidate && unknown && model.unknownClass !== undefined) {
        const cls = model.unknownClass(ops[i]!.op);
        let t = tried[stack.length];
        if (t === undefined) tried[stack.length] = t = new Set();
        if (t.has(cls)) candidate = false;
        else t.add(cls);
      }
      if (candidate) {
        const next = model.step(state, ops[i]!.op, unknown);
        if (next !== undefined) {
          const nextKey = model.stateKey(next);
          if (!unknown || nextKey !== model.stateKey(state)) {
            flip(i);
            if (visit(nextKey, unknown)) {
              if (++explored > budget) return { ok: false, decided: false, explored };
              stack.push({ call, state, pass, after });
              tried[stack.length] = undefined;
              if (!unknown) knownLeft--;
              state = next;
              after = unknown;
              lift(call);
              entry = head.next;
              pass = 0;
              advanced = true;
              if (stack.length > deepest.length) deepest = stack.map((s) => ({ op: s.call.op, state: s.state }));
            } else {
              flip(i);
            }
          }
        }
      }
      if (!advanced) entry = call.next;
    } else if (pass === 0) {
      // End of the candidates: now the unknown ones.
      pass = 1;
      entry = head.next;
    } else {
      // A return whose call is still in the list: that operation had to be linearized by now.
      const top = stack.pop();
      if (top === undefined) return { ok: false, decided: true, explored, explanation: explain(model, ops, deepest) };
      state = top.state;
      after = top.after;
      pass = top.pass;
      if (!isUnknown(top.call.op)) knownLeft++;
      flip(top.call.op);
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { ok: true, decided: true, explored };
}

function explain<S, O>(model: Model<S, O>, ops: readonly { call: number; ret: number; op: O; id: number }[], deepest: ReadonlyArray<{ op: number; state: S }>): string {
  const placed = new Set(deepest.map((d) => d.op));
  const fmt = (i: number): string => {
    const o = ops[i]!;
    return `#${o.id} [${o.call}, ${o.ret === Infinity ? '∞' : o.ret}] ${model.describe(o.op)}`;
  };
  const lines = [`longest linearizable prefix: ${deepest.length} of ${ops.length} operations, ending`];
  for (const d of deepest.slice(-6)) lines.push(`  ${fmt(d.op)}`);
  const rest = ops.map((_o, i) => i).filter((i) => !placed.has(i));
  const known = rest.filter((i) => ops[i]!.ret !== Infinity).sort((a, b) => ops[a]!.call - ops[b]!.call);
  lines.push(`then none of the ${known.length} known operations left fits, the first being`);
  for (const i of known.slice(0, 6)) lines.push(`  ${fmt(i)}`);
  lines.push(`(${rest.length - known.length} operations of unknown outcome left unplaced)`);
  return lines.join('\n');
}

/**
 * Checks a whole history of register operations (P-compositionality: key by key, in key
 * order). Fails on the first key whose sub-history is not linearizable or not decided within
 * `budget` configurations.
 */
export function checkHistory(history: readonly HistoryOp[], budget = 2_000_000): CheckResult {
  const byKey = new Map<string, HistoryOp[]>();
  for (const h of history) {
    let l = byKey.get(h.key);
    if (l === undefined) byKey.set(h.key, (l = []));
    l.push(h);
  }
  let explored = 0;
  for (const key of [...byKey.keys()].sort()) {
    const ops = byKey.get(key)!;
    const r = checkOperations(registerModelFor(ops), ops, budget);
    explored += r.explored;
    if (!r.ok) return { ...r, key, explored };
  }
  return { ok: true, decided: true, explored };
}
