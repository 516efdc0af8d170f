// Loads parameters written by PyTorch (test/fixtures/make_nn_fixtures.py → torch_nn.safetensors) into our layers
// and checks that outputs and parameter gradients match what torch computed on the same inputs.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { type Tensor, intTensor, tensor } from "../../src/core/tensor.js";
import { Attention } from "../../src/nn/attention.js";
import { Conv2d, Embedding, GRUCell, LayerNorm } from "../../src/nn/layers.js";
import { MLP } from "../../src/nn/mlp.js";
import type { Module } from "../../src/nn/module.js";
import { safetensorsToStateDict, stateDictToSafetensors } from "../../src/nn/state.js";

const dir = new URL("../fixtures/", import.meta.url);
const fixtureBytes = readFileSync(new URL("torch_nn.safetensors", dir));
const { tensors, metadata } = safetensorsToStateDict(fixtureBytes, "torch_nn.safetensors");
interface Expected {
  input: unknown;
  output: number[];
  output_shape: number[];
  loss_weights: number[];
  grads: Record<string, number[]>;
}
const expected = JSON.parse(readFileSync(new URL("torch_nn_expected.json", dir), "utf8")).layers as Record<string, Expected>;

function subDict(prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(tensors)) if (k.startsWith(`${prefix}.`)) out[k.slice(prefix.length + 1)] = v;
  return out;
}

function check(name: string, module: Module<never, Tensor>, run: () => Tensor): void {
  module.loadStateDict(subDict(name));
  const e = expected[name]!;
  const out = run();
  expect(out.shape).toEqual(e.output_shape);
  for (let i = 0; i < e.output.length; i++) expect(out.data[i]).toBeCloseTo(e.output[i]!, 5);
  out.backward(Float32Array.from(e.loss_weights));
  const params = new Map(module.namedParameters());
  expect([...params.keys()].sort()).toEqual(Object.keys(e.grads).sort());
  for (const [pname, g] of Object.entries(e.grads)) {
    const ours = params.get(pname)!.grad!.data;
    for (let i = 0; i < g.length; i++) expect(ours[i], `${name}.${pname}[${i}]`).toBeCloseTo(g[i]!, 4);
  }
}

const rng = new Rng(0);
describe("layers match PyTorch on a torch-written safetensors fixture", () => {
  it("MLP (tanh)", () => {
    const m = new MLP([4, 8, 8, 3], rng, { activation: "tanh" });
    check("mlp", m, () => m.forward(tensor(expected["mlp"]!.input as number[][])));
  });
  it("Conv2d (stride 2, padding 1)", () => {
    const m = new Conv2d(2, 3, 3, rng, { stride: 2, padding: 1 });
    check("conv", m, () => m.forward(tensor(expected["conv"]!.input as never)));
  });
  it("LayerNorm", () => {
    const m = new LayerNorm(5);
    check("ln", m, () => m.forward(tensor(expected["ln"]!.input as number[][])));
  });
  it("Embedding", () => {
    const m = new Embedding(6, 4, rng);
    const ids = (expected["emb"]!.input as number[][]);
    check("emb", m as never, () => m.forward(intTensor(ids.flat(), [ids.length, ids[0]!.length])));
  });
  it("GRUCell", () => {
    const m = new GRUCell(3, 4, rng);
    const [x, h] = expected["gru"]!.input as [number[][], number[][]];
    check("gru", m as never, () => m.forward([tensor(x), tensor(h)]));
  });
  it("causal multi-head attention in TransformerLens layout", () => {
    const m = new Attention({ dModel: 6, nHeads: 2, dHead: 3, mask: "causal" }, rng);
    check("attn", m, () => m.forward(tensor(expected["attn"]!.input as never)));
  });
  it("loaded parameters are bit-identical to torch's: re-saving them reproduces the torch-written file byte for byte", () => {
    const layers: [string, Module<never, Tensor>][] = [
      ["mlp", new MLP([4, 8, 8, 3], rng)],
      ["conv", new Conv2d(2, 3, 3, rng, { stride: 2, padding: 1 })],
      ["ln", new LayerNorm(5)],
      ["emb", new Embedding(6, 4, rng) as never],
      ["gru", new GRUCell(3, 4, rng) as never],
      ["attn", new Attention({ dModel: 6, nHeads: 2, dHead: 3 }, rng)],
    ];
    const all: Record<string, Tensor> = {};
    for (const [prefix, m] of layers) {
      m.loadStateDict(subDict(prefix));
      for (const [k, v] of Object.entries(m.stateDict())) all[`${prefix}.${k}`] = v;
    }
    expect(Buffer.from(stateDictToSafetensors(all, metadata)).equals(fixtureBytes)).toBe(true);
  });
});
