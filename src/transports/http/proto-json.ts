/**
 * etcd's JSON mapping of protobuf messages, as its gateway (grpc-gateway v1 with golang/protobuf
 * jsonpb, `OrigName: true`, `EmitDefaults: false`) writes and reads it:
 *
 * - output names are the proto field names exactly (`create_revision`, `dbSize`, `ID`);
 *   input accepts those and the lowerCamelCase JSON names (`keys_only` or `keysOnly`);
 * - 64-bit integers are strings on output, strings or numbers on input; 32-bit ones numbers;
 * - bytes are standard base64; enums are names on output, names or numbers on input;
 * - zero values (0, false, "", empty bytes, empty lists, enum 0, absent messages) are omitted;
 *   a present but empty message is `{}`; unknown input fields are ignored.
 *
 * The descriptors come from parsing the schema texts again with `keepCase` (the shared schema
 * is parsed camelCase, which loses the original names) and pairing fields by number with the
 * camelCase types, whose names the in-memory messages use.
 */
import protobuf from 'protobufjs';
import { ETCDSERVER_PROTO, MVCC_PROTO, schemaRoot } from '../../codec/schema.js';
import { GRPC_EXTRA_PROTOS, grpcExtraRoot } from '../grpc/grpc-schema.js';

/** Input that does not fit the message type (answered as InvalidArgument). */
export class JsonMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonMappingError';
  }
}

type Kind = 'int64' | 'number' | 'bool' | 'string' | 'bytes' | 'enum' | 'message';

interface FieldDesc {
  readonly orig: string;
  readonly camel: string;
  readonly json: string;
  readonly kind: Kind;
  readonly repeated: boolean;
  /** For enums: name → number and number → name. */
  readonly enumType?: protobuf.Enum;
  /** For messages: the full name of the field's type. */
  readonly messageType?: string;
}

interface TypeDesc {
  readonly fields: readonly FieldDesc[];
  /** Input names (orig and json) → field. */
  readonly byInputName: ReadonlyMap<string, FieldDesc>;
}

const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const NUMBER = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'double', 'float']);

function buildOrigRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const text of [MVCC_PROTO, ETCDSERVER_PROTO, ...GRPC_EXTRA_PROTOS]) {
    // The extra schema repeats ResponseHeader in etcdserverpb; keep the first definition.
    const r = new protobuf.Root();
    protobuf.parse(text, r, { keepCase: true });
    mergeInto(root, r);
  }
  root.resolveAll();
  return root;
}

/** Adds every type of `from` to `into`, skipping names `into` already has. */
function mergeInto(into: protobuf.NamespaceBase, from: protobuf.NamespaceBase): void {
  for (const obj of [...from.nestedArray]) {
    const existing = into.get(obj.name);
    if (existing === null) {
      from.remove(obj);
      into.add(obj);
    } else if (existing instanceof protobuf.Namespace && !(existing instanceof protobuf.Type) && obj instanceof protobuf.Namespace) {
      mergeInto(existing, obj);
    }
  }
}

