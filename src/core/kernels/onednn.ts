// Convolutions through oneDNN (the library PyTorch's CPU convolutions run on), an optional piece of the `blas`
// backend: when the system has oneDNN 2.x (`libdnnl.so.2`; Debian/Ubuntu: libdnnl2) every conv2d and its backward
// run as oneDNN's forward, backward-data and backward-weights primitives (its JIT direct convolution in blocked
// layouts: AVX-512 here), called through koffi. Activations stay NCHW between layers, as everywhere else: each call
// reorders its NCHW operands into the blocked layouts the primitive asks for and the result back, as PyTorch does.
// Measured (standalone probe through koffi, batch 2048, forward + backward, one thread, alternated with the blas
// path in one process): maze-cheese's 5×5 block convolution 17.4 ms against 49.6, coin-run's 3×6 layers 3.5 and 6.4
// against 12.5 and 23.7, the 9×9 block 17.1 against 52.9, the 2×3 block 4.3 against 6.2 (load 4–5); at batch 64 it
// also won on every layer of the policy at those batches. At the batches PPO convolves in (its shards: 256 or 1,024
// samples in learning, 32 or 64 in rollouts) our dense product beat it on the 2×3 images of coin-run's last stage
// from 256 samples on, so those stay ours (CONV_RULE below).
// What stays ours: the fusions' elementwise passes (input ReLU, bias, residual, output ReLU and their gradients) run
// on the same DensePasses as the dense path (wasm SIMD), the bias gradient included, and the input and filter
// gradients are added into the caller's buffers by oneDNN reorders with a sum post-op.
// Determinism: oneDNN's backward-weights splits its reduction over the batch between OpenMP threads, so its bits
// depend on the thread count (forward and backward-data measured the same on one and two). Every primitive here
// therefore runs on one OpenMP thread (omp_set_num_threads(1) around each call, the previous count restored after,
// in whichever thread calls — the shard worker loads its own instance); a second core is used by PPO's shards, each on one thread, so 1 and 2 threads still train
// to the same bits. Results differ from the other paths in the last bits (other summation orders), so CNN training
// takes other bits with oneDNN than without it.
// A stage's convolution and the max-pool behind it can run as one call (convPool, through conv2dMaxPool): oneDNN's
// pooling reads the convolution's blocked output and its backward writes the blocked output gradient, so neither
// is reordered to NCHW and back, and the pooling runs on 16-channel blocks (the README's CNN PPO profile measures
// it beside the unfused path). Its max-pool takes the first maximum of a window in row-major order, as
// ours does (tested on tie-heavy inputs), so the pooled output has the unfused bits; the gradients of overlapping
// windows and the bias gradient are summed in oneDNN's order. It passes over a NaN where ours returns it: the blas
// backend fuses only calls whose inputs are finite.
// Primitives, their reorders and memory objects are built once per geometry (cached, the oldest dropped beyond
// PLAN_CACHE); the blocked intermediates live in scratch arrays of this module, handed to oneDNN per call.
// The v2 C API is used through its documented functions and enum values (dnnl_types.h of 2.6); descriptors are
// opaque buffers larger than the library's structs (696 and 5,976 bytes in 2.6), written only by the library.
import { ShapeError } from "../errors.js";
import { acquireResident, releaseBuffer } from "../pool.js";
import { checkConv2d } from "./args.js";
import { type DensePasses, rectified } from "./conv_dense.js";
import { type Conv2dArgs, type Conv2dGrads, type ConvPoolState, type PoolWindow, windowOutputSize } from "./types.js";

/** Shared libraries tried for oneDNN 2.x; MESA_DNNL_LIB (a path or name) replaces them when set. */
const DNNL_CANDIDATES = ["libdnnl.so.2", "libdnnl.2.dylib", "dnnl.dll"];
/** OpenMP runtimes whose omp_set_num_threads governs oneDNN's threads (Debian's build links libgomp). */
const OMP_CANDIDATES = ["libgomp.so.1", "libomp.so.5", "libiomp5.so", "libomp.dylib"];

/**
 * Which convolutions go to oneDNN: every call it can build primitives for, except images of at most
 * SMALL_IMAGE_PIXELS pixels in batches of SMALL_IMAGE_BATCH or more, which our dense product convolves faster. A
 * static rule of the call's shape, so which path (and so which bits) a call takes never depends on timing.
 * Measured (2 Dec, session 10; CPU ms of forward + backward on one thread, oneDNN and the blas path alternated in
 * one process, medians of 15, load 3.7): coin-run small's 2×3 block convolutions (32 channels) 2.48/1.93 and
 * 2.35/1.74 at 1,024 samples, 1.20/0.97 at 512, 0.61/0.57 at 256, 0.33/0.36 at 128, 0.18/0.26 at 64; coin-run's
 * default network (16 channels) 0.26/0.19 at 256; every maze-cheese layer (17×17, 9×9, 5×5 images) 1.6–3.7× faster
 * on oneDNN at 256 and 32 samples.
 */
export const CONV_RULE = "every convolution oneDNN builds primitives for, except images of at most 6 pixels in batches of 256 or more";
const SMALL_IMAGE_PIXELS = 6;
const SMALL_IMAGE_BATCH = 256;

/** Whether CONV_RULE sends a call of this shape to oneDNN (when it builds primitives for it). */
export function oneDnnTakes(a: Conv2dArgs): boolean {
  return !(a.h * a.w <= SMALL_IMAGE_PIXELS && a.n >= SMALL_IMAGE_BATCH);
}

/**
 * Plans (primitives per geometry) kept; beyond this the least recently used is destroyed. A CNN policy has ~6
 * geometries per batch size and PPO uses a few batch sizes (rollout shards, minibatch shards, evaluation).
 */
const PLAN_CACHE = 128;

/** Descriptor buffers: larger than dnnl_memory_desc_t (696 bytes in 2.6) and dnnl_convolution_desc_t (5,976). */
const MD_BYTES = 2048;
const OP_DESC_BYTES = 16384;

// dnnl_types.h (2.6)
const DNNL_SUCCESS = 0;
const ENGINE_CPU = 1;
const STREAM_DEFAULT = 1;
const F32 = 3;
const TAG_ANY = 1;
const TAG_A = 2;
const TAG_ABCD = 5;
const PROP_FORWARD_TRAINING = 64;
const CONVOLUTION_DIRECT = 1;
const POOLING_MAX = 0x1ff;
const QUERY_IMPL_INFO = 8;
const QUERY_SRC_MD = 129;
const QUERY_DIFF_SRC_MD = 130;
const QUERY_WEIGHTS_MD = 131;
const QUERY_DIFF_WEIGHTS_MD = 132;
const QUERY_DST_MD = 133;
const QUERY_DIFF_DST_MD = 134;
const QUERY_WORKSPACE_MD = 135;
const ARG_SRC = 1;
const ARG_DST = 17;
const ARG_WEIGHTS = 33;
const ARG_BIAS = 41;
const ARG_DIFF_SRC = 129;
const ARG_DIFF_DST = 145;
const ARG_DIFF_WEIGHTS = 161;
const ARG_DIFF_BIAS = 169;
const ARG_WORKSPACE = 64;
const STATUS_NAMES = ["success", "out of memory", "invalid arguments", "unimplemented", "iterator ends", "runtime error", "not required"];

