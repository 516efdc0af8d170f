// Fuzz: thousands of corrupted safetensors buffers (bit flips, truncations, header edits, random headers). Each
// must either read correctly — every tensor's bytes are exactly the file's bytes at its offsets — or be rejected
// with a CheckpointError. Any other exception, or a read outside the buffer, fails the test.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CheckpointError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { DTYPE_NAMES, dtypeBytes, fromFloat32, readSafetensors, writeSafetensors, type Dtype } from "../../src/io/safetensors.js";

interface Outcome {
  accepted: number;
  rejected: number;
}

/** Reads `bytes`; on success checks the result against an independent oracle (JSON.parse + byte comparison). */
function check(bytes: Uint8Array, outcome: Outcome): void {
  let file;
  try {
    file = readSafetensors(bytes, "fuzz.safetensors");
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw new Error(`non-CheckpointError ${String(err)} for buffer ${Buffer.from(bytes).toString("base64")}`);
    expect(err.message).toMatch(/^fuzz\.safetensors: /);
    outcome.rejected++;
    return;
  }
  outcome.accepted++;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: Dtype; shape: number[]; data_offsets: [number, number] }>;
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  expect(new Set(file.tensors.keys())).toEqual(new Set(names));
  let covered = 0;
  for (const name of names) {
    const info = header[name]!;
    const t = file.tensors.get(name)!;
    expect(t.dtype).toBe(info.dtype);
    expect(t.shape).toEqual(info.shape);
    expect(t.data.length).toBe(info.shape.reduce((a, b) => a * b, 1));
    const [begin, end] = info.data_offsets;
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    expect(raw).toEqual(bytes.subarray(8 + n + begin, 8 + n + end));
    covered += end - begin;
  }
  expect(8 + n + covered).toBe(bytes.length);
}

/** A handful of valid files to corrupt: several dtypes, metadata, scalars, empty tensors. */
function seedFiles(rng: Rng): Uint8Array[] {
  const floats = (k: number): Float32Array<ArrayBuffer> => rng.fillNormal(new Float32Array(k)) as Float32Array<ArrayBuffer>;
  return [
    writeSafetensors({ w: { dtype: "F32", shape: [3, 4], data: floats(12) }, b: { dtype: "F32", shape: [4], data: floats(4) } }, { step: "100", format: "pt" }),
    writeSafetensors({
      h: { dtype: "F16", shape: [5], data: fromFloat32(floats(5), "F16") },
      bf: { dtype: "BF16", shape: [2, 2], data: fromFloat32(floats(4), "BF16") },
      ids: { dtype: "I64", shape: [3], data: new BigInt64Array([1n, -2n, 3n]) },
      mask: { dtype: "BOOL", shape: [4], data: new Uint8Array([1, 0, 0, 1]) },
      bytes: { dtype: "U8", shape: [7], data: new Uint8Array([1, 2, 3, 4, 5, 6, 7]) },
      count: { dtype: "I32", shape: [], data: new Int32Array([9]) },
      none: { dtype: "F64", shape: [0, 3], data: new Float64Array(0) },
    }),
    writeSafetensors({}, { only: "metadata" }),
  ];
}

