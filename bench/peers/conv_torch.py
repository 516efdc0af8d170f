#!/usr/bin/python3
# The PyTorch peer of `npm run bench -- conv`: forward + backward (input, filter and bias gradients) of each
# convolution layer of Mesa Lab's CNN policy, written as a PyTorch user writes the IMPALA block (CleanRL's
# procgen agent): conv2d, then relu / + residual as separate ops. Reads the layer list as JSON from argv[1]
# and prints one JSON object: per layer and thread count, the median milliseconds of one forward + backward
# (`t1`, `t2`) and the median CPU milliseconds of the process (`t1_cpu`, `t2_cpu`).
import json
import sys
import time

import torch
import torch.nn.functional as F

from torch_threads import blas_thread_setters, set_threads


def layer_step(spec, gen):
    n, c, h, w, o = spec["n"], spec["c"], spec["h"], spec["w"], spec["o"]
    x = torch.rand((n, c, h, w), generator=gen) * 2 - 1
    # the policy's first convolution reads the observation: no input gradient there
    x.requires_grad_(spec.get("input_grad", True))
    weight = (torch.rand((o, c, 3, 3), generator=gen) * 2 - 1).requires_grad_(True)
    bias = (torch.rand((o,), generator=gen) * 2 - 1).requires_grad_(True)
    # the residual is the pooled activation, which needs its gradient too
    res = (torch.rand((n, o, h, w), generator=gen) * 2 - 1).requires_grad_(True) if spec["residual"] else None
    gy = torch.rand((n, o, h, w), generator=gen)

    def step():
        x.grad = weight.grad = bias.grad = None
        if res is not None:
            res.grad = None
        inp = F.relu(x) if spec["relu_in"] else x
        y = F.conv2d(inp, weight, bias, padding=1)
        if res is not None:
            y = y + res
        if spec["relu"]:
            y = F.relu(y)
        y.backward(gy)

    return step


def median_ms(step, min_seconds=0.4, min_reps=5):
    """Median wall and CPU (this process, all threads) milliseconds of one step."""
    for _ in range(3):
        step()
    times, cpu = [], []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_seconds:
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    times.sort()
    cpu.sort()
    return times[len(times) // 2], cpu[len(cpu) // 2]


def main():
    layers = json.loads(sys.argv[1])
    thread_counts = [int(t) for t in (sys.argv[2] if len(sys.argv) > 2 else "1,2").split(",")]
    gen = torch.Generator().manual_seed(0)
    setters = blas_thread_setters()
    out = {"torch_version": torch.__version__, "layers": {}}
    steps = {spec["name"]: layer_step(spec, gen) for spec in layers}
    for threads in thread_counts:
        set_threads(threads, setters)
        for name, step in steps.items():
            ms, cpu_ms = median_ms(step)
            out["layers"].setdefault(name, {})[f"t{threads}"] = ms
            out["layers"][name][f"t{threads}_cpu"] = cpu_ms
    print(json.dumps(out))


if __name__ == "__main__":
    main()