type Fn = (...args: unknown[]) => unknown;
interface KoffiLib {
  func(signature: string): Fn;
}
/** The part of koffi used here. */
export interface KoffiApi {
  load(path: string): KoffiLib;
  opaque(name: string): unknown;
  struct(name: string, fields: Record<string, string>): unknown;
  decode(pointer: unknown, type: string): unknown;
  encode(into: Uint8Array, offset: number, type: string, value: unknown): void;
  sizeof(type: string): number;
}

/** The OpenMP runtime's thread-count setter and getter (this thread's setting). */
interface OmpThreads {
  set: Fn;
  get: Fn;
}

/** An opaque oneDNN handle (engine, stream, primitive descriptor, primitive, memory, attribute). */
type Handle = object;
/** A memory descriptor: our buffer, or a pointer the library returned (a query's answer). */
type Md = Buffer | object;

interface Api {
  engineCreate: Fn; streamCreate: Fn; streamWait: Fn; mdInit: Fn; convForwardInit: Fn; convBackwardDataInit: Fn; convBackwardWeightsInit: Fn;
  pdCreate: Fn; pdQueryMd: Fn; pdQuery: Fn; pdDestroy: Fn; primitiveCreate: Fn; primitiveDestroy: Fn; reorderPdCreate: Fn;
  memoryCreate: Fn; memorySetHandle: Fn; memoryDestroy: Fn; mdSize: Fn; mdEqual: Fn; execute: Fn;
  attrCreate: Fn; attrSetPostOps: Fn; postOpsCreate: Fn; postOpsAppendSum: Fn; poolForwardInit: Fn; poolBackwardInit: Fn;
}

/** One reorder or convolution with the memory objects of its arguments (their data pointers set per call). */
interface Step {
  primitive: Handle;
  /** the memory objects of its arguments */
  mems: Handle[];
  /**
   * its arguments as the dnnl_exec_arg_t array dnnl_primitive_execute reads (argument id, memory object), written
   * once: koffi hands the bytes over as they are, where an array of objects would be converted on every call
   */
  packed: Uint8Array;
}

/** Everything one geometry needs: the three convolutions and their reorders. */
interface Plan {
  key: string;
  fwd: Step; bwdData: Step; bwdWeights: Step;
  /** the forward adding the bias itself (built on first use; null when oneDNN would want other layouts for it) */
  fwdBias: Step | null | undefined;
  buildFwdBias: () => Step | null;
  /** NCHW input → the forward's (and backward-weights') source layout; NCHW output gradient → the backward's layout */
  srcIn: Step; weightsFwd: Step; dstOut: Step; diffDstIn: Step; weightsBwd: Step;
  /** blocked input gradient → NCHW: plain (into scratch) and adding into the caller's buffer */
  diffSrcOut: Step; diffSrcAdd: Step; diffWeightsAdd: Step;
  /** extra reorders when backward-weights wants other layouts than the forward and backward-data gave (else null) */
  srcForWeights: Step | null; diffDstForWeights: Step | null;
  /** bytes of the blocked buffers: source, destination, weights (three layouts), diff source, and the extras */
  bytes: { src: number; dst: number; wei: number; weiBwd: number; dwei: number; dsrc: number; srcW: number; ddstW: number };
  /** memory objects per role, to point at scratch per call */
  mem: Record<string, Handle>;
  handles: Handle[];
  pds: Handle[];
  /** the implementations oneDNN chose (forward, backward-data, backward-weights) */
  impl: string[];
  /** the convolution's output and its gradient in blocked layouts (a max-pool behind it reads and writes them) */
  blockedDst: Md; blockedDdst: Md;
  /** max-pools fused behind this convolution, by pooling window (see poolPlan) */
  pools: Map<string, PoolPlan | Error>;
  /** backward-weights computing the bias gradient too, for a fused max-pool (built on first use) */
  bwdWeightsBias: Step | null | undefined;
  buildBwdWeightsBias: () => Step | null;
}

/**
 * A max-pool fused behind a plan's convolution: oneDNN's pooling reads the convolution's blocked output and its
 * backward writes the blocked output gradient the convolution's backward reads, so neither is reordered to NCHW.
 */
interface PoolPlan {
  /** pooling forward (blocked conv output → blocked pooled + workspace), its output reordered to NCHW */
  fwd: Step; out: Step;
  /** the NCHW pooled gradient reordered to the backward's layout, then pooling backward (→ the conv's blocked output gradient) */
  gradIn: Step; bwd: Step;
  bytes: { pdst: number; pdiff: number; ws: number };
  handles: Handle[]; mems: Handle[]; pds: Handle[];
  /** memory objects: the NCHW pooled output and gradient, blocked pooled output and gradient, workspace */
  mem: { uPool: Handle; uPoolGrad: Handle; pdst: Handle; pdiff: Handle; ws: Handle };
  /** the pooling implementations oneDNN chose (forward, backward) */
  impl: string[];
}



export interface OneDnnInfo {
  /** library version, e.g. "2.6.3" */
  version: string;
  library: string;
}

/** Float32 scratch of at least `bytes` bytes in slot `name` (grown on demand, never shrunk; off the JS heap). */
class Scratch {
  private readonly slots = new Map<string, Float32Array>();
  get(name: string, bytes: number): Float32Array {
    let s = this.slots.get(name);
    if (s === undefined || s.byteLength < bytes) {
      s = new Float32Array(new ArrayBuffer(Math.ceil(Math.max(bytes, 256) / 4) * 4)); // a fixed backing store
      this.slots.set(name, s);
    }
    return s;
  }
}

/** whether this instance of the module has declared koffi's named types (see load) */
let typesDeclared = false;
/** One instance per library name and thread (this module is loaded anew in each worker thread). */
const instances = new Map<string, OneDnn>();

export class OneDnn {
  readonly version: string;
  readonly library: string;
  private readonly api: Api;
  private readonly engine: Handle;
  private readonly stream: Handle;
  /** a reorder attribute that adds into the destination (sum post-op, scale 1) */
  private readonly sumAttr: Handle;
  private readonly plans = new Map<string, Plan | Error>();
  private readonly scratch = new Scratch();
  /** free pooling workspaces by length (one is held from a fused forward to its backward) */
  private readonly workspaces = new Map<number, Float32Array[]>();