function mutate(base: Uint8Array, rng: Rng): Uint8Array {
  const n = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  const kind = rng.int(8);
  const b = base.slice();
  switch (kind) {
    case 0: {
      // flip 1–8 random bits anywhere
      for (let k = 1 + rng.int(8); k > 0; k--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    }
    case 1: {
      // flip bits inside the header text, where most structure lives
      for (let k = 1 + rng.int(3); k > 0; k--) b[8 + rng.int(n)]! ^= 1 << rng.int(8);
      return b;
    }
    case 2:
      // truncate anywhere (a killed writer)
      return b.slice(0, rng.int(b.length));
    case 3: {
      // append junk
      const extra = new Uint8Array(1 + rng.int(16)).map(() => rng.int(256));
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      return out;
    }
    case 4: {
      // rewrite the header size field
      const choices = [0n, 1n, BigInt(n - 1), BigInt(n + 1), BigInt(rng.uint32()), 100_000_001n, 2n ** 63n, 2n ** 64n - 1n];
      new DataView(b.buffer).setBigUint64(0, choices[rng.int(choices.length)]!, true);
      return b;
    }
    default: {
      // textual edits of the header: change a digit, a dtype, delete or duplicate a span, keeping the size field right
      let text = new TextDecoder().decode(b.subarray(8, 8 + n));
      const data = b.subarray(8 + n);
      const edit = rng.int(4);
      if (edit === 0) {
        const digits = [...text.matchAll(/[0-9]/g)].map((m) => m.index);
        if (digits.length > 0) {
          const at = digits[rng.int(digits.length)]!;
          text = text.slice(0, at) + String(rng.int(10)) + text.slice(at + 1);
        }
      } else if (edit === 1) {
        const names = [...DTYPE_NAMES, "F33", "f32", "", "C64"];
        text = text.replace(/"dtype":"[A-Z0-9_]+"/, `"dtype":"${names[rng.int(names.length)]}"`);
      } else if (edit === 2) {
        const at = rng.int(text.length);
        text = text.slice(0, at) + text.slice(at + 1 + rng.int(8));
      } else {
        const at = rng.int(text.length);
        const len = 1 + rng.int(12);
        text = text.slice(0, at) + text.slice(at, at + len) + text.slice(at);
      }
      return assemble(text, data);
    }
  }
}

function assemble(headerText: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A random header that is often almost valid: random dtypes (some unknown), shapes and offsets near the truth. */
function randomHeaderFile(rng: Rng): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const count = rng.int(4);
  for (let i = 0; i < count; i++) {
    const dtype = rng.float() < 0.9 ? DTYPE_NAMES[rng.int(DTYPE_NAMES.length)]! : ["X", 3, null][rng.int(3)];
    const shape = Array.from({ length: rng.int(3) }, () => rng.int(4));
    const numel = shape.reduce((a, b) => a * b, 1);
    const size = typeof dtype === "string" && DTYPE_NAMES.includes(dtype as Dtype) ? numel * dtypeBytes(dtype as Dtype) : numel;
    const jitter = rng.float() < 0.8 ? 0 : rng.int(5) - 2;
    header[`t${i}`] = { dtype, shape, data_offsets: [offset + (rng.float() < 0.9 ? 0 : jitter), offset + size + jitter] };
    offset += size;
  }
  if (rng.float() < 0.3) header.__metadata__ = rng.float() < 0.8 ? { a: "b" } : { a: rng.int(5) };
  const data = new Uint8Array(Math.max(0, offset + (rng.float() < 0.8 ? 0 : rng.int(5) - 2))).map(() => rng.int(256));
  return assemble(JSON.stringify(header), data);
}

describe("safetensors fuzz", () => {
  it("reads or rejects with CheckpointError each of 3,000 corrupted buffers", () => {
    const rng = new Rng(2024, "safetensors-fuzz");
    const seeds = seedFiles(rng);
    const outcome: Outcome = { accepted: 0, rejected: 0 };
    for (let i = 0; i < 2000; i++) check(mutate(seeds[rng.int(seeds.length)]!, rng), outcome);
    for (let i = 0; i < 1000; i++) check(randomHeaderFile(rng), outcome);
    // both branches must be exercised, or the fuzzer is not testing anything
    expect(outcome.rejected).toBeGreaterThan(1000);
    expect(outcome.accepted).toBeGreaterThan(100);
  });

  it("reads or rejects arbitrary bytes and arbitrary JSON headers (fast-check)", () => {
    const outcome: Outcome = { accepted: 0, rejected: 0 };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => check(bytes, outcome)),
      { numRuns: 500, seed: 7 },
    );
    fc.assert(
      fc.property(fc.json(), fc.uint8Array({ maxLength: 16 }), (text, data) => check(assemble(text, data), outcome)),
      { numRuns: 500, seed: 8 },
    );
    expect(outcome.rejected).toBeGreaterThan(0);
  });
});
