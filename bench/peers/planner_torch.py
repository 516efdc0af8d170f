#!/usr/bin/python3
"""PyTorch peer of bench/planner.ts: value iteration (gather + max over the same successor table) and the same
glass-box planner policy (3x3 conv over observation + coordinate channels, global context, 1x1 conv to reward
and termination maps, K hard-max backups, Q at the agent cell -> logits and value), forward+backward on the
observations the TypeScript side wrote, with the successor table it wrote (coin-run's own moves: one per action). Wall ms, best of 7 rounds. Prints one JSON object; {"skipped": why}
when torch is missing. Usage: planner_torch.py OBS_F32 META_JSON THREADS"""
import json
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as err:
    print(json.dumps({"skipped": f"/usr/bin/python3 cannot import torch/numpy ({err})"}))
    raise SystemExit(0)

obs_path, meta, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
F = torch.nn.functional
B, C, H, W = meta["shape"]
K = meta["K"]
S, M = H * W, meta["moves"]
obs = torch.from_numpy(np.fromfile(obs_path, dtype=np.float32).reshape(B, C, H, W).copy())
agent = obs[:, meta["channels"].index("agent")].reshape(B, S).argmax(1)
ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")

# successor table [B, S, M]: the cell each action leads to from each cell
nxt = torch.from_numpy(np.fromfile(meta["next"], dtype=np.int32).reshape(B, S, M).astype(np.int64))
flat = nxt.reshape(B, S * M)
at = torch.gather(nxt, 1, agent.view(B, 1, 1).expand(B, 1, M)).reshape(B, M)


def plan(R, Cn):
    E = R
    for _ in range(K - 1):
        V = torch.gather(E, 1, flat).reshape(B, S, M).max(2).values
        E = R + Cn * V
    return torch.gather(E, 1, at)


R = torch.rand(B, S, requires_grad=True)
Cn = (torch.rand(B, S) * 0.95).requires_grad_()


def vi_step():
    R.grad = None
    Cn.grad = None
    plan(R, Cn).sum().backward()


conv = torch.nn.Conv2d(C + 3, 32, 3, padding=1)
ctx = torch.nn.Linear(C, 32, bias=False)
out = torch.nn.Conv2d(32, 2, 1)
log_beta = torch.zeros(1, requires_grad=True)
bias = torch.zeros(len(meta["actions"]), requires_grad=True)
vscale, vbias = torch.ones(1, requires_grad=True), torch.zeros(1, requires_grad=True)
coords = torch.stack([torch.ones(H, W), ys.reshape(H, W) / max(H - 1, 1), xs.reshape(H, W) / max(W - 1, 1)]).expand(B, 3, H, W)
params = [*conv.parameters(), *ctx.parameters(), *out.parameters(), log_beta, bias, vscale, vbias]


def planner_step():
    for p in params:
        p.grad = None
    h = conv(torch.cat([obs, coords], 1)) + ctx(obs.mean((2, 3))).view(B, 32, 1, 1)
    maps = out(h.relu())
    reward = maps[:, 0].reshape(B, S)
    cont = 0.95 * (1 - torch.sigmoid(maps[:, 1].reshape(B, S)))
    q = plan(reward, cont)
    logits = q * log_beta.exp() + bias
    value = q.max(1, keepdim=True).values * vscale + vbias
    (logits.sum() + value.sum()).backward()


def best(step, rounds=7):
    step()
    b = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        step()
        b = min(b, (time.perf_counter() - t0) * 1000)
    return b


print(json.dumps({"vi_ms": best(vi_step), "planner_ms": best(planner_step), "threads": threads}))