  private readonly omp: OmpThreads;
  private readonly koffi: KoffiApi;
  /**
   * The array each memory object was last pointed at: pointing it there again is skipped (an array's data does not
   * move once run() has asked for its buffer, so the same array is the same pointer).
   */
  private readonly pointed = new Map<Handle, Float32Array>();

  private constructor(koffi: KoffiApi, lib: KoffiLib, library: string, version: string, omp: OmpThreads) {
    this.omp = omp;
    this.koffi = koffi;
    this.library = library;
    this.version = version;
    const f = (s: string): Fn => lib.func(s);
    this.api = {
      engineCreate: f("int dnnl_engine_create(_Out_ dnnl_handle **engine, int kind, size_t index)"),
      streamCreate: f("int dnnl_stream_create(_Out_ dnnl_handle **stream, dnnl_handle *engine, unsigned int flags)"),
      streamWait: f("int dnnl_stream_wait(dnnl_handle *stream)"),
      mdInit: f("int dnnl_memory_desc_init_by_tag(_Out_ uint8_t *md, int ndims, const int64_t *dims, int dt, int tag)"),
      convForwardInit: f("int dnnl_convolution_forward_desc_init(_Out_ uint8_t *d, int prop, int alg, const void *src, const void *wei, const void *bias, const void *dst, const int64_t *strides, const int64_t *pl, const int64_t *pr)"),
      convBackwardDataInit: f("int dnnl_convolution_backward_data_desc_init(_Out_ uint8_t *d, int alg, const void *dsrc, const void *wei, const void *ddst, const int64_t *strides, const int64_t *pl, const int64_t *pr)"),
      convBackwardWeightsInit: f("int dnnl_convolution_backward_weights_desc_init(_Out_ uint8_t *d, int alg, const void *src, const void *dwei, const void *dbias, const void *ddst, const int64_t *strides, const int64_t *pl, const int64_t *pr)"),
      pdCreate: f("int dnnl_primitive_desc_create(_Out_ dnnl_handle **pd, const void *op, dnnl_handle *attr, dnnl_handle *engine, dnnl_handle *hint)"),
      pdQueryMd: f("const void *dnnl_primitive_desc_query_md(dnnl_handle *pd, int what, int index)"),
      pdQuery: f("int dnnl_primitive_desc_query(dnnl_handle *pd, int what, int index, _Out_ const char **out)"),
      pdDestroy: f("int dnnl_primitive_desc_destroy(dnnl_handle *pd)"),
      primitiveCreate: f("int dnnl_primitive_create(_Out_ dnnl_handle **p, dnnl_handle *pd)"),
      primitiveDestroy: f("int dnnl_primitive_destroy(dnnl_handle *p)"),
      reorderPdCreate: f("int dnnl_reorder_primitive_desc_create(_Out_ dnnl_handle **pd, const void *src, dnnl_handle *se, const void *dst, dnnl_handle *de, dnnl_handle *attr)"),
      memoryCreate: f("int dnnl_memory_create(_Out_ dnnl_handle **m, const void *md, dnnl_handle *engine, void *handle)"),
      memorySetHandle: f("int dnnl_memory_set_data_handle(dnnl_handle *m, void *handle)"),
      memoryDestroy: f("int dnnl_memory_destroy(dnnl_handle *m)"),
      mdSize: f("size_t dnnl_memory_desc_get_size(const void *md)"),
      mdEqual: f("int dnnl_memory_desc_equal(const void *a, const void *b)"),
      // the arguments as bytes already laid out as dnnl_exec_arg_t (Step.packed)
      execute: f("int dnnl_primitive_execute(dnnl_handle *p, dnnl_handle *stream, int nargs, const uint8_t *args)"),
      attrCreate: f("int dnnl_primitive_attr_create(_Out_ dnnl_handle **attr)"),
      attrSetPostOps: f("int dnnl_primitive_attr_set_post_ops(dnnl_handle *attr, dnnl_handle *po)"),
      postOpsCreate: f("int dnnl_post_ops_create(_Out_ dnnl_handle **po)"),
      postOpsAppendSum: f("int dnnl_post_ops_append_sum(dnnl_handle *po, float scale)"),
      poolForwardInit: f("int dnnl_pooling_forward_desc_init(_Out_ uint8_t *d, int prop, int alg, const void *src, const void *dst, const int64_t *strides, const int64_t *kernel, const int64_t *pl, const int64_t *pr)"),
      poolBackwardInit: f("int dnnl_pooling_backward_desc_init(_Out_ uint8_t *d, int alg, const void *dsrc, const void *ddst, const int64_t *strides, const int64_t *kernel, const int64_t *pl, const int64_t *pr)"),
    };
    this.engine = this.out((o) => this.api.engineCreate(o, ENGINE_CPU, 0), "dnnl_engine_create");
    this.stream = this.out((o) => this.api.streamCreate(o, this.engine, STREAM_DEFAULT), "dnnl_stream_create");
    const postOps = this.out((o) => this.api.postOpsCreate(o), "dnnl_post_ops_create");
    this.check(this.api.postOpsAppendSum(postOps, 1), "dnnl_post_ops_append_sum");
    this.sumAttr = this.out((o) => this.api.attrCreate(o), "dnnl_primitive_attr_create");
    this.check(this.api.attrSetPostOps(this.sumAttr, postOps), "dnnl_primitive_attr_set_post_ops");
  }

