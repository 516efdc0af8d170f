// safetensors: exact layout, round trips for every dtype, half-precision codecs, and one test per way a file
// can be malformed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointError } from "../../src/core/errors.js";
import {
  f16ToNumber,
  fromFloat32,
  loadSafetensorsFile,
  numberToF16,
  parseStrictJson,
  readSafetensors,
  saveSafetensorsFile,
  toFloat32,
  writeSafetensors,
} from "../../src/io/safetensors.js";

/** Builds a file by hand: u64 header size, the header text as given (no padding), then the data bytes. */
export function rawFile(header: string | object | Uint8Array, data: Uint8Array | number[] = []): Uint8Array {
  const json =
    header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectCheckpointError(bytes: Uint8Array, pattern: RegExp): void {
  let caught: unknown;
  try {
    readSafetensors(bytes, "test.safetensors");
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  expect((caught as Error).message).toMatch(/^test\.safetensors: /);
  expect((caught as Error).message).toMatch(pattern);
}

describe("writeSafetensors layout", () => {
  it("writes the header size, compact JSON padded with spaces to 8 bytes, then little-endian data", () => {
    const bytes = writeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) } }, { step: "7" });
    const json = '{"__metadata__":{"step":"7"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const padded = Math.ceil(json.length / 8) * 8;
    expect(padded).toBeGreaterThan(json.length); // the case exercises padding
    const view = new DataView(bytes.buffer);
    expect(view.getBigUint64(0, true)).toBe(BigInt(padded));
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + padded))).toBe(json.padEnd(padded, " "));
    expect(bytes.length).toBe(8 + padded + 8);
    expect(view.getFloat32(8 + padded, true)).toBe(1);
    expect(view.getFloat32(8 + padded + 4, true)).toBe(-2);
  });

  it("orders tensors as the reference writer does (dtype, widest first, then name): every view aligned, zero-copy", () => {
    const bytes = writeSafetensors({
      a0: { dtype: "I32", shape: [1], data: new Int32Array([6]) },
      flag: { dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
      b: { dtype: "F32", shape: [1], data: new Float32Array([3]) },
      a: { dtype: "F32", shape: [1], data: new Float32Array([4]) },
      big: { dtype: "I64", shape: [1], data: new BigInt64Array([5n]) },
      half: { dtype: "F16", shape: [1], data: fromFloat32([0.5], "F16") },
    });
    const { tensors } = readSafetensors(bytes);
    expect([...tensors.keys()]).toEqual(["big", "a", "b", "a0", "half", "flag"]);
    for (const t of tensors.values()) expect(t.data.buffer).toBe(bytes.buffer);
  });

  it("round-trips every dtype, scalars and empty tensors, and metadata", () => {
    const input = {
      f64: { dtype: "F64", shape: [2], data: new Float64Array([Math.PI, -1e300]) },
      f32: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, Number.NaN]) },
      f16: { dtype: "F16", shape: [3], data: fromFloat32([1, -0.5, 65504], "F16") },
      bf16: { dtype: "BF16", shape: [2], data: fromFloat32([1, -3.5], "BF16") },
      f8a: { dtype: "F8_E4M3", shape: [2], data: new Uint8Array([0x38, 0xb8]) },
      f8b: { dtype: "F8_E5M2", shape: [2], data: new Uint8Array([0x3c, 0x7c]) },
      i64: { dtype: "I64", shape: [2], data: new BigInt64Array([-(2n ** 62n), 7n]) },
      i32: { dtype: "I32", shape: [], data: new Int32Array([-5]) },
      i16: { dtype: "I16", shape: [1], data: new Int16Array([-300]) },
      i8: { dtype: "I8", shape: [2], data: new Int8Array([-128, 127]) },
      u64: { dtype: "U64", shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
      u32: { dtype: "U32", shape: [1], data: new Uint32Array([4e9]) },
      u16: { dtype: "U16", shape: [1], data: new Uint16Array([65535]) },
      u8: { dtype: "U8", shape: [0, 4], data: new Uint8Array(0) },
      bool: { dtype: "BOOL", shape: [2], data: new Uint8Array([0, 1]) },
    } as const;
    const meta = { format: "pt", "ünïcode \"key\"": "value\nwith newline" };
    const back = readSafetensors(writeSafetensors(input, meta));
    expect(back.metadata).toEqual(meta);
    expect(back.tensors.size).toBe(Object.keys(input).length);
    for (const [name, t] of Object.entries(input)) {
      const got = back.tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.data).toEqual(t.data);
    }
    expect(Array.from(toFloat32(back.tensors.get("f16")!))).toEqual([1, -0.5, 65504]);
    expect(Array.from(toFloat32(back.tensors.get("bf16")!))).toEqual([1, -3.5]);
    expect(Array.from(toFloat32(back.tensors.get("f8a")!))).toEqual([1, -1]);
    expect(Array.from(toFloat32(back.tensors.get("f8b")!))).toEqual([1, Infinity]);
    expect(Array.from(toFloat32(back.tensors.get("i64")!))).toEqual([-(2 ** 62), 7]);
    expect(Array.from(toFloat32(back.tensors.get("bool")!))).toEqual([0, 1]);
  });

  it("writes a file with no tensors that reads back empty", () => {
    const bytes = writeSafetensors({});
    expect(new TextDecoder().decode(bytes.subarray(8)).trim()).toBe("{}");
    expect(readSafetensors(bytes).tensors.size).toBe(0);
  });

  it("rejects bad tensors on write with a CheckpointError naming the tensor", () => {
    const bad = [
      [{ x: { dtype: "F32", shape: [3], data: new Float32Array(2) } }, /"x".*3 elements.*2/],
      [{ x: { dtype: "F32", shape: [2], data: new Float64Array(2) } }, /F32 needs a Float32Array, got Float64Array/],
      [{ x: { dtype: "F33", shape: [2], data: new Float32Array(2) } }, /unknown dtype "F33"/],
      [{ x: { dtype: "F32", shape: [-2], data: new Float32Array(2) } }, /shape \[-2\]/],
      [{ x: { dtype: "BOOL", shape: [1], data: new Uint8Array([2]) } }, /BOOL data must be 0 or 1/],
      [{ __metadata__: { dtype: "F32", shape: [0], data: new Float32Array(0) } }, /reserved/],
    ] as const;
    for (const [tensors, pattern] of bad) {
      expect(() => writeSafetensors(tensors as never)).toThrow(CheckpointError);
      expect(() => writeSafetensors(tensors as never)).toThrow(pattern);
    }
    expect(() => writeSafetensors({}, { n: 3 as never })).toThrow(/metadata value for "n" is 3, not a string/);
  });
});

