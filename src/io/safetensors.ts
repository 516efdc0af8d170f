// Reads and writes the safetensors format (https://huggingface.co/docs/safetensors) exactly as its reference
// implementation does, so checkpoints move between Mesa Lab and PyTorch (`safetensors.torch.load_file`).
// Layout: u64 little-endian header size N · N bytes of UTF-8 JSON header (padded with spaces to 8-byte alignment)
// · raw little-endian row-major tensor data. Every malformed input is rejected with a CheckpointError.
import { readFileSync } from "node:fs";
import { CheckpointError } from "../core/errors.js";
import { writeFileAtomic } from "./atomic.js";

/** Largest header the reference implementation accepts (100 MB); bigger ones are treated as hostile. */
export const MAX_HEADER_BYTES = 100_000_000;

type ArrayCtor =
  | Float64ArrayConstructor | Float32ArrayConstructor | Uint16ArrayConstructor | Uint8ArrayConstructor
  | Int8ArrayConstructor | Int16ArrayConstructor | Int32ArrayConstructor | BigInt64ArrayConstructor
  | Uint32ArrayConstructor | BigUint64ArrayConstructor;

/** Each dtype: bytes per element and the typed array that holds its raw values. */
const DTYPES = {
  F64: { bytes: 8, array: Float64Array, float: true },
  F32: { bytes: 4, array: Float32Array, float: true },
  /** IEEE half precision, held as raw bits (Node 20 has no Float16Array); decode with toFloat32 */
  F16: { bytes: 2, array: Uint16Array, float: true },
  /** bfloat16, held as raw bits (the upper half of a float32) */
  BF16: { bytes: 2, array: Uint16Array, float: true },
  /** 8-bit floats (OCP FP8), held as raw bits */
  F8_E4M3: { bytes: 1, array: Uint8Array, float: true },
  F8_E5M2: { bytes: 1, array: Uint8Array, float: true },
  I64: { bytes: 8, array: BigInt64Array, float: false },
  I32: { bytes: 4, array: Int32Array, float: false },
  I16: { bytes: 2, array: Int16Array, float: false },
  I8: { bytes: 1, array: Int8Array, float: false },
  U64: { bytes: 8, array: BigUint64Array, float: false },
  U32: { bytes: 4, array: Uint32Array, float: false },
  U16: { bytes: 2, array: Uint16Array, float: false },
  U8: { bytes: 1, array: Uint8Array, float: false },
  /** one byte per element, 0 or 1 */
  BOOL: { bytes: 1, array: Uint8Array, float: false },
} as const satisfies Record<string, { bytes: number; array: ArrayCtor; float: boolean }>;

export type Dtype = keyof typeof DTYPES;
export const DTYPE_NAMES = Object.keys(DTYPES) as Dtype[];

/** The typed array holding a dtype's raw values (F16/BF16 as Uint16Array bits, BOOL as Uint8Array). */
export type DtypeArray<D extends Dtype> = InstanceType<(typeof DTYPES)[D]["array"]>;
export type TensorData = DtypeArray<Dtype>;

export interface SafetensorsEntry<D extends Dtype = Dtype> {
  dtype: D;
  /** row-major shape; [] is a scalar */
  shape: number[];
  /** raw values: a view into the file's bytes when aligned, otherwise a copy */
  data: DtypeArray<D>;
}

export interface SafetensorsFile {
  /** tensors in data order (ascending offsets) */
  tensors: Map<string, SafetensorsEntry>;
  /** the `__metadata__` string map ({} when absent) */
  metadata: Record<string, string>;
}

export function isDtype(name: unknown): name is Dtype {
  return typeof name === "string" && Object.hasOwn(DTYPES, name);
}

export function dtypeBytes(dtype: Dtype): number {
  return DTYPES[dtype].bytes;
}