  /**
   * Loads oneDNN 2.x and its OpenMP runtime through `koffi` and sets this thread's OpenMP threads to one; throws an
   * Error saying why when either is missing or the library is another major version.
   */
  static load(koffi: KoffiApi): OneDnn {
    if (!typesDeclared) {
      // koffi's type names are per process: another instance of this module (the sources and the build loaded
      // side by side, as in the tests) may have declared them already, with these very definitions
      const declare = (d: () => unknown): void => {
        try {
          d();
        } catch {
          // already declared
        }
      };
      declare(() => koffi.opaque("dnnl_handle"));
      declare(() => koffi.struct("dnnl_exec_arg_t", { arg: "int", memory: "dnnl_handle *" }));
      declare(() => koffi.struct("dnnl_version_t", { major: "int", minor: "int", patch: "int", hash: "const char *", cpu_runtime: "unsigned int", gpu_runtime: "unsigned int" }));
      typesDeclared = true;
    }
    const override = process.env.MESA_DNNL_LIB;
    const tried: string[] = [];
    let lib: KoffiLib | undefined;
    let library = "";
    for (const name of override ? [override] : DNNL_CANDIDATES) {
      const loaded = instances.get(name);
      if (loaded !== undefined) return loaded;
      try {
        lib = koffi.load(name);
        library = name;
        break;
      } catch {
        tried.push(name);
      }
    }
    if (lib === undefined) {
      throw new Error(`no oneDNN 2.x library found (tried ${tried.join(", ")}); install one (Debian/Ubuntu: apt-get install libdnnl2)${override ? " or fix MESA_DNNL_LIB" : " or point MESA_DNNL_LIB at one"}; convolutions run on the blas path without it`);
    }
    let version: string;
    try {
      const ptr = lib.func("const dnnl_version_t *dnnl_version()")();
      const v = ptr === null ? null : (koffi.decode(ptr, "dnnl_version_t") as { major: number; minor: number; patch: number });
      if (v === null || v.major !== 2) throw new Error(`${library} is oneDNN ${v === null ? "of unknown version" : `${v.major}.${v.minor}.${v.patch}`}; the convolution path speaks the 2.x API`);
      version = `${v.major}.${v.minor}.${v.patch}`;
    } catch (err) {
      throw new Error(`${library} is not a usable oneDNN 2.x: ${(err as Error).message}`);
    }
    let omp: OmpThreads | undefined;
    for (const name of OMP_CANDIDATES) {
      try {
        const rt = koffi.load(name);
        omp = { set: rt.func("void omp_set_num_threads(int)"), get: rt.func("int omp_get_max_threads()") };
        break;
      } catch {
        // next runtime
      }
    }
    if (omp === undefined) throw new Error(`oneDNN loaded, but no OpenMP runtime to hold it to one thread (tried ${OMP_CANDIDATES.join(", ")})`);
    const dnn = new OneDnn(koffi, lib, library, version, omp);
    instances.set(library, dnn);
    return dnn;
  }

  private check(status: unknown, what: string): void {
    if (status !== DNNL_SUCCESS) throw new Error(`${what} failed: ${STATUS_NAMES[status as number] ?? `status ${String(status)}`}`);
  }

  /** Calls `call` with a one-slot out array and returns what the library wrote there. */
  private out(call: (out: unknown[]) => unknown, what: string): Handle {
    const o: unknown[] = [null];
    this.check(call(o), what);
    if (o[0] === null || o[0] === undefined) throw new Error(`${what} returned no handle`);
    return o[0] as Handle;
  }

  private md(dims: number[], tag: number): Buffer {
    const b = Buffer.alloc(MD_BYTES);
    this.check(this.api.mdInit(b, dims.length, BigInt64Array.from(dims.map(BigInt)), F32, tag), "dnnl_memory_desc_init_by_tag");
    return b;
  }

  /**
   * Runs `fn` with this thread's OpenMP threads at one, restoring the previous count after (another library in the
   * process, an OpenMP build of OpenBLAS say, keeps its own): primitives are built (oneDNN sizes its work split then)
   * and run on one thread.
   */
  private oneThread<T>(fn: () => T): T {
    const before = this.omp.get() as number;
    if (before !== 1) this.omp.set(1);
    try {
      return fn();
    } finally {
      if (before !== 1) this.omp.set(before);
    }
  }

  /** Whether a call can convolve here (a plan builds for its geometry; built and cached on the first ask). */
  fits(a: Conv2dArgs): boolean {
    if (a.n === 0 || a.c === 0 || a.o === 0 || a.h === 0 || a.w === 0) return false;
    return !(this.oneThread(() => this.plan(a)) instanceof Error);
  }

  /** The implementation names oneDNN chose for a geometry (forward, backward-data, backward-weights), or why none. */
  implementations(a: Conv2dArgs): string[] | Error {
    const p = this.oneThread(() => this.plan(a));
    return p instanceof Error ? p : p.impl;
  }

  /** conv2d (see KernelBackend.conv2d); the caller checked fits(a). */
  conv2d(x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, a: Conv2dArgs, passes: DensePasses): void {
    this.oneThread(() => this.forward(x, weight, bias, residual, y, a, passes));
  }

  /** The gradients of conv2d's inputs, added into `grads` (see KernelBackend.conv2dBackward); the caller checked fits(a). */
  conv2dBackward(x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, a: Conv2dArgs, passes: DensePasses): void {
    this.oneThread(() => this.backward(x, weight, y, gy, grads, a, passes));
  }

  private plan(a: Conv2dArgs): Plan | Error {
    const key = `${a.n},${a.c},${a.h},${a.w},${a.o},${a.kh},${a.kw},${a.strideH},${a.strideW},${a.padH},${a.padW}`;
    let p = this.plans.get(key);
    if (p !== undefined) {
      // most recently used last, so eviction takes the least recently used
      this.plans.delete(key);
      this.plans.set(key, p);
      return p;
    }
    try {
      p = this.build(key, a);
    } catch (err) {
      p = err instanceof Error ? err : new Error(String(err));
    }
    if (this.plans.size >= PLAN_CACHE) {
      const [oldKey, old] = this.plans.entries().next().value as [string, Plan | Error];
      this.plans.delete(oldKey);
      if (!(old instanceof Error)) this.destroy(old);
    }
    this.plans.set(key, p);
    return p;
  }

  private destroy(p: Plan): void {
    for (const pool of p.pools.values()) {
      if (pool instanceof Error) continue;
      for (const h of pool.handles) this.api.primitiveDestroy(h);
      for (const m of pool.mems) {
        this.pointed.delete(m);
        this.api.memoryDestroy(m);
      }
      for (const pd of pool.pds) this.api.pdDestroy(pd);
    }
    for (const h of p.handles) this.api.primitiveDestroy(h);
    for (const m of Object.values(p.mem)) {
      this.pointed.delete(m);
      this.api.memoryDestroy(m);
    }
    for (const pd of p.pds) this.api.pdDestroy(pd);
  }