/** protobuf's JSON name: `create_revision` → `createRevision`. */
function jsonNameOf(orig: string): string {
  return orig.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function base64Of(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** Converts messages of the etcd schema (and the gRPC port's extras) to and from JSON. */
export class ProtoJson {
  private readonly orig = buildOrigRoot();
  private readonly descs = new Map<string, TypeDesc>();

  private camelType(name: string): protobuf.Type {
    const t = schemaRoot.lookup(name) ?? grpcExtraRoot.lookup(name);
    if (!(t instanceof protobuf.Type)) throw new Error(`no message type ${name}`);
    return t;
  }

  private desc(name: string): TypeDesc {
    let d = this.descs.get(name);
    if (d !== undefined) return d;
    const origType = this.orig.lookupType(name);
    const camelType = this.camelType(name);
    const fields: FieldDesc[] = [];
    const byInputName = new Map<string, FieldDesc>();
    for (const f of origType.fieldsArray) {
      f.resolve();
      const camel = camelType.fieldsById[f.id];
      if (camel === undefined) throw new Error(`${name}: field ${f.id} missing from the camelCase schema`);
      let kind: Kind;
      let enumType: protobuf.Enum | undefined;
      let messageType: string | undefined;
      if (f.resolvedType instanceof protobuf.Enum) {
        kind = 'enum';
        enumType = f.resolvedType;
      } else if (f.resolvedType instanceof protobuf.Type) {
        kind = 'message';
        messageType = f.resolvedType.fullName.slice(1);
      } else if (INT64.has(f.type)) kind = 'int64';
      else if (NUMBER.has(f.type)) kind = 'number';
      else if (f.type === 'bool') kind = 'bool';
      else if (f.type === 'string') kind = 'string';
      else if (f.type === 'bytes') kind = 'bytes';
      else throw new Error(`${name}.${f.name}: unsupported field type ${f.type}`);
      const fd: FieldDesc = {
        orig: f.name,
        camel: camel.name,
        json: jsonNameOf(f.name),
        kind,
        repeated: f.repeated,
        ...(enumType === undefined ? {} : { enumType }),
        ...(messageType === undefined ? {} : { messageType }),
      };
      fields.push(fd);
      byInputName.set(fd.orig, fd);
      byInputName.set(fd.json, fd);
    }
    d = { fields, byInputName };
    this.descs.set(name, d);
    return d;
  }

  /** The JSON text of `msg`, a message of type `typeName` (camelCase fields, as in memory). */
  stringify(typeName: string, msg: unknown): string {
    return JSON.stringify(this.toJsonValue(typeName, msg));
  }

  /** The JSON value (plain object) of `msg`. */
  toJsonValue(typeName: string, msg: unknown): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (msg === null || msg === undefined) return out;
    const m = msg as Record<string, unknown>;
    for (const f of this.desc(typeName).fields) {
      const v = m[f.camel];
      if (v === null || v === undefined) continue;
      if (f.repeated) {
        const arr = v as unknown[];
        if (arr.length === 0) continue;
        out[f.orig] = arr.map((x) => this.valueOut(f, x, true));
        continue;
      }
      const o = this.valueOut(f, v, false);
      if (o !== undefined) out[f.orig] = o;
    }
    return out;
  }

  /** One field value; undefined for a zero value of a singular field (omitted). */
  private valueOut(f: FieldDesc, v: unknown, inList: boolean): unknown {
    switch (f.kind) {
      case 'int64':
        return !inList && (v === 0 || v === '0') ? undefined : String(v);
      case 'number':
        return !inList && v === 0 ? undefined : Number(v);
      case 'bool':
        return !inList && v === false ? undefined : Boolean(v);
      case 'string':
        return !inList && v === '' ? undefined : String(v);
      case 'bytes': {
        const b = v as Uint8Array;
        if (!inList && b.length === 0) return undefined;
        return b instanceof Uint8Array ? base64Of(b) : Buffer.from(b as ArrayLike<number>).toString('base64');
      }
      case 'enum':
        if (!inList && v === 0) return undefined;
        return f.enumType!.valuesById[v as number] ?? v;
      case 'message':
        return this.toJsonValue(f.messageType!, v);
    }
  }

  /**
   * A message of type `typeName` (camelCase fields) from its JSON value.
   * @throws JsonMappingError when a value does not fit its field.
   */
  fromJsonValue(typeName: string, json: unknown): Record<string, unknown> {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new JsonMappingError(`${typeName}: expected a JSON object`);
    }
    const d = this.desc(typeName);
    const out: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
      const f = d.byInputName.get(name);
      if (f === undefined || v === null) continue;
      if (f.repeated) {
        if (!Array.isArray(v)) throw new JsonMappingError(`${name}: expected a JSON array`);
        out[f.camel] = v.map((x) => this.valueIn(f, name, x));
      } else {
        out[f.camel] = this.valueIn(f, name, v);
      }
    }
    return out;
  }

  private valueIn(f: FieldDesc, name: string, v: unknown): unknown {
    const bad = (want: string): JsonMappingError =>
      new JsonMappingError(`${name}: expected ${want}, got ${JSON.stringify(v)?.slice(0, 40)}`);
    switch (f.kind) {
      case 'int64':
      case 'number': {
        const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
        if (!Number.isSafeInteger(n) && !(f.kind === 'number' && Number.isFinite(n))) throw bad('an integer');
        return n;
      }
      case 'bool':
        if (typeof v !== 'boolean') throw bad('true or false');
        return v;
      case 'string':
        if (typeof v !== 'string') throw bad('a string');
        return v;
      case 'bytes':
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) throw bad('base64 bytes');
        return Buffer.from(v, v.includes('-') || v.includes('_') ? 'base64url' : 'base64');
      case 'enum': {
        const e = f.enumType!;
        if (typeof v === 'string' && e.values[v] !== undefined) return e.values[v];
        if (typeof v === 'number' && Number.isInteger(v)) return v;
        throw bad(`one of ${Object.keys(e.values).join(', ')}`);
      }
      case 'message':
        return this.fromJsonValue(f.messageType!, v);
    }
  }
}