describe("readSafetensors", () => {
  const f32 = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);

  it("accepts a header in any key order, with trailing whitespace, without padding", () => {
    const bytes = rawFile(
      '{"b":{"shape":[1],"dtype":"F32","data_offsets":[4,8]},"a":{"data_offsets":[0,4],"dtype":"F32","shape":[]}} \n\t',
      f32([1, 2]),
    );
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({});
    expect([...tensors.keys()]).toEqual(["a", "b"]);
    expect(tensors.get("a")!.data[0]).toBe(1);
    expect(tensors.get("b")!.data[0]).toBe(2);
  });

  it("copies tensors whose data offset is misaligned instead of failing", () => {
    // a 5-byte data prefix (U8) pushes the F32 tensor to an odd address
    const header = { a: { dtype: "U8", shape: [5], data_offsets: [0, 5] }, b: { dtype: "F32", shape: [2], data_offsets: [5, 13] } };
    const data = new Uint8Array(13);
    data.set([9, 8, 7, 6, 5]);
    data.set(f32([1.5, -2.25]), 5);
    const text = JSON.stringify(header);
    const bytes = rawFile(text.padEnd(Math.ceil(text.length / 8) * 8, " "), data); // data section 8-aligned
    const { tensors } = readSafetensors(bytes);
    const b = tensors.get("b")!;
    expect(Array.from(b.data as Float32Array)).toEqual([1.5, -2.25]);
    expect(b.data.buffer).not.toBe(bytes.buffer);
    expect(Array.from(tensors.get("a")!.data as Uint8Array)).toEqual([9, 8, 7, 6, 5]);
  });

  it("reads from a Uint8Array that is itself a window into a larger buffer", () => {
    const file = writeSafetensors({ x: { dtype: "F64", shape: [2], data: new Float64Array([1, 2]) } });
    for (const shift of [0, 1, 3, 8]) {
      const big = new Uint8Array(file.length + shift);
      big.set(file, shift);
      const t = readSafetensors(big.subarray(shift)).tensors.get("x")!;
      expect(Array.from(t.data as Float64Array)).toEqual([1, 2]);
    }
  });

  it("reads from and writes tensors in shared memory (WebAssembly's SharedArrayBuffer)", () => {
    const shared = new Float32Array(new SharedArrayBuffer(16));
    shared.set([1, 2, 3, 4]);
    const file = writeSafetensors({ x: { dtype: "F32", shape: [2, 2], data: shared as unknown as Float32Array<ArrayBuffer> } });
    const sharedFile = new Uint8Array(new SharedArrayBuffer(file.length));
    sharedFile.set(file);
    const t = readSafetensors(sharedFile).tensors.get("x")!;
    expect(Array.from(t.data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  const malformed: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /too short/],
    ["header size beyond the file", (() => { const b = rawFile("{}"); new DataView(b.buffer).setBigUint64(0, 100n, true); return b; })(), /runs past the end/],
    ["header over 100 MB", (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 100_000_001n, true); return b; })(), /100 MB/],
    ["header size near 2^64", (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 2n ** 64n - 1n, true); return b; })(), /100 MB/],
    ["empty header", rawFile(""), /does not start with '\{'/],
    ["a header that is not an object", rawFile(" 5"), /does not start with '\{'/],
    ["invalid UTF-8", rawFile(new Uint8Array([0x7b, 0xff, 0x7d])), /UTF-8/],
    ["invalid JSON", rawFile('{"a":'), /not valid JSON/],
    ["trailing garbage", rawFile("{} x"), /not valid JSON.*after the JSON value/],
    ["header is an array", rawFile("[]"), /does not start with '\{'/],
    ["entry not an object", rawFile({ a: 3 }), /tensor "a": entry is not an object/],
    ["unknown dtype", rawFile({ a: { dtype: "Q7", shape: [1], data_offsets: [0, 1] } }, [0]), /unknown dtype "Q7"/],
    ["missing dtype", rawFile({ a: { shape: [1], data_offsets: [0, 1] } }, [0]), /unknown dtype undefined/],
    ["negative dim", rawFile({ a: { dtype: "U8", shape: [-1], data_offsets: [0, 0] } }), /shape \[-1\] is not an array of non-negative integers/],
    ["fractional dim", rawFile({ a: { dtype: "U8", shape: [1.5], data_offsets: [0, 1] } }, [0]), /shape \[1\.5\]/],
    ["shape not array", rawFile({ a: { dtype: "U8", shape: "2", data_offsets: [0, 2] } }, [0, 0]), /shape "2"/],
    ["huge shape", rawFile({ a: { dtype: "F64", shape: [2 ** 30, 2 ** 30], data_offsets: [0, 8] } }, new Uint8Array(8)), /too large/],
    ["shape/size mismatch", rawFile({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /needs 12 bytes but data_offsets \[0, 8\] span 8/],
    ["offsets not a pair", rawFile({ a: { dtype: "U8", shape: [1], data_offsets: [0] } }, [0]), /data_offsets \[0\] is not a pair/],
    ["offsets reversed", rawFile({ a: { dtype: "U8", shape: [0], data_offsets: [2, 1] } }, [0, 0]), /end before they begin/],
    ["offsets past the end", rawFile({ a: { dtype: "U8", shape: [4], data_offsets: [0, 4] } }, [0, 0]), /run past the 2 data bytes/],
    ["overlap", rawFile({ a: { dtype: "U8", shape: [2], data_offsets: [0, 2] }, b: { dtype: "U8", shape: [2], data_offsets: [1, 3] } }, [0, 0, 0]), /"b".*overlap/],
    ["gap", rawFile({ a: { dtype: "U8", shape: [1], data_offsets: [0, 1] }, b: { dtype: "U8", shape: [1], data_offsets: [2, 3] } }, [0, 0, 0]), /"b".*gap after byte 1/],
    ["not starting at 0", rawFile({ a: { dtype: "U8", shape: [1], data_offsets: [1, 2] } }, [0, 0]), /gap after byte 0/],
    ["trailing bytes", rawFile({ a: { dtype: "U8", shape: [1], data_offsets: [0, 1] } }, [0, 0]), /cover 1 data bytes but the file has 2/],
    ["metadata not an object", rawFile({ __metadata__: "x" }), /__metadata__ is "x", not an object of strings/],
    ["non-string metadata", rawFile({ __metadata__: { epoch: 3 } }), /__metadata__ value for "epoch" is 3, not a string/],
    ["duplicate names", rawFile('{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), /duplicate key "a"/],
    ["deep nesting", rawFile(`{"__metadata__":${"[".repeat(100_000)}}`), /nesting deeper than 64/],
  ];
  for (const [what, bytes, pattern] of malformed) {
    it(`rejects ${what} with a CheckpointError`, () => expectCheckpointError(bytes, pattern));
  }

  it("accepts a null __metadata__ and a tensor named __proto__ as plain data", () => {
    const bytes = rawFile('{"__metadata__":null,"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [42]);
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({});
    expect(Array.from(tensors.get("__proto__")!.data as Uint8Array)).toEqual([42]);
  });
});

// Byte vectors from the reference implementation's own tests (huggingface/safetensors, safetensors/src/tensor.rs).
describe("conformance with the reference implementation's test vectors", () => {
  const f32 = new Float32Array([0, 1, 2, 3, 4, 5]);
  const bytesOf = (text: string): number[] => Array.from(new TextEncoder().encode(text));
  const data = Array.from(new Uint8Array(f32.buffer));

  it("serializes one F32 tensor exactly as the reference (test_serialization)", () => {
    const out = writeSafetensors({ "attn.0": { dtype: "F32", shape: [1, 2, 3], data: f32 } });
    expect(Array.from(out)).toEqual([64, 0, 0, 0, 0, 0, 0, 0, ...bytesOf('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'), ...data]);
  });

  it("pads the header with spaces to align the data (test_serialization_forced_alignement)", () => {
    const out = writeSafetensors({ attn0: { dtype: "F32", shape: [1, 1, 2, 3], data: f32 } });
    expect(Array.from(out)).toEqual([72, 0, 0, 0, 0, 0, 0, 0, ...bytesOf('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       '), ...data]);
  });

  it("serializes no tensors, with and without metadata (test_empty)", () => {
    expect(Array.from(writeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...bytesOf("{}      ")]);
    expect(Array.from(writeSafetensors({}, { framework: "pt" }))).toEqual([40, 0, 0, 0, 0, 0, 0, 0, ...bytesOf('{"__metadata__":{"framework":"pt"}}     ')]);
  });

  it("reads what the reference reads", () => {
    const scalar = rawFile('{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}', new Uint8Array(4));
    expect(readSafetensors(scalar).tensors.get("test")).toMatchObject({ dtype: "I32", shape: [] });
    const zero = rawFile('{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}');
    expect(readSafetensors(zero).tensors.get("test")!.data.length).toBe(0);
    expect(readSafetensors(rawFile("{}\r \t\n")).tensors.size).toBe(0); // trailing JSON whitespace
    expect(readSafetensors(rawFile("\t\n{}\r ")).tensors.size).toBe(0); // leading JSON whitespace
  });

  it("rejects what the reference rejects", () => {
    const header = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
    const cases: [Uint8Array, RegExp][] = [
      [rawFile(header, new Uint8Array(16 + 34)), /cover 16 data bytes but the file has 50/], // polyglot file
      [rawFile(header, new Uint8Array(14)), /run past the 14 data bytes/],
      [(() => { const b = rawFile(header, new Uint8Array(16)); b.set([0xff, 0xff, 0xff], 5); return b; })(), /100 MB/],
      [new Uint8Array(0), /too short/],
      [new Uint8Array([60, 0, 0, 0, 0, 0, 0, 0]), /runs past the end/],
      [new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0xff]), /UTF-8/],
      [new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]), /not valid JSON/],
      [rawFile('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}', new Uint8Array(4)), /needs 16 bytes/],
      [rawFile('{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}', new Uint8Array(16)), /shape/],
      [rawFile('{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}', new Uint8Array(16)), /shape/],
    ];
    for (const [bytes, pattern] of cases) expectCheckpointError(bytes, pattern);
  });
});