  private build(key: string, a: Conv2dArgs): Plan {
    const { api } = this;
    const [ho, wo] = [Math.floor((a.h + 2 * a.padH - a.kh) / a.strideH) + 1, Math.floor((a.w + 2 * a.padW - a.kw) / a.strideW) + 1];
    const srcDims = [a.n, a.c, a.h, a.w], weiDims = [a.o, a.c, a.kh, a.kw], dstDims = [a.n, a.o, ho, wo];
    const user = { src: this.md(srcDims, TAG_ABCD), wei: this.md(weiDims, TAG_ABCD), dst: this.md(dstDims, TAG_ABCD) };
    const any = { src: this.md(srcDims, TAG_ANY), wei: this.md(weiDims, TAG_ANY), dst: this.md(dstDims, TAG_ANY) };
    const strides = BigInt64Array.from([BigInt(a.strideH), BigInt(a.strideW)]);
    // the padding after the image: what makes (h + pl + pr − kh) / stride + 1 the output size (floor, as ours)
    const padR = BigInt64Array.from([BigInt((ho - 1) * a.strideH + a.kh - a.h - a.padH), BigInt((wo - 1) * a.strideW + a.kw - a.w - a.padW)]);
    const padL = BigInt64Array.from([BigInt(a.padH), BigInt(a.padW)]);
    if (padR[0]! < 0n || padR[1]! < 0n) throw new Error(`the geometry leaves input rows or columns unread (right padding ${padR.join("×")})`);
    const { pds, handles, pd, q, primitive, reorder, implOf, step, memory: created } = this.builder();
    const mem: Record<string, Handle> = {};
    const fd = Buffer.alloc(OP_DESC_BYTES);
    this.check(api.convForwardInit(fd, PROP_FORWARD_TRAINING, CONVOLUTION_DIRECT, any.src, any.wei, null, any.dst, strides, padL, padR), "dnnl_convolution_forward_desc_init");
    const fwdPd = pd(fd, null, "convolution forward");
    const bd = Buffer.alloc(OP_DESC_BYTES);
    this.check(api.convBackwardDataInit(bd, CONVOLUTION_DIRECT, any.src, any.wei, any.dst, strides, padL, padR), "dnnl_convolution_backward_data_desc_init");
    const bdPd = pd(bd, fwdPd, "convolution backward-data");
    const bw = Buffer.alloc(OP_DESC_BYTES);
    this.check(api.convBackwardWeightsInit(bw, CONVOLUTION_DIRECT, any.src, any.wei, null, any.dst, strides, padL, padR), "dnnl_convolution_backward_weights_desc_init");
    const bwPd = pd(bw, fwdPd, "convolution backward-weights");
    const blocked = {
      src: q(fwdPd, QUERY_SRC_MD), wei: q(fwdPd, QUERY_WEIGHTS_MD), dst: q(fwdPd, QUERY_DST_MD),
      ddst: q(bdPd, QUERY_DIFF_DST_MD), weiBwd: q(bdPd, QUERY_WEIGHTS_MD), dsrc: q(bdPd, QUERY_DIFF_SRC_MD),
      srcW: q(bwPd, QUERY_SRC_MD), ddstW: q(bwPd, QUERY_DIFF_DST_MD), dwei: q(bwPd, QUERY_DIFF_WEIGHTS_MD),
    };
    const memory = (name: string, md: Md): Handle => (mem[name] = created(name, md));
    const m = {
      uSrc: memory("uSrc", user.src), uWei: memory("uWei", user.wei), uDst: memory("uDst", user.dst), uDdst: memory("uDdst", user.dst),
      uDsrc: memory("uDsrc", user.src), uDwei: memory("uDwei", user.wei),
      src: memory("src", blocked.src), wei: memory("wei", blocked.wei), dst: memory("dst", blocked.dst), ddst: memory("ddst", blocked.ddst),
      weiBwd: memory("weiBwd", blocked.weiBwd), dsrc: memory("dsrc", blocked.dsrc), dwei: memory("dwei", blocked.dwei),
    };
    const srcSame = api.mdEqual(blocked.srcW, blocked.src) === 1;
    const ddstSame = api.mdEqual(blocked.ddstW, blocked.ddst) === 1;
    const srcW = srcSame ? m.src : memory("srcW", blocked.srcW);
    const ddstW = ddstSame ? m.ddst : memory("ddstW", blocked.ddstW);
    const impl = [fwdPd, bdPd, bwPd].map(implOf);
    const size = (md: Md): number => Number(api.mdSize(md));
    const buildFwdBias = (): Step | null => {
      const biasMd = this.md([a.o], TAG_A);
      const d = Buffer.alloc(OP_DESC_BYTES);
      this.check(api.convForwardInit(d, PROP_FORWARD_TRAINING, CONVOLUTION_DIRECT, any.src, any.wei, biasMd, any.dst, strides, padL, padR), "dnnl_convolution_forward_desc_init (bias)");
      const p = pd(d, null, "convolution forward (bias)");
      const same = [[QUERY_SRC_MD, blocked.src], [QUERY_WEIGHTS_MD, blocked.wei], [QUERY_DST_MD, blocked.dst]] as const;
      if (!same.every(([what, md]) => api.mdEqual(q(p, what), md) === 1)) return null;
      const uBias = memory("uBias", biasMd);
      return step(primitive(p, "convolution forward (bias)"), [[ARG_SRC, m.src], [ARG_WEIGHTS, m.wei], [ARG_BIAS, uBias], [ARG_DST, m.dst]]);
    };
    const buildBwdWeightsBias = (): Step | null => {
      const biasMd = this.md([a.o], TAG_A);
      const d = Buffer.alloc(OP_DESC_BYTES);
      this.check(api.convBackwardWeightsInit(d, CONVOLUTION_DIRECT, any.src, any.wei, biasMd, any.dst, strides, padL, padR), "dnnl_convolution_backward_weights_desc_init (bias)");
      const p = pd(d, fwdPd, "convolution backward-weights (bias)");
      const same = [[QUERY_SRC_MD, blocked.srcW], [QUERY_DIFF_DST_MD, blocked.ddstW], [QUERY_DIFF_WEIGHTS_MD, blocked.dwei]] as const;
      if (!same.every(([what, md]) => api.mdEqual(q(p, what), md) === 1)) return null;
      const dbias = memory("dbias", biasMd);
      return step(primitive(p, "convolution backward-weights (bias)"), [[ARG_SRC, srcW], [ARG_DIFF_DST, ddstW], [ARG_DIFF_WEIGHTS, m.dwei], [ARG_DIFF_BIAS, dbias]]);
    };
    return {
      key,
      fwdBias: undefined,
      buildFwdBias,
      fwd: step(primitive(fwdPd, "convolution forward"), [[ARG_SRC, m.src], [ARG_WEIGHTS, m.wei], [ARG_DST, m.dst]]),
      bwdData: step(primitive(bdPd, "convolution backward-data"), [[ARG_DIFF_DST, m.ddst], [ARG_WEIGHTS, m.weiBwd], [ARG_DIFF_SRC, m.dsrc]]),
      bwdWeights: step(primitive(bwPd, "convolution backward-weights"), [[ARG_SRC, srcW], [ARG_DIFF_DST, ddstW], [ARG_DIFF_WEIGHTS, m.dwei]]),
      srcIn: reorder(user.src, blocked.src, m.uSrc, m.src, false, "input"),
      weightsFwd: reorder(user.wei, blocked.wei, m.uWei, m.wei, false, "filter"),
      dstOut: reorder(blocked.dst, user.dst, m.dst, m.uDst, false, "output"),
      diffDstIn: reorder(user.dst, blocked.ddst, m.uDdst, m.ddst, false, "output gradient"),
      weightsBwd: reorder(user.wei, blocked.weiBwd, m.uWei, m.weiBwd, false, "filter (backward)"),
      diffSrcOut: reorder(blocked.dsrc, user.src, m.dsrc, m.uDsrc, false, "input gradient"),
      diffSrcAdd: reorder(blocked.dsrc, user.src, m.dsrc, m.uDsrc, true, "input gradient (added)"),
      diffWeightsAdd: reorder(blocked.dwei, user.wei, m.dwei, m.uDwei, true, "filter gradient (added)"),
      srcForWeights: srcSame ? null : reorder(blocked.src, blocked.srcW, m.src, srcW, false, "input (backward-weights)"),
      diffDstForWeights: ddstSame ? null : reorder(blocked.ddst, blocked.ddstW, m.ddst, ddstW, false, "output gradient (backward-weights)"),
      bytes: {
        src: size(blocked.src), dst: Math.max(size(blocked.dst), size(blocked.ddst)), wei: size(blocked.wei), weiBwd: size(blocked.weiBwd),
        dwei: size(blocked.dwei), dsrc: size(blocked.dsrc), srcW: srcSame ? 0 : size(blocked.srcW), ddstW: ddstSame ? 0 : size(blocked.ddstW),
      },
      mem, handles, pds, impl,
      blockedDst: blocked.dst, blockedDdst: blocked.ddst, pools: new Map(), bwdWeightsBias: undefined, buildBwdWeightsBias,
    };
  }

