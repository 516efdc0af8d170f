// The standalone measurement that decided src/core/kernels/onednn.ts: oneDNN 2.x (libdnnl.so.2) convolution
// forward / backward-data / backward-weights called directly through koffi (no fusions), for the CNN policy's
// layer shapes, against the blas backend's own convolution path (MESA_ONEDNN is turned off for it) in the same
// process, alternated; prints per layer the median ms of forward + backward, of forward alone, CPU ms, the
// implementations oneDNN chose, the largest relative difference from ours and checksums of oneDNN's bits (compare
// them between thread counts). After `npm run build`:
//   OPENBLAS_NUM_THREADS=1 node scripts/onednn_probe.mjs [threads=1] [reps=20] [layer name filter]   (BATCH=2048)
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const koffi = require("koffi");
const { getBackend } = await import("../dist/src/core/kernels/index.js");
const { acquireResident } = await import("../dist/src/core/pool.js");

const threads = Number(process.argv[2] ?? 1);
const reps = Number(process.argv[3] ?? 20);
const only = process.argv[4];

const gomp = koffi.load("libgomp.so.1");
const omp_set_num_threads = gomp.func("void omp_set_num_threads(int)");
const omp_get_max_threads = gomp.func("int omp_get_max_threads()");
const lib = koffi.load("libdnnl.so.2");
const H = koffi.opaque("dnnl_handle");
const f = (s) => lib.func(s);
const engine_create = f("int dnnl_engine_create(_Out_ dnnl_handle **engine, int kind, size_t index)");
const stream_create = f("int dnnl_stream_create(_Out_ dnnl_handle **stream, dnnl_handle *engine, unsigned int flags)");
const md_init = f("int dnnl_memory_desc_init_by_tag(_Out_ uint8_t *md, int ndims, const int64_t *dims, int dt, int tag)");
const conv_fwd_init = f("int dnnl_convolution_forward_desc_init(_Out_ uint8_t *d, int prop, int alg, const uint8_t *src, const uint8_t *wei, const uint8_t *bias, const uint8_t *dst, const int64_t *strides, const int64_t *pl, const int64_t *pr)");
const conv_bwd_data_init = f("int dnnl_convolution_backward_data_desc_init(_Out_ uint8_t *d, int alg, const uint8_t *dsrc, const uint8_t *wei, const uint8_t *ddst, const int64_t *strides, const int64_t *pl, const int64_t *pr)");
const conv_bwd_w_init = f("int dnnl_convolution_backward_weights_desc_init(_Out_ uint8_t *d, int alg, const uint8_t *src, const uint8_t *dwei, const uint8_t *dbias, const uint8_t *ddst, const int64_t *strides, const int64_t *pl, const int64_t *pr)");
const pd_create = f("int dnnl_primitive_desc_create(_Out_ dnnl_handle **pd, const uint8_t *op, dnnl_handle *attr, dnnl_handle *engine, dnnl_handle *hint)");
const pd_query_md = f("const void *dnnl_primitive_desc_query_md(dnnl_handle *pd, int what, int index)");
const pd_query_str = f("int dnnl_primitive_desc_query(dnnl_handle *pd, int what, int index, _Out_ const char **out)");
const prim_create = f("int dnnl_primitive_create(_Out_ dnnl_handle **p, dnnl_handle *pd)");
const reorder_pd_create = f("int dnnl_reorder_primitive_desc_create(_Out_ dnnl_handle **pd, const void *src, dnnl_handle *se, const void *dst, dnnl_handle *de, dnnl_handle *attr)");
const mem_create = f("int dnnl_memory_create(_Out_ dnnl_handle **m, const void *md, dnnl_handle *engine, void *handle)");
const mem_set = f("int dnnl_memory_set_data_handle(dnnl_handle *m, void *handle)");
const md_size = f("size_t dnnl_memory_desc_get_size(const void *md)");
const md_equal = f("int dnnl_memory_desc_equal(const void *a, const void *b)");
const stream_wait = f("int dnnl_stream_wait(dnnl_handle *stream)");
koffi.struct("dnnl_exec_arg", { arg: "int", memory: "dnnl_handle *" });

const ok = (st, what) => { if (st !== 0) throw new Error(`${what}: dnnl status ${st}`); };
const out = () => [null];

