// Shape arithmetic shared by the ops: sizes, axis normalisation and the broadcasting plan that lets an
// elementwise kernel run as `rows × inner` loops with per-row input offsets (no per-element index math).
import { ShapeError } from "./errors.js";

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Row-major strides of a contiguous tensor. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Maps a possibly negative axis into [0, ndim); throws a ShapeError naming the op otherwise. */
export function normAxis(op: string, axis: number, ndim: number, shape?: Shape): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= ndim) {
    throw new ShapeError(
      `${op}: axis ${axis} is out of range for a tensor of ${ndim} dims${shape ? ` (shape ${shapeStr(shape)})` : ""}`,
      `use an axis in [${-ndim}, ${ndim - 1}]`,
    );
  }
  return a;
}

/** [outer, n, inner] split of `shape` around `axis`, for reductions and softmax-like ops. */
export function splitAt(shape: Shape, axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return [outer, shape[axis]!, inner];
}

/**
 * How to run an elementwise op over broadcast inputs: the output is `rows` rows of `inner` elements; input i's
 * row r starts at offsets[i][r] and advances by innerStrides[i] (1, or 0 when broadcast along the inner run).
 * Adjacent dims with the same broadcast pattern are merged, so same-shape inputs give one row of all elements.
 */
export interface BroadcastPlan {
  shape: number[];
  size: number;
  rows: number;
  inner: number;
  offsets: Int32Array[];
  innerStrides: number[];
}

export function broadcastShape(op: string, shapes: readonly Shape[]): number[] {
  let ndim = 0;
  for (const s of shapes) ndim = Math.max(ndim, s.length);
  const out = new Array<number>(ndim).fill(1);
  for (const s of shapes) {
    const pad = ndim - s.length;
    for (let d = 0; d < s.length; d++) {
      const v = s[d]!;
      const o = out[pad + d]!;
      if (v === o || v === 1) continue;
      if (o === 1) out[pad + d] = v;
      else
        throw new ShapeError(
          `${op}: shapes ${shapes.map(shapeStr).join(" and ")} cannot be broadcast together (dim ${pad + d}: ${o} vs ${v})`,
          "each dim must match or be 1 (dims are aligned from the right)",
        );
    }
  }
  return out;
}

export function broadcastPlan(op: string, shapes: readonly Shape[]): BroadcastPlan {
  const shape = broadcastShape(op, shapes);
  const ndim = shape.length;
  const nIn = shapes.length;
  // groups of merged dims: size and, per input, whether the group is broadcast (stride 0)
  const gSize: number[] = [];
  const gFlags: boolean[][] = [];
  for (let d = 0; d < ndim; d++) {
    const od = shape[d]!;
    if (od === 1) continue;
    const flags = shapes.map((s) => {
      const k = d - (ndim - s.length);
      return k < 0 || s[k] === 1;
    });
    const last = gFlags.length - 1;
    if (last >= 0 && flags.every((f, i) => f === gFlags[last]![i])) gSize[last]! *= od;
    else {
      gSize.push(od);
      gFlags.push(flags);
    }
  }
  const size = sizeOf(shape);
  if (gSize.length === 0) {
    return { shape, size, rows: 1, inner: 1, offsets: shapes.map(() => new Int32Array(1)), innerStrides: shapes.map(() => 1) };
  }
  const G = gSize.length;
  const inner = gSize[G - 1]!;
  const rows = size / inner;
  const offsets: Int32Array[] = [];
  const innerStrides: number[] = [];
  for (let i = 0; i < nIn; i++) {
    // contiguous stride of each group within input i (0 when broadcast)
    const st = new Array<number>(G).fill(0);
    let acc = 1;
    for (let g = G - 1; g >= 0; g--) {
      if (!gFlags[g]![i]) {
        st[g] = acc;
        acc *= gSize[g]!;
      }
    }
    innerStrides.push(st[G - 1]! === 0 ? 0 : 1);
    const off = new Int32Array(rows);
    if (G > 1) {
      const idx = new Array<number>(G - 1).fill(0);
      let cur = 0;
      for (let r = 0; r < rows; r++) {
        off[r] = cur;
        // increment the multi-index over groups 0..G-2
        for (let g = G - 2; g >= 0; g--) {
          idx[g]!++;
          cur += st[g]!;
          if (idx[g]! < gSize[g]!) break;
          cur -= st[g]! * gSize[g]!;
          idx[g] = 0;
        }
      }
    }
    offsets.push(off);
  }
  return { shape, size, rows, inner, offsets, innerStrides };
}