  /**
   * Primitive descriptors, primitives and memory objects made for one plan, recorded in `pds` and `handles` (and
   * returned by `memory`) so that destroying the plan frees them.
   */
  private builder() {
    const { api } = this;
    const pds: Handle[] = [];
    const handles: Handle[] = [];
    const pd = (desc: Buffer, hint: Handle | null, what: string): Handle => {
      const h = this.out((o) => api.pdCreate(o, desc, null, this.engine, hint), what);
      pds.push(h);
      return h;
    };
    const q = (p: Handle, what: number): Md => api.pdQueryMd(p, what, 0) as Md;
    // created on no data; each call points it at its array
    const memory = (name: string, md: Md): Handle => this.out((o) => api.memoryCreate(o, md, this.engine, null), `dnnl_memory_create (${name})`);
    const primitive = (p: Handle, what: string): Handle => {
      const h = this.out((o) => api.primitiveCreate(o, p), what);
      handles.push(h);
      return h;
    };
    // a primitive with its arguments (argument id, memory object), packed as dnnl_exec_arg_t once
    const argBytes = this.koffi.sizeof("dnnl_exec_arg_t");
    const step = (p: Handle, args: [number, Handle][]): Step => {
      const packed = new Uint8Array(argBytes * args.length);
      args.forEach(([arg, memory], i) => this.koffi.encode(packed, i * argBytes, "dnnl_exec_arg_t", { arg, memory }));
      return { primitive: p, mems: args.map(([, m]) => m), packed };
    };
    const reorder = (from: Md, to: Md, fromMem: Handle, toMem: Handle, add: boolean, what: string): Step => {
      const p = this.out((o) => api.reorderPdCreate(o, from, this.engine, to, this.engine, add ? this.sumAttr : null), `reorder ${what}`);
      pds.push(p);
      return step(primitive(p, `reorder ${what}`), [[ARG_SRC, fromMem], [ARG_DST, toMem]]);
    };
    const implOf = (p: Handle): string => {
      const o: unknown[] = [null];
      return api.pdQuery(p, QUERY_IMPL_INFO, 0, o) === DNNL_SUCCESS ? String(o[0]) : "?";
    };
    return { pds, handles, pd, q, memory, primitive, reorder, implOf, step };
  }

  /** A max-pool of window `w` behind plan `p`'s convolution (built and kept in the plan on first ask), or why not. */
  private poolPlan(p: Plan, a: Conv2dArgs, w: PoolWindow): PoolPlan | Error {
    const key = `${w.kh},${w.kw},${w.strideH},${w.strideW},${w.padH},${w.padW}`;
    let pp = p.pools.get(key);
    if (pp === undefined) {
      try {
        pp = this.buildPool(p, a, w);
      } catch (err) {
        pp = err instanceof Error ? err : new Error(String(err));
      }
      p.pools.set(key, pp);
    }
    return pp;
  }

  private buildPool(p: Plan, a: Conv2dArgs, w: PoolWindow): PoolPlan {
    const { api } = this;
    const [ho, wo] = windowOutputSize(a);
    const [po, qo] = windowOutputSize({ h: ho, w: wo, ...w });
    if (po < 1 || qo < 1) throw new Error(`a ${w.kh}×${w.kw} pooling window does not fit the ${ho}×${wo} output`);
    const { pds, handles, pd, q, memory, primitive, reorder, implOf, step } = this.builder();
    const mems: Handle[] = [];
    const mem = (name: string, md: Md): Handle => {
      const m = memory(name, md);
      mems.push(m);
      return m;
    };
    const dims = [a.n, a.o, po, qo];
    const user = this.md(dims, TAG_ABCD);
    const any = this.md(dims, TAG_ANY);
    const strides = BigInt64Array.from([BigInt(w.strideH), BigInt(w.strideW)]);
    const kernel = BigInt64Array.from([BigInt(w.kh), BigInt(w.kw)]);
    const padL = BigInt64Array.from([BigInt(w.padH), BigInt(w.padW)]);
    const padR = BigInt64Array.from([BigInt((po - 1) * w.strideH + w.kh - ho - w.padH), BigInt((qo - 1) * w.strideW + w.kw - wo - w.padW)]);
    if (padR[0]! < 0n || padR[1]! < 0n) throw new Error(`the pooling window leaves rows or columns unread (right padding ${padR.join("×")})`);
    const fd = Buffer.alloc(OP_DESC_BYTES);
    this.check(api.poolForwardInit(fd, PROP_FORWARD_TRAINING, POOLING_MAX, p.blockedDst, any, strides, kernel, padL, padR), "dnnl_pooling_forward_desc_init");
    const fwdPd = pd(fd, null, "max-pool forward");
    const bd = Buffer.alloc(OP_DESC_BYTES);
    this.check(api.poolBackwardInit(bd, POOLING_MAX, p.blockedDdst, any, strides, kernel, padL, padR), "dnnl_pooling_backward_desc_init");
    const bwdPd = pd(bd, fwdPd, "max-pool backward");
    const pdstMd = q(fwdPd, QUERY_DST_MD);
    const pdiffMd = q(bwdPd, QUERY_DIFF_DST_MD);
    const wsMd = q(fwdPd, QUERY_WORKSPACE_MD);
    if (wsMd === null || Number(api.mdSize(wsMd)) === 0) throw new Error("oneDNN's max-pool keeps no workspace");
    if (api.mdEqual(q(bwdPd, QUERY_DIFF_SRC_MD), p.blockedDdst) !== 1) throw new Error("the max-pool's backward wants another layout than the convolution's output gradient");
    if (api.mdEqual(q(bwdPd, QUERY_WORKSPACE_MD), wsMd) !== 1) throw new Error("the max-pool's backward reads another workspace than its forward writes");
    const m = { uPool: mem("uPool", user), uPoolGrad: mem("uPoolGrad", user), pdst: mem("pdst", pdstMd), pdiff: mem("pdiff", pdiffMd), ws: mem("ws", wsMd) };
    return {
      fwd: step(primitive(fwdPd, "max-pool forward"), [[ARG_SRC, p.mem.dst!], [ARG_DST, m.pdst], [ARG_WORKSPACE, m.ws]]),
      out: reorder(pdstMd, user, m.pdst, m.uPool, false, "pooled output"),
      gradIn: reorder(user, pdiffMd, m.uPoolGrad, m.pdiff, false, "pooled gradient"),
      bwd: step(primitive(bwdPd, "max-pool backward"), [[ARG_DIFF_DST, m.pdiff], [ARG_WORKSPACE, m.ws], [ARG_DIFF_SRC, p.mem.ddst!]]),
      bytes: { pdst: Number(api.mdSize(pdstMd)), pdiff: Number(api.mdSize(pdiffMd)), ws: Number(api.mdSize(wsMd)) },
      handles, mems, pds, mem: m, impl: [implOf(fwdPd), implOf(bwdPd)],
    };
  }

