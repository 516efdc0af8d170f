// Interop with PyTorch: files written by torch (test/fixtures/make_fixtures.py) read here with the values torch
// saw, our writer reproduces them byte for byte, and a file written here loads in torch with the same values.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  fromFloat32,
  readSafetensors,
  saveSafetensorsFile,
  toFloat32,
  writeSafetensors,
  type SafetensorsEntry,
} from "../../src/io/safetensors.js";

const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));
const script = join(fixtures, "make_fixtures.py");

interface Described {
  dtype: string;
  shape: number[];
  values: (number | string | boolean)[];
}

/** Values of a tensor in the JSON form make_fixtures.py uses: exact floats, "nan"/"inf", int64 as strings. */
function describe_(t: SafetensorsEntry): Described {
  let values: (number | string | boolean)[];
  if (t.dtype === "I64" || t.dtype === "U64") values = Array.from(t.data as BigInt64Array, (v) => v.toString());
  else if (t.dtype === "BOOL") values = Array.from(t.data as Uint8Array, (v) => v !== 0);
  else if (!["F64", "F32", "F16", "BF16"].includes(t.dtype)) values = Array.from(t.data as Int32Array);
  else {
    const numbers = t.dtype === "F64" ? Array.from(t.data as Float64Array) : Array.from(toFloat32(t));
    values = numbers.map((v) => (Number.isFinite(v) ? v : Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf"));
  }
  return { dtype: t.dtype, shape: t.shape, values };
}

/** Debian's python with torch, run without the OPENBLAS tuning variables that break its bundled OpenBLAS. */
function python(...args: string[]): ReturnType<typeof spawnSync> {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return spawnSync("/usr/bin/python3", args, { encoding: "utf8", env, timeout: 120_000 });
}

const torchProbe = python("-c", "import torch");
const hasTorch = torchProbe.status === 0;
if (!hasTorch) console.warn("skipped: PyTorch round trip — /usr/bin/python3 cannot `import torch` (install python3-torch)");

describe("safetensors files written by PyTorch", () => {
  const expected = JSON.parse(readFileSync(join(fixtures, "expected.json"), "utf8")) as Record<
    string,
    { metadata: Record<string, string>; tensors: Record<string, Described> }
  >;

  for (const [name, want] of Object.entries(expected)) {
    it(`reads ${name} with the values torch saved`, () => {
      const bytes = readFileSync(join(fixtures, name));
      const file = readSafetensors(bytes, name);
      expect(file.metadata).toEqual(want.metadata);
      expect(new Set(file.tensors.keys())).toEqual(new Set(Object.keys(want.tensors)));
      for (const [tensor, values] of Object.entries(want.tensors)) {
        expect(describe_(file.tensors.get(tensor)!), tensor).toEqual(values);
      }
    });

    it(`writes ${name} back byte for byte`, () => {
      const bytes = readFileSync(join(fixtures, name));
      const file = readSafetensors(bytes, name);
      const again = writeSafetensors(file.tensors, Object.keys(file.metadata).length > 0 ? file.metadata : undefined);
      expect(Buffer.from(again).equals(bytes)).toBe(true);
    });
  }

  it("keeps -0 and the Linear layout [out, in]", () => {
    const file = readSafetensors(readFileSync(join(fixtures, "torch_dtypes.safetensors")));
    expect(Object.is(toFloat32(file.tensors.get("f16")!)[1], -0)).toBe(true);
    const linear = readSafetensors(readFileSync(join(fixtures, "torch_linear.safetensors")));
    expect(linear.tensors.get("weight")!.shape).toEqual([2, 3]);
    expect(linear.tensors.get("bias")!.shape).toEqual([2]);
  });
});

describe.skipIf(!hasTorch)("safetensors files written here, loaded by PyTorch", () => {
  const dir = mkdtempSync(join(tmpdir(), "mesa-interop-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads in torch with identical values, and torch's writer reproduces the bytes", () => {
    const tensors = {
      "blocks.0.attn.W_Q": { dtype: "F32", shape: [2, 3, 2], data: new Float32Array([0.1, -0.2, 0.3, 1e-8, 3e38, -0, 1, 2, 3, 4, 5, 6]) },
      half: { dtype: "F16", shape: [4], data: fromFloat32([1 / 3, -65504, 6e-8, Infinity], "F16") },
      brain: { dtype: "BF16", shape: [2], data: fromFloat32([Math.PI, -1e-20], "BF16") },
      wide: { dtype: "F64", shape: [1], data: new Float64Array([Math.E]) },
      steps: { dtype: "I64", shape: [2], data: new BigInt64Array([9007199254740993n, -1n]) },
      actions: { dtype: "I32", shape: [3], data: new Int32Array([0, -7, 2147483647]) },
      pixels: { dtype: "U8", shape: [2, 2], data: new Uint8Array([0, 64, 128, 255]) },
      done: { dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
      none: { dtype: "F32", shape: [3, 0], data: new Float32Array(0) },
    } as const;
    const metadata = { format: "pt", "mesa/step": "1234" };
    const path = join(dir, "from-ts.safetensors");
    saveSafetensorsFile(path, tensors, metadata);

    const r = python(script, "read", path);
    expect(r.status, String(r.stderr)).toBe(0);
    const loaded = JSON.parse(String(r.stdout)) as { metadata: Record<string, string>; tensors: Record<string, Described>; identicalWhenResaved: boolean };
    expect(loaded.metadata).toEqual(metadata);
    expect(loaded.identicalWhenResaved).toBe(true);
    for (const [name, t] of Object.entries(tensors)) {
      expect(loaded.tensors[name], name).toEqual(describe_(t as unknown as SafetensorsEntry));
    }
  });
});