omp_set_num_threads(threads); // oneDNN here runs on `threads` OpenMP threads (the library path uses one)
const eng = out(); ok(engine_create(eng, 1, 0), "engine"); const engine = eng[0];
const st = out(); ok(stream_create(st, engine, 1), "stream"); const stream = st[0];

const F32 = 3, ANY = 1, A = 2, ABCD = 5;
const MD = 696, CD = 5976;
const md = (dims, tag) => { const b = Buffer.alloc(MD); ok(md_init(b, dims.length, BigInt64Array.from(dims.map(BigInt)), F32, tag), "md"); return b; };
const strides = BigInt64Array.from([1n, 1n]);
const pads = BigInt64Array.from([1n, 1n]);
const impl = (pd) => { const o = [null]; ok(pd_query_str(pd, 8, 0, o), "impl"); return o[0]; };
const prim = (pd) => { const p = out(); ok(prim_create(p, pd), "prim"); return p[0]; };
const mem = (mdp, handle) => { const m = out(); ok(mem_create(m, mdp, engine, handle ?? null), "mem"); return m[0]; };
// a library-allocated memory: DNNL_MEMORY_ALLOCATE is (void *) -1
const f2 = lib.func("int dnnl_memory_create(_Out_ dnnl_handle **m, const void *md, dnnl_handle *engine, intptr_t handle)");
function memA(mdp) { const m = out(); ok(f2(m, mdp, engine, -1), "memalloc"); return m[0]; }
const reorder = (from, to) => { const p = out(); ok(reorder_pd_create(p, from, engine, to, engine, null), "reorder pd"); return prim(p[0]); };
const execute2 = lib.func("int dnnl_primitive_execute(dnnl_handle *p, dnnl_handle *stream, int nargs, const dnnl_exec_arg *args)");
const exec = (p, args) => ok(execute2(p, stream, args.length, args.map(([arg, memory]) => ({ arg, memory }))), "exec");
const SRC = 1, DST = 17, WEI = 33, BIAS = 41, DSRC = 129, DDST = 145, DWEI = 161, DBIAS = 169;

function layer(n, c, h, w, o) {
  const uSrc = md([n, c, h, w], ABCD), uWei = md([o, c, 3, 3], ABCD), uBias = md([o], A), uDst = md([n, o, h, w], ABCD);
  const aSrc = md([n, c, h, w], ANY), aWei = md([o, c, 3, 3], ANY), aDst = md([n, o, h, w], ANY);
  const fd = Buffer.alloc(CD); ok(conv_fwd_init(fd, 64, 1, aSrc, aWei, uBias, aDst, strides, pads, pads), "fwd desc");
  const fpd = out(); ok(pd_create(fpd, fd, null, engine, null), "fwd pd");
  const bdd = Buffer.alloc(CD); ok(conv_bwd_data_init(bdd, 1, aSrc, aWei, aDst, strides, pads, pads), "bwd data desc");
  const bdpd = out(); ok(pd_create(bdpd, bdd, null, engine, fpd[0]), "bwd data pd");
  const bwd = Buffer.alloc(CD); ok(conv_bwd_w_init(bwd, 1, aSrc, aWei, uBias, aDst, strides, pads, pads), "bwd w desc");
  const bwpd = out(); ok(pd_create(bwpd, bwd, null, engine, fpd[0]), "bwd w pd");
  const q = (pd, what) => pd_query_md(pd, what, 0);
  const src = q(fpd[0], 129), wei = q(fpd[0], 131), dst = q(fpd[0], 133);
  const bdWei = q(bdpd[0], 131), bdDdst = q(bdpd[0], 134), bdDsrc = q(bdpd[0], 130);
  const bwSrc = q(bwpd[0], 129), bwDwei = q(bwpd[0], 132), bwDdst = q(bwpd[0], 134);
  const info = {
    fwd: impl(fpd[0]), bwd_data: impl(bdpd[0]), bwd_w: impl(bwpd[0]),
    same: { bwSrc_src: md_equal(bwSrc, src), bdDdst_dst: md_equal(bdDdst, dst), bwDdst_dst: md_equal(bwDdst, dst), bdDsrc_src: md_equal(bdDsrc, src) },
  };
  const P = {
    fwd: prim(fpd[0]), bwdData: prim(bdpd[0]), bwdW: prim(bwpd[0]),
    rSrc: reorder(uSrc, src), rWei: reorder(uWei, wei), rDst: reorder(dst, uDst),
    rDdst: reorder(uDst, bdDdst), rBdWei: reorder(uWei, bdWei), rDsrc: reorder(bdDsrc, uSrc), rDwei: reorder(bwDwei, uWei),
    rBwSrc: md_equal(bwSrc, src) ? null : reorder(src, bwSrc), rBwDdst: md_equal(bwDdst, bdDdst) ? null : reorder(bdDdst, bwDdst),
  };
  const M = {
    uSrc: mem(uSrc), uWei: mem(uWei), uBias: mem(uBias), uDst: mem(uDst), uDdst: mem(uDst), uDsrc: mem(uSrc), uDwei: mem(uWei), uDbias: mem(uBias),
    src: memA(src), wei: memA(wei), dst: memA(dst), ddst: memA(bdDdst), bdWei: memA(bdWei), dsrc: memA(bdDsrc), dwei: memA(bwDwei),
    bwSrc: P.rBwSrc ? memA(bwSrc) : null, bwDdst: P.rBwDdst ? memA(bwDdst) : null,
  };
  return { info, P, M };
}