  /** Points each memory object at its array (unless it points there already), then runs the step. */
  private run(step: Step, data: Map<Handle, Float32Array>): void {
    for (const memory of step.mems) {
      const d = data.get(memory);
      if (d === undefined) throw new Error("oneDNN step run without data for one of its arguments");
      if (this.pointed.get(memory) === d) continue;
      // oneDNN keeps the pointer until the memory object is pointed elsewhere. V8 keeps a small typed array (≤ 64
      // bytes: a bias, a tiny filter) on its moving heap; asking for its buffer moves the data to a fixed backing
      // store for good, so the pointer stays valid for as long as the array lives (and `pointed` keeps it alive)
      void d.buffer;
      this.check(this.api.memorySetHandle(memory, d), "dnnl_memory_set_data_handle");
      this.pointed.set(memory, d);
    }
    this.check(this.api.execute(step.primitive, this.stream, step.mems.length, step.packed), "dnnl_primitive_execute");
  }

  /**
   * A plan's step built on first use: the forward adding the bias (null: not available, the epilogue adds the
   * bias) or the backward-weights writing the bias gradient too (null: not available, no fused max-pool then).
   */
  private optionalStep(p: Plan, which: "fwdBias" | "bwdWeightsBias"): Step | null {
    let step = p[which];
    if (step === undefined) {
      try {
        step = which === "fwdBias" ? p.buildFwdBias() : p.buildBwdWeightsBias();
      } catch {
        step = null;
      }
      p[which] = step;
    }
    return step;
  }

  private forward(x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, a: Conv2dArgs, passes: DensePasses): void {
    const [ho, wo] = checkConv2d(x, weight, bias, residual, y, a);
    const p = this.plan(a);
    if (p instanceof Error) throw p;
    const inLen = a.n * a.c * a.h * a.w;
    const xin = a.reluInput ? rectified(passes, x, inLen) : x;
    const src = this.scratch.get("src", p.bytes.src);
    const dst = this.scratch.get("dst", p.bytes.dst);
    const wei = this.scratch.get("wei", p.bytes.wei);
    const data = new Map<Handle, Float32Array>([
      [p.mem.uSrc!, xin], [p.mem.uWei!, weight], [p.mem.uDst!, y], [p.mem.src!, src], [p.mem.wei!, wei], [p.mem.dst!, dst],
    ]);
    // a bias alone is added by the convolution itself (its output is then final: no pass over it); with a residual
    // or a ReLU one pass adds them all, as on the other paths (whose ReLU maps NaN to 0, which oneDNN's does not)
    const fusedBias = bias !== null && residual === null && !a.relu ? this.optionalStep(p, "fwdBias") : null;
    if (fusedBias !== null) data.set(p.mem.uBias!, bias!);
    this.run(p.srcIn, data);
    this.run(p.weightsFwd, data);
    this.run(fusedBias ?? p.fwd, data);
    this.run(p.dstOut, data);
    this.api.streamWait(this.stream);
    if (xin !== x) releaseBuffer(xin);
    if (fusedBias === null && (bias || residual || a.relu)) passes.epilogue(y, bias, residual, a.relu, a.n, a.o, ho * wo);
  }

  private backward(x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, a: Conv2dArgs, passes: DensePasses): void {
    const [ho, wo] = checkConv2d(x, weight, grads.bias, grads.residual, y, a);
    const p = this.plan(a);
    if (p instanceof Error) throw p;
    const outLen = a.n * a.o * ho * wo;
    const gz = a.relu ? acquireResident(outLen, false) : gy;
    passes.gradPrologue(gy, gz, y, grads.residual, grads.bias, a.relu, a.n, a.o, ho * wo);
    if (grads.x !== null || grads.weight !== null) {
      const data = new Map<Handle, Float32Array>([[p.mem.uDdst!, gz], [p.mem.ddst!, this.scratch.get("dst", p.bytes.dst)]]);
      this.run(p.diffDstIn, data);
      this.backwardBlocked(p, data, x, weight, grads, a, passes, null);
    }
    if (gz !== gy) releaseBuffer(gz);
  }