export function isFloatDtype(dtype: Dtype): boolean {
  return DTYPES[dtype].float;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ───────────────────────────────────────────── reading ─────────────────────────────────────────────

/**
 * Parses a safetensors buffer. Tensor data are zero-copy views into `bytes` when their offset is aligned to the
 * element size, otherwise copies. `source` names the buffer (a file path) in error messages.
 */
export function readSafetensors(bytes: Uint8Array, source = "safetensors buffer"): SafetensorsFile {
  const fail = (what: string, hint = "the file is corrupt or not a safetensors file; re-save it"): never => {
    throw new CheckpointError(`${source}: ${what}`, hint);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header size`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerSize = view.getBigUint64(0, true);
  if (headerSize > BigInt(MAX_HEADER_BYTES)) fail(`header size ${headerSize} bytes exceeds the 100 MB limit (not a safetensors file?)`);
  const n = Number(headerSize);
  if (8 + n > bytes.length) fail(`header size ${n} bytes runs past the end of the ${bytes.length}-byte file (truncated, or not a safetensors file?)`);

  let text: string;
  try {
    // slice (a copy) rather than subarray: browsers' TextDecoder refuses views of a SharedArrayBuffer (wasm memory)
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.slice(8, 8 + n));
  } catch {
    return fail("header is not valid UTF-8");
  }
  // The spec says the header starts with '{' and may be padded with trailing whitespace; the reference reader
  // also accepts leading JSON whitespace (writers may pad to align the data to a page), and so do we.
  if (!/^[ \t\r\n]*\{/.test(text)) fail(`header does not start with '{' (starts with ${JSON.stringify(text.slice(0, 16))})`);
  let header: unknown;
  try {
    header = parseStrictJson(text);
  } catch (err) {
    return fail(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) fail("header is not a JSON object");

  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const infos: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = checkMetadata(raw, (what) => fail(`__metadata__ ${what}`));
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(`${where}: entry is not an object`);
    const info = raw as Record<string, unknown>;
    if (!isDtype(info.dtype)) fail(`${where}: unknown dtype ${describe(info.dtype)}`, `supported dtypes: ${DTYPE_NAMES.join(", ")}`);
    const dtype = info.dtype as Dtype;
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(`${where}: shape ${describe(shape)} is not an array of non-negative integers`);
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(`${where}: data_offsets ${describe(offsets)} is not a pair [begin, end] of non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    let numel = 1;
    for (const d of shape as number[]) numel *= d;
    if (!Number.isSafeInteger(numel * DTYPES[dtype].bytes)) fail(`${where}: shape ${describe(shape)} is too large`);
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end - begin !== numel * DTYPES[dtype].bytes) {
      fail(`${where}: shape ${describe(shape)} of ${dtype} needs ${numel * DTYPES[dtype].bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    if (end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] run past the ${dataLength} data bytes (truncated?)`);
    infos.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // JSON objects are unordered, so (like the reference) order tensors by offsets and require that they tile the
  // data section exactly: no gaps, no overlaps, nothing after the last tensor.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const info of infos) {
    if (info.begin !== cursor) {
      fail(info.begin < cursor
        ? `tensor ${JSON.stringify(info.name)}: data_offsets [${info.begin}, ${info.end}] overlap the previous tensor (which ends at ${cursor})`
        : `tensor ${JSON.stringify(info.name)}: data_offsets [${info.begin}, ${info.end}] leave a gap after byte ${cursor}`);
    }
    cursor = info.end;
  }
  if (cursor !== dataLength) fail(`tensors cover ${cursor} data bytes but the file has ${dataLength} after the header`);

  const tensors = new Map<string, SafetensorsEntry>();
  for (const info of infos) {
    const data = typedView(bytes, dataStart + info.begin, dataStart + info.end, info.dtype);
    tensors.set(info.name, { dtype: info.dtype, shape: info.shape, data });
  }
  return { tensors, metadata };
}

/** A typed array over bytes[begin, end): a view when aligned and the host is little-endian, otherwise a copy. */
function typedView(bytes: Uint8Array, begin: number, end: number, dtype: Dtype): TensorData {
  const { bytes: size, array } = DTYPES[dtype];
  const length = (end - begin) / size;
  const absolute = bytes.byteOffset + begin;
  if (HOST_LITTLE_ENDIAN && absolute % size === 0) return new array(bytes.buffer as ArrayBuffer, absolute, length) as TensorData;
  const copy = bytes.slice(begin, end);
  if (!HOST_LITTLE_ENDIAN) swapBytes(copy, size);
  return new array(copy.buffer, 0, length) as TensorData;
}

function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

function checkMetadata(raw: unknown, fail: (what: string) => never): Record<string, string> {
  if (raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) return fail(`is ${describe(raw)}, not an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== "string") fail(`value for ${JSON.stringify(k)} is ${describe(v)}, not a string`);
    out[k] = v as string;
  }
  return out;
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function describe(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// ───────────────────────────────────────────── strict JSON ─────────────────────────────────────────────

/** Nesting deeper than this is never a valid header; the limit keeps hostile input from overflowing the stack. */
const MAX_JSON_DEPTH = 64;

/**
 * JSON.parse cannot see duplicate keys (it keeps the last), which the format forbids, so the header goes through
 * this small RFC 8259 parser. It throws a plain Error with the position; the caller wraps it in a CheckpointError.
 */
export function parseStrictJson(text: string): unknown {
  let pos = 0;
  const error = (what: string): never => {
    throw new Error(`${what} at position ${pos}`);
  };
  const skipWs = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const numberRe = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

  const parseString = (): string => {
    pos++; // opening quote
    let out = "";
    let chunk = pos;
    for (;;) {
      if (pos >= text.length) error("unterminated string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(chunk, pos);
        pos++;
        return out;
      }
      if (c < 0x20) error("control character in string");
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(chunk, pos);
      const e = text[pos + 1];
      pos += 2;
      switch (e) {
        case '"': out += '"'; break;
        case "\\": out += "\\"; break;
        case "/": out += "/"; break;
        case "b": out += "\b"; break;
        case "f": out += "\f"; break;
        case "n": out += "\n"; break;
        case "r": out += "\r"; break;
        case "t": out += "\t"; break;
        case "u": {
          const hex = text.slice(pos, pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) error("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 4;
          break;
        }
        default: pos -= 2; error("bad escape");
      }
      chunk = pos;
    }
  };

  const parseValue = (depth: number): unknown => {
    if (depth > MAX_JSON_DEPTH) error(`nesting deeper than ${MAX_JSON_DEPTH}`);
    skipWs();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const obj: Record<string, unknown> = {};
      const seen = new Set<string>();
      skipWs();
      if (text[pos] === "}") {
        pos++;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') error("expected a string key");
        const key = parseString();
        if (seen.has(key)) error(`duplicate key ${JSON.stringify(key)}`);
        seen.add(key);
        skipWs();
        if (text[pos] !== ":") error("expected ':'");
        pos++;
        // defineProperty so a key named "__proto__" is stored as data, not as the prototype
        Object.defineProperty(obj, key, { value: parseValue(depth + 1), enumerable: true, writable: true, configurable: true });
        skipWs();
        if (text[pos] === ",") { pos++; continue; }
        if (text[pos] === "}") { pos++; return obj; }
        error("expected ',' or '}'");
      }
    }
    if (c === "[") {
      pos++;
      const arr: unknown[] = [];
      skipWs();
      if (text[pos] === "]") {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        skipWs();
        if (text[pos] === ",") { pos++; continue; }
        if (text[pos] === "]") { pos++; return arr; }
        error("expected ',' or ']'");
      }
    }
    if (c === '"') return parseString();
    if (text.startsWith("true", pos)) { pos += 4; return true; }
    if (text.startsWith("false", pos)) { pos += 5; return false; }
    if (text.startsWith("null", pos)) { pos += 4; return null; }
    numberRe.lastIndex = pos;
    const m = numberRe.exec(text);
    if (m === null) return error(pos >= text.length ? "unexpected end" : `unexpected character ${JSON.stringify(c)}`);
    pos += m[0].length;
    return Number(m[0]);
  };

  const value = parseValue(0);
  skipWs();
  if (pos !== text.length) error("unexpected text after the JSON value");
  return value;
}

// ───────────────────────────────────────────── writing ─────────────────────────────────────────────

/**
 * The reference writer sorts tensors by its Dtype enum, descending, then by name; this is that enum's order
 * (smallest element first), so files written here are byte-identical to `safetensors.torch.save_file`'s.
 */
const WRITE_RANK: Record<Dtype, number> = {
  BOOL: 0, U8: 1, I8: 2, F8_E5M2: 3, F8_E4M3: 4, I16: 5, U16: 6, F16: 7, BF16: 8,
  I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
};

export type TensorInput = SafetensorsEntry | { dtype: Dtype; shape: readonly number[]; data: TensorData };

/**
 * Serializes tensors (and optional string metadata) to safetensors bytes, laid out as the reference writer does:
 * tensors ordered by dtype (widest first, see WRITE_RANK) then name, so every tensor starts aligned to its element
 * size; `__metadata__` first in the compact JSON header, padded with spaces so the data starts on an 8-byte boundary.
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, TensorInput> | Readonly<Record<string, TensorInput>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const entries: [string, TensorInput][] =
    tensors instanceof Map ? [...(tensors as ReadonlyMap<string, TensorInput>).entries()] : Object.entries(tensors as Record<string, TensorInput>);
  const fail = (what: string, hint = "fix the tensor before saving"): never => {
    throw new CheckpointError(`cannot write safetensors: ${what}`, hint);
  };
  const seen = new Set<string>();
  for (const [name, t] of entries) {
    const where = `tensor ${JSON.stringify(name)}`;
    if (name === "__metadata__") fail(`"__metadata__" is reserved and cannot name a tensor`, "rename the tensor");
    if (seen.has(name)) fail(`duplicate ${where}`);
    seen.add(name);
    if (!isDtype(t.dtype)) fail(`${where}: unknown dtype ${describe(t.dtype)}`, `supported dtypes: ${DTYPE_NAMES.join(", ")}`);
    const spec = DTYPES[t.dtype];
    if (!(t.data instanceof spec.array)) fail(`${where}: dtype ${t.dtype} needs a ${spec.array.name}, got ${t.data?.constructor?.name ?? typeof t.data}`);
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) fail(`${where}: shape ${describe(t.shape)} is not an array of non-negative integers`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) fail(`${where}: shape [${t.shape.join(", ")}] has ${numel} elements but the data has ${t.data.length}`);
    if (t.dtype === "BOOL" && (t.data as Uint8Array).some((b) => b > 1)) fail(`${where}: BOOL data must be 0 or 1`);
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") fail(`metadata value for ${JSON.stringify(k)} is ${describe(v)}, not a string`, "convert metadata values to strings (JSON.stringify)");
    }
  }

  entries.sort(([na, a], [nb, b]) => WRITE_RANK[b.dtype] - WRITE_RANK[a.dtype] || (na < nb ? -1 : na > nb ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const [name, t] of entries) {
    const size = t.data.byteLength;
    Object.defineProperty(header, name, {
      value: { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] },
      enumerable: true, writable: true, configurable: true,
    });
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_BYTES) fail(`header would be ${padded} bytes, over the 100 MB limit`, "save fewer tensors per file");
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let cursor = 8 + padded;
  for (const [, t] of entries) {
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(raw, cursor);
    if (!HOST_LITTLE_ENDIAN) swapBytes(out.subarray(cursor, cursor + raw.length), DTYPES[t.dtype].bytes);
    cursor += raw.length;
  }
  return out;
}

// ───────────────────────────────────────────── files ─────────────────────────────────────────────

/** Reads and parses a safetensors file; errors name the file. */
export function loadSafetensorsFile(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(
      code === "ENOENT" ? `${path}: no such file` : code === "EISDIR" ? `${path}: is a directory, not a safetensors file` : `${path}: cannot read (${(err as Error).message})`,
      "check the path",
    );
  }
  return readSafetensors(bytes, path);
}

/** Writes a safetensors file atomically (temp file + rename). */
export function saveSafetensorsFile(
  path: string,
  tensors: ReadonlyMap<string, TensorInput> | Readonly<Record<string, TensorInput>>,
  metadata?: Readonly<Record<string, string>>,
): void {
  writeFileAtomic(path, writeSafetensors(tensors, metadata));
}

// ───────────────────────────────────────────── conversion ─────────────────────────────────────────────

/** The values of any tensor as a new Float32Array (F16/BF16/FP8 decoded, integers converted, BOOL as 0/1). */
export function toFloat32(entry: { dtype: Dtype; data: TensorData }): Float32Array {
  const { dtype, data } = entry;
  const n = data.length;
  const out = new Float32Array(n);
  switch (dtype) {
    case "F16": {
      const bits = data as Uint16Array;
      for (let i = 0; i < n; i++) out[i] = f16ToNumber(bits[i]!);
      return out;
    }
    case "BF16": {
      const bits = data as Uint16Array;
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = bits[i]! << 16;
      return out;
    }
    case "F8_E4M3":
    case "F8_E5M2": {
      const decode = dtype === "F8_E4M3" ? f8e4m3ToNumber : f8e5m2ToNumber;
      const bits = data as Uint8Array;
      for (let i = 0; i < n; i++) out[i] = decode(bits[i]!);
      return out;
    }
    case "BOOL": {
      const bits = data as Uint8Array;
      for (let i = 0; i < n; i++) out[i] = bits[i] !== 0 ? 1 : 0;
      return out;
    }
    case "I64":
    case "U64": {
      const big = data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < n; i++) out[i] = Number(big[i]!);
      return out;
    }
    default:
      out.set(data as Exclude<TensorData, BigInt64Array | BigUint64Array>);
      return out;
  }
}

/** Encodes float values as a tensor of a float dtype (round to nearest even for F16/BF16). */
export function fromFloat32<D extends "F32" | "F64" | "F16" | "BF16">(values: ArrayLike<number>, dtype: D): DtypeArray<D> {
  const n = values.length;
  switch (dtype) {
    case "F32":
      return Float32Array.from(values) as DtypeArray<D>;
    case "F64":
      return Float64Array.from(values) as DtypeArray<D>;
    case "F16": {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = numberToF16(values[i]!);
      return out as DtypeArray<D>;
    }
    default: {
      const f = Float32Array.from(values);
      const u32 = new Uint32Array(f.buffer);
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        const x = u32[i]!;
        // NaN keeps a quiet NaN payload; everything else rounds to nearest, ties to even
        out[i] = (x & 0x7fffffff) > 0x7f800000 ? ((x >>> 16) | 0x40) : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
      }
      return out as DtypeArray<D>;
    }
  }
}

/** Decodes IEEE 754 half-precision bits. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * Encodes a number as IEEE 754 half-precision bits, rounding to nearest even (as PyTorch does from float32).
 * The value is first rounded to float32, the precision our tensors hold.
 */
export function numberToF16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit-one mantissa into place with round-to-nearest-even
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // may carry into the exponent, which is correct
  return sign | h;
}

/** FP8 E4M3 (OCP "fn" variant: no infinities, S.1111.111 is NaN). */
function f8e4m3ToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >>> 3) & 0xf;
  const frac = b & 0x7;
  if (exp === 0xf && frac === 0x7) return Number.NaN;
  if (exp === 0) return sign * frac * 2 ** -9;
  return sign * (1 + frac / 8) * 2 ** (exp - 7);
}

/** FP8 E5M2 (IEEE-like: infinities and NaNs). */
function f8e5m2ToNumber(b: number): number {
  return f16ToNumber(b << 8);
}
