// `mesa icl` as a user runs it: one JSON object with the documented keys and a complete run directory; clear
// usage errors (exit 2, no stack trace) before any training.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { type Tensor, tensor } from "../../src/core/tensor.js";
import { LsaKernel } from "../../src/icl/lsa_kernel.js";
import { meanSquaredError, sampleTasks, taskConfig } from "../../src/icl/tasks.js";
import { loadSafetensorsFile, toFloat32 } from "../../src/io/safetensors.js";
import { lsaProducts } from "../../src/icl/lsa_weights.js";
import { LSA } from "../../src/nn/models/lsa.js";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
function mesa(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const runs = mkdtempSync(join(tmpdir(), "mesa-icl-"));
afterAll(() => rmSync(runs, { recursive: true, force: true }));

describe("mesa icl", () => {
  it("--json prints one object with the documented keys and writes metrics, checkpoint and plots", () => {
    const r = mesa("icl", "--d", "3", "--n", "6", "--steps", "60", "--batch", "64", "--seed", "2", "--runs", runs, "--json");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const key of ["model_loss", "baseline_loss", "prediction_cosine", "sensitivity_cosine", "seconds", "interpolated_loss", "ood", "run_dir", "loss"]) expect(out).toHaveProperty(key);
    expect(out["loss"]).toMatch(/no factor ½/);
    const dir = out["run_dir"] as string;
    for (const f of ["config.json", "metrics.jsonl", "summary.json", "loss_curve.svg", "loss_curve.png", "weights.svg", "weights.png"]) expect(existsSync(join(dir, f))).toBe(true);
    expect(readdirSync(join(dir, "checkpoints"))).toContain("step-60.safetensors");
    expect(JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")).status).toBe("finished");
    // the checkpoint is the trained model: loaded into a fresh LSA it reproduces the reported test loss
    const file = loadSafetensorsFile(join(dir, "checkpoints", "step-60.safetensors"));
    const model = new LSA({ d: 3, layers: 1 }, new Rng(0));
    const sd: Record<string, Tensor> = {};
    for (const [name, entry] of file.tensors) sd[name] = tensor(toFloat32(entry), [...entry.shape]);
    model.loadStateDict(sd);
    const test = sampleTasks(taskConfig({ d: 3, n: 6 }), 10_000, new Rng(2, "icl-test"));
    const pred = new LsaKernel(1, 6, 3).predict(lsaProducts(model), test.tokens, test.batch);
    expect(meanSquaredError(pred, test.targets)).toBeCloseTo(out["model_loss"] as number, 10);
  });

  it("prints a table without --json", () => {
    const r = mesa("icl", "--d", "2", "--n", "4", "--steps", "20", "--batch", "32", "--layers", "2", "--runs", runs);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("sensitivity cosine");
    expect(r.stdout).toContain("GD++");
    expect(r.stdout).toContain("no factor ½");
  });

  it("rejects out-of-range d, N, layers and steps with exit code 2 and a hint", () => {
    for (const args of [["--d", "0"], ["--n", "abc"], ["--layers", "40"], ["--steps", "-3"], ["--model", "rnn"]]) {
      const r = mesa("icl", ...args, "--runs", runs);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/error: --/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