  /**
   * The input and filter gradients from the output gradient in the backward's blocked layout (memory ddst, set in
   * `data`), added into grads.x and grads.weight. `biasStep` (the backward-weights that writes the bias gradient
   * too, into scratch "dbias") runs in place of the plain one when given, also when no filter gradient is wanted.
   */
  private backwardBlocked(p: Plan, data: Map<Handle, Float32Array>, x: Float32Array, weight: Float32Array, grads: Conv2dGrads, a: Conv2dArgs, passes: DensePasses, biasStep: Step | null): void {
    const inLen = a.n * a.c * a.h * a.w;
    if (grads.x !== null) {
      const dsrc = this.scratch.get("src", p.bytes.dsrc);
      data.set(p.mem.uWei!, weight).set(p.mem.weiBwd!, this.scratch.get("wei", p.bytes.weiBwd)).set(p.mem.dsrc!, dsrc);
      this.run(p.weightsBwd, data);
      this.run(p.bwdData, data);
      if (a.reluInput) {
        // masked where the input was rectified: out through scratch, then added where x > 0
        const gx = acquireResident(inLen, false);
        data.set(p.mem.uDsrc!, gx);
        this.run(p.diffSrcOut, data);
        this.api.streamWait(this.stream);
        passes.maskedAdd(grads.x, gx, x, inLen);
        releaseBuffer(gx);
      } else {
        data.set(p.mem.uDsrc!, grads.x);
        this.run(p.diffSrcAdd, data);
      }
    }
    if (grads.weight !== null || biasStep !== null) {
      const xin = a.reluInput ? rectified(passes, x, inLen) : x;
      const src = this.scratch.get("src", p.bytes.src);
      data.set(p.mem.uSrc!, xin).set(p.mem.src!, src).set(p.mem.dwei!, this.scratch.get("dwei", p.bytes.dwei));
      if (grads.weight !== null) data.set(p.mem.uDwei!, grads.weight);
      if (biasStep !== null) data.set(p.mem.dbias!, this.scratch.get("dbias", 4 * a.o));
      this.run(p.srcIn, data);
      if (p.srcForWeights !== null) {
        data.set(p.mem.srcW!, this.scratch.get("srcW", p.bytes.srcW));
        this.run(p.srcForWeights, data);
      }
      if (p.diffDstForWeights !== null) {
        data.set(p.mem.ddstW!, this.scratch.get("ddstW", p.bytes.ddstW));
        this.run(p.diffDstForWeights, data);
      }
      this.run(biasStep ?? p.bwdWeights, data);
      if (grads.weight !== null) this.run(p.diffWeightsAdd, data);
      this.api.streamWait(this.stream);
      if (xin !== x) releaseBuffer(xin);
    }
    this.api.streamWait(this.stream);
  }

  /**
   * conv2d without ReLUs or residual, then a max-pool of window `w` over its output (see PoolPlan), the pooled NCHW
   * output written into `pooled`; the convolution's output never leaves oneDNN's blocked layout. Returns what the
   * backward needs (the pooling workspace), or null when this call cannot be fused here (the caller then
   * convolves and pools on its own). Max-pool values are the inputs' own, so `pooled` has the unfused path's bits.
   */
  convPool(x: Float32Array, weight: Float32Array, bias: Float32Array | null, pooled: Float32Array, a: Conv2dArgs, w: PoolWindow): ConvPoolState | null {
    if (a.reluInput || a.relu) return null;
    return this.oneThread(() => {
      const p = this.plan(a);
      if (p instanceof Error) return null;
      const fwd = bias !== null ? this.optionalStep(p, "fwdBias") : p.fwd;
      if (fwd === null || (bias !== null && this.optionalStep(p, "bwdWeightsBias") === null)) return null;
      const pp = this.poolPlan(p, a, w);
      if (pp instanceof Error) return null;
      const [ho, wo] = checkConv2d(x, weight, bias, null, null, a);
      const [po, qo] = windowOutputSize({ h: ho, w: wo, ...w });
      if (pooled.length < a.n * a.o * po * qo) throw new ShapeError(`conv2d + max-pool: the pooled output has ${pooled.length} elements, the call needs ${a.n * a.o * po * qo}`);
      const n = Math.ceil(pp.bytes.ws / 4);
      const ws = this.workspaces.get(n)?.pop() ?? new Float32Array(new ArrayBuffer(4 * n));
      const data = new Map<Handle, Float32Array>([
        [p.mem.uSrc!, x], [p.mem.uWei!, weight], [p.mem.src!, this.scratch.get("src", p.bytes.src)], [p.mem.wei!, this.scratch.get("wei", p.bytes.wei)],
        [p.mem.dst!, this.scratch.get("dst", p.bytes.dst)], [pp.mem.pdst, this.scratch.get("pdst", pp.bytes.pdst)], [pp.mem.ws, ws], [pp.mem.uPool, pooled],
      ]);
      if (bias !== null) data.set(p.mem.uBias!, bias);
      this.run(p.srcIn, data);
      this.run(p.weightsFwd, data);
      this.run(fwd, data);
      this.run(pp.fwd, data);
      this.run(pp.out, data);
      this.api.streamWait(this.stream);
      return { pool: { ...w }, ws };
    });
  }

  /**
   * The gradients of a fused convPool's inputs (see Conv2dGrads; no residual) from the pooled output's gradient
   * `gPooled`, added into `grads`: oneDNN's pooling backward scatters it into the convolution's blocked output
   * gradient, its backward-weights sums the bias gradient (other summation orders than the unfused path's, so
   * the filter and bias gradients may differ from it in the last bits).
   */
  convPoolBackward(state: ConvPoolState, x: Float32Array, weight: Float32Array, gPooled: Float32Array, grads: Conv2dGrads, a: Conv2dArgs, passes: DensePasses): void {
    this.oneThread(() => {
      const p = this.plan(a);
      if (p instanceof Error) throw p;
      const pp = this.poolPlan(p, a, state.pool);
      if (pp instanceof Error) throw pp;
      checkConv2d(x, weight, grads.bias, null, null, a);
      const data = new Map<Handle, Float32Array>([
        [pp.mem.uPoolGrad, gPooled], [pp.mem.pdiff, this.scratch.get("pdiff", pp.bytes.pdiff)], [pp.mem.ws, state.ws], [p.mem.ddst!, this.scratch.get("dst", p.bytes.dst)],
      ]);
      this.run(pp.gradIn, data);
      this.run(pp.bwd, data);
      const biasStep = grads.bias !== null ? this.optionalStep(p, "bwdWeightsBias") : null;
      if (grads.bias !== null && biasStep === null) throw new Error("oneDNN's backward-weights with a bias gradient is unavailable for this geometry");
      this.backwardBlocked(p, data, x, weight, grads, a, passes, biasStep);
      if (grads.bias !== null) {
        const db = this.scratch.get("dbias", 4 * a.o);
        for (let o = 0; o < a.o; o++) grads.bias[o]! += db[o]!;
      }
    });
  }

  /** Takes back a fused call's workspace once no backward will read it. */
  releaseConvPool(state: ConvPoolState): void {
    let free = this.workspaces.get(state.ws.length);
    if (free === undefined) this.workspaces.set(state.ws.length, (free = []));
    if (!free.includes(state.ws)) free.push(state.ws);
  }
}