/** forward + backward through oneDNN with NCHW user arrays; returns nothing, fills y, gx, gw, gb */
function step(L, x, w, b, y, gy, gx, gw, gb) {
  const { P, M } = L;
  mem_set(M.uSrc, x); mem_set(M.uWei, w); mem_set(M.uBias, b); mem_set(M.uDst, y);
  exec(P.rSrc, [[SRC, M.uSrc], [DST, M.src]]);
  exec(P.rWei, [[SRC, M.uWei], [DST, M.wei]]);
  exec(P.fwd, [[SRC, M.src], [WEI, M.wei], [BIAS, M.uBias], [DST, M.dst]]);
  exec(P.rDst, [[SRC, M.dst], [DST, M.uDst]]);
  mem_set(M.uDdst, gy); mem_set(M.uDsrc, gx); mem_set(M.uDwei, gw); mem_set(M.uDbias, gb);
  exec(P.rDdst, [[SRC, M.uDdst], [DST, M.ddst]]);
  exec(P.rBdWei, [[SRC, M.uWei], [DST, M.bdWei]]);
  exec(P.bwdData, [[DDST, M.ddst], [WEI, M.bdWei], [DSRC, M.dsrc]]);
  exec(P.rDsrc, [[SRC, M.dsrc], [DST, M.uDsrc]]);
  if (P.rBwSrc) exec(P.rBwSrc, [[SRC, M.src], [DST, M.bwSrc]]);
  if (P.rBwDdst) exec(P.rBwDdst, [[SRC, M.ddst], [DST, M.bwDdst]]);
  exec(P.bwdW, [[SRC, M.bwSrc ?? M.src], [DDST, M.bwDdst ?? M.ddst], [DWEI, M.dwei], [DBIAS, M.uDbias]]);
  exec(P.rDwei, [[SRC, M.dwei], [DST, M.uDwei]]);
  stream_wait(stream);
}

const blas = getBackend("blas");
blas.useOneDnn = false; // ours: the blas backend's own convolution path
blas.setThreads(threads);
const rand = (len, seed) => { const a = new Float32Array(len); let s = seed >>> 0; for (let i = 0; i < len; i++) { s = (s * 1664525 + 1013904223) >>> 0; a[i] = s / 2 ** 31 - 1; } return a; };
const res = (a) => { const r = acquireResident(a.length, false); r.set(a); return r; };
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[s.length >> 1]; };

