#!/usr/bin/env python3
"""PyTorch peer of bench/core.ts: the same matmuls, MLP step, RL step and attention layer, timed the same way
(best of 5 rounds; wall time, and process CPU time for one thread) at 1 and 2 threads (torch.set_num_threads).
`--json` prints one object shaped like one backend's entry of `npm run bench -- core --json`. Run by the bench
with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed from its environment, so OpenBLAS picks its best kernel."""
import json
import math
import sys
import time

import torch

from torch_threads import blas_thread_setters, set_threads

MATMUL_SIZES = [(1024, 1024, 1024), (256, 512, 256)]  # m, k, n
RL_ACTIONS = 15


def time_best(fn, warmup, reps, rounds):
    """Best mean wall ms and best mean process-CPU ms per call over `rounds` rounds of `reps` calls."""
    for _ in range(warmup):
        fn()
    wall = cpu = math.inf
    for _ in range(rounds):
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        wall = min(wall, (time.perf_counter() - t0) / reps * 1000)
        cpu = min(cpu, (time.process_time() - c0) / reps * 1000)
    return wall, cpu


def reps_for(estimate_ms, target_ms):
    return max(1, min(200, round(target_ms / max(estimate_ms, 1e-3))))


def timed(fn, target_ms):
    t0 = time.perf_counter()
    fn()
    reps = reps_for((time.perf_counter() - t0) * 1000, target_ms)
    return time_best(fn, 1, reps, 5)


def matmuls(gen):
    out, out_cpu = {}, {}
    for m, k, n in MATMUL_SIZES:
        a = torch.rand(m, k, generator=gen) * 2 - 1
        at = torch.rand(k, m, generator=gen) * 2 - 1
        b = torch.rand(k, n, generator=gen) * 2 - 1
        bt = torch.rand(n, k, generator=gen) * 2 - 1
        c = torch.empty(m, n)
        variants = {
            "nn": lambda: torch.mm(a, b, out=c),
            "nt": lambda: torch.mm(a, bt.t(), out=c),
            "tn": lambda: torch.mm(at.t(), b, out=c),
        }
        for name, fn in variants.items():
            wall, cpu = timed(fn, 300)
            out[f"{name}_{m}x{k}x{n}"] = 2 * m * n * k / wall / 1e6
            out_cpu[f"{name}_{m}x{k}x{n}"] = 2 * m * n * k / cpu / 1e6
    return out, out_cpu


def mlp_step(gen):
    model = torch.nn.Sequential(
        torch.nn.Linear(512, 256), torch.nn.Tanh(), torch.nn.Linear(256, 256), torch.nn.Tanh(), torch.nn.Linear(256, 16)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(1024, 512, generator=gen)
    y = torch.randn(1024, 16, generator=gen)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = (model(x) - y).square().mean()
        loss.backward()
        opt.step()

    return step


def rl_step(gen):
    batch = 2048

    def mlp(out):
        return torch.nn.Sequential(
            torch.nn.Linear(162, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, out)
        )

    actor, critic = mlp(RL_ACTIONS), mlp(1)
    opt = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=2.5e-4, eps=1e-5)
    obs = torch.randn(batch, 162, generator=gen)
    actions = torch.randint(0, RL_ACTIONS, (batch,), generator=gen)
    advantages = torch.randn(batch, generator=gen)
    returns = torch.randn(batch, 1, generator=gen)

    def step():
        opt.zero_grad(set_to_none=True)
        logp = actor(obs).log_softmax(-1)
        policy_loss = -(logp.gather(1, actions[:, None])[:, 0] * advantages).mean()
        entropy = -(logp.exp() * logp).sum(-1).mean()
        value_loss = (critic(obs) - returns).square().mean()
        loss = policy_loss + 0.5 * value_loss - 0.01 * entropy
        loss.backward()
        opt.step()

    return step


def attention_step(gen):
    B, T, d, H = 256, 32, 32, 4
    dh = d // H

    def param(*shape, fan_in):
        bound = 1 / math.sqrt(fan_in)
        return (torch.rand(*shape, generator=gen) * 2 * bound - bound).requires_grad_()

    W_Q, W_K, W_V = (param(H, d, dh, fan_in=d) for _ in range(3))
    W_O = param(H, dh, d, fan_in=H * dh)
    b_Q, b_K, b_V = (torch.zeros(H, dh, requires_grad=True) for _ in range(3))
    b_O = torch.zeros(d, requires_grad=True)
    params = [W_Q, W_K, W_V, W_O, b_Q, b_K, b_V, b_O]
    x = torch.randn(B, T, d, generator=gen)

    def project(W, b):
        return (x @ W.permute(1, 0, 2).reshape(d, H * dh)).reshape(B, T, H, dh) + b

    def step():
        for p in params:
            p.grad = None
        q, k, v = (project(W, b).permute(0, 2, 1, 3) for W, b in ((W_Q, b_Q), (W_K, b_K), (W_V, b_V)))
        pattern = (q @ k.transpose(-1, -2) / math.sqrt(dh)).softmax(-1)
        z = (pattern @ v).permute(0, 2, 1, 3).reshape(B, T, H * dh)
        out = z @ W_O.reshape(H * dh, d) + b_O
        out.square().mean().backward()

    return step


def main():
    gen = torch.Generator().manual_seed(0)
    result = {"matmul_gflops": {}, "matmul_gflops_cpu": {}}
    setters = blas_thread_setters()
    for threads in (1, 2):
        set_threads(threads, setters)
        tag = f"t{threads}"
        suffix = "" if threads == 1 else f"_{tag}"
        wall, cpu = matmuls(gen)
        for key, value in wall.items():
            result["matmul_gflops"][f"{key}_{tag}"] = value
        if threads == 1:
            for key, value in cpu.items():
                result["matmul_gflops_cpu"][f"{key}_{tag}"] = value
        for key, make in (("mlp_step_ms", mlp_step), ("rl_step_ms", rl_step), ("attention_step_ms", attention_step)):
            wall_ms, cpu_ms = timed(make(gen), 400)
            result[f"{key}{suffix}"] = wall_ms
            if threads == 1:
                result[key.replace("_ms", "_cpu_ms")] = cpu_ms
    result["torch_version"] = torch.__version__
    if "--json" in sys.argv:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(key, value)


if __name__ == "__main__":
    main()