describe("half-precision codecs", () => {
  it("decodes known F16 bit patterns", () => {
    expect(f16ToNumber(0x3c00)).toBe(1);
    expect(f16ToNumber(0xc000)).toBe(-2);
    expect(f16ToNumber(0x7bff)).toBe(65504);
    expect(f16ToNumber(0x0001)).toBe(2 ** -24);
    expect(f16ToNumber(0x0400)).toBe(2 ** -14);
    expect(f16ToNumber(0x7c00)).toBe(Infinity);
    expect(f16ToNumber(0xfc00)).toBe(-Infinity);
    expect(f16ToNumber(0x7e00)).toBeNaN();
    expect(Object.is(f16ToNumber(0x8000), -0)).toBe(true);
  });

  it("encodes every finite and infinite F16 value back to its own bits", () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN payloads
      if (numberToF16(f16ToNumber(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it("rounds to nearest, ties to even, and overflows to infinity", () => {
    expect(numberToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even (1.0)
    expect(numberToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (1 + 2^-9)
    expect(numberToF16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie → up
    expect(numberToF16(65520)).toBe(0x7c00); // halfway past the max rounds to inf
    expect(numberToF16(65519)).toBe(0x7bff);
    expect(numberToF16(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal → 0
    expect(numberToF16(2 ** -25 + 2 ** -30)).toBe(1);
    expect(numberToF16(3 * 2 ** -25)).toBe(2); // subnormal tie → even
    expect(numberToF16(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it("encodes BF16 with round to nearest even and decodes it exactly", () => {
    const bits = fromFloat32([1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, 3.4e38, Number.NaN], "BF16");
    expect(Array.from(bits.slice(0, 6))).toEqual([0x3f80, 0xc000, 0x3f80, 0x3f82, 0x3f81, 0x7f80]);
    expect(toFloat32({ dtype: "BF16", data: bits })[6]).toBeNaN();
  });

  it("encodes random values to the nearest F16 value (property)", () => {
    fc.assert(
      fc.property(fc.float({ min: -65000, max: 65000, noNaN: true }), (x) => {
        const h = numberToF16(x);
        const error = Math.abs(f16ToNumber(h) - x);
        const sign = h & 0x8000;
        const magnitude = h & 0x7fff;
        // no neighbouring half value (one step smaller or larger in magnitude) is strictly closer
        for (const m of [magnitude - 1, magnitude + 1]) {
          if (m < 0 || m > 0x7bff) continue;
          if (Math.abs(f16ToNumber(sign | m) - x) < error) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe("parseStrictJson", () => {
  it("agrees with JSON.parse on arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(parseStrictJson(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it("rejects what JSON.parse rejects", () => {
    for (const text of ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "'a'", "\"\\x\"", "\"a\nb\"", "nul", "{\"a\" 1}", "-", "1e"]) {
      expect(() => JSON.parse(text)).toThrow();
      expect(() => parseStrictJson(text)).toThrow();
    }
  });
});

describe("safetensors files", () => {
  const dir = mkdtempSync(join(tmpdir(), "mesa-st-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("saves atomically and loads back", () => {
    const path = join(dir, "sub", "model.safetensors");
    saveSafetensorsFile(path, { w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } }, { note: "x" });
    const back = loadSafetensorsFile(path);
    expect(back.metadata).toEqual({ note: "x" });
    expect(Array.from(back.tensors.get("w")!.data as Float32Array)).toEqual([1, 2]);
    expect(readFileSync(path).length).toBeGreaterThan(8);
  });

  it("names the file in errors", () => {
    expect(() => loadSafetensorsFile(join(dir, "missing.safetensors"))).toThrow(/missing\.safetensors: no such file/);
    const junk = join(dir, "junk.safetensors");
    writeFileSync(junk, "hello, this is not a tensor file");
    expect(() => loadSafetensorsFile(junk)).toThrow(CheckpointError);
    expect(() => loadSafetensorsFile(junk)).toThrow(/junk\.safetensors: header size/);
    expect(() => loadSafetensorsFile(dir)).toThrow(/is a directory/);
  });
});