const B = Number(process.env.BATCH ?? 2048);
const shapes = [
  ["maze-cheese 17x17 stage-0 conv 3->16", B, 3, 17, 17, 16],
  ["maze-cheese 9x9 stage-1 conv 16->32", B, 16, 9, 9, 32],
  ["coin-run 6x11 stage-0 conv 3->16", B, 3, 6, 11, 16],
  ["maze-cheese 5x5 block 32->32", B, 32, 5, 5, 32],
  ["coin-run 3x6 block 16->16", B, 16, 3, 6, 16],
  ["coin-run 3x6 stage-1 conv 16->32", B, 16, 3, 6, 32],
  ["coin-run 2x3 block 32->32", B, 32, 2, 3, 32],
  ["maze-cheese 9x9 block 16->16", B, 16, 9, 9, 16],
].filter((s) => !only || s[0].includes(only));
const results = [];
for (const [name, n, c, h, w, o] of shapes) {
  const L = layer(n, c, h, w, o);
  const x = res(rand(n * c * h * w, 1)), wt = rand(o * c * 9, 2), b = rand(o, 3), gy = res(rand(n * o * h * w, 4));
  const y = res(new Float32Array(n * o * h * w)), gx = res(new Float32Array(n * c * h * w)), gw = new Float32Array(o * c * 9), gb = new Float32Array(o);
  const y2 = res(new Float32Array(n * o * h * w)), gx2 = res(new Float32Array(n * c * h * w)), gw2 = new Float32Array(o * c * 9), gb2 = new Float32Array(o);
  const args = { n, c, h, w, o, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, reluInput: false, relu: false };
  const ours = () => {
    blas.conv2d(x, wt, b, null, y2, args);
    gx2.fill(0); gw2.fill(0); gb2.fill(0);
    blas.conv2dBackward(x, wt, y2, gy, { x: gx2, weight: gw2, bias: gb2, residual: null }, args);
  };
  const dnnl = () => step(L, x, wt, b, y, gy, gx, gw, gb);
  const oursF = () => blas.conv2d(x, wt, b, null, y2, args);
  const dnnlF = () => { const { P, M } = L; mem_set(M.uSrc, x); mem_set(M.uWei, wt); mem_set(M.uBias, b); mem_set(M.uDst, y);
    exec(P.rSrc, [[SRC, M.uSrc], [DST, M.src]]); exec(P.rWei, [[SRC, M.uWei], [DST, M.wei]]);
    exec(P.fwd, [[SRC, M.src], [WEI, M.wei], [BIAS, M.uBias], [DST, M.dst]]); exec(P.rDst, [[SRC, M.dst], [DST, M.uDst]]); };
  const fo = [], fd = [];
  for (let r = 0; r < reps * 3; r++) for (const [fn, t] of r % 2 ? [[oursF, fo], [dnnlF, fd]] : [[dnnlF, fd], [oursF, fo]]) { const t0 = performance.now(); fn(); t.push(performance.now() - t0); }
  for (let i = 0; i < 3; i++) { ours(); dnnl(); }
  const maxRel = (a, r) => { let m = 0, s = 0; for (let i = 0; i < a.length; i++) { m = Math.max(m, Math.abs(a[i] - r[i])); s = Math.max(s, Math.abs(r[i])); } return m / s; };
  const check = { y: maxRel(y, y2), gx: maxRel(gx, gx2), gw: maxRel(gw, gw2), gb: maxRel(gb, gb2) };
  const to = [], td = [], co = [], cd = [];
  for (let r = 0; r < reps; r++) {
    for (const [fn, t, cpu] of r % 2 ? [[ours, to, co], [dnnl, td, cd]] : [[dnnl, td, cd], [ours, to, co]]) {
      const c0 = process.cpuUsage(); const t0 = performance.now(); fn(); t.push(performance.now() - t0); const c1 = process.cpuUsage(c0); cpu.push((c1.user + c1.system) / 1000);
    }
  }
  // bits: checksum of the oneDNN outputs, to compare between thread counts
  const sum = (a) => { let h = 0; const u = new Uint32Array(a.buffer, a.byteOffset, a.length); for (let i = 0; i < u.length; i++) h = (Math.imul(h, 31) + u[i]) >>> 0; return h; };
  results.push({ name, fwd_ours: median(fo), fwd_dnnl: median(fd), ours_ms: median(to), dnnl_ms: median(td), ours_cpu: median(co), dnnl_cpu: median(cd), ratio: median(td) / median(to), check, bits: { y: sum(y), gx: sum(gx), gw: sum(gw), gb: sum(gb) }, impl: L.info });
}
console.log(JSON.stringify({ threads, omp: omp_get_max_threads(), reps, results }, null, 1));
