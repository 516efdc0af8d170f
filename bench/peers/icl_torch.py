#!/usr/bin/python3
# The PyTorch peer of `npm run bench -- icl`: the same 1..L-layer linear self-attention (separate W_Q, W_K, W_V,
# W_O of size (d+1)×(d+1), init N(0, 0.002/(d+1)) as the paper's VarianceScaling(0.002)), the same tasks
# (w ~ N(0, I), x ~ U(-r, r)^d, N context points, fresh batch every step), the same loss (query MSE, no ½) and
# optimizer (Adam, betas 0.9/0.98, eps 1e-9, global grad-norm clip) as `mesa icl`. Like ours, the last layer
# updates only the query token (the only row the loss reads). Prints one JSON object: training seconds,
# CPU seconds (all threads), final train loss, test loss of the model and of one-step GD at its best η.
import argparse
import json
import time

import torch
from torch_threads import set_threads


def sample(batch, d, n, x_range, gen):
    w = torch.randn(batch, d, generator=gen)
    x = (torch.rand(batch, n + 1, d, generator=gen) * 2 - 1) * x_range
    y = torch.einsum("btd,bd->bt", x, w)
    tokens = torch.cat([x, y.unsqueeze(-1)], dim=-1)
    tokens[:, n, d] = 0.0
    return tokens, y[:, n]


def forward(params, tokens, n):
    e = tokens
    layers = len(params)
    for l, (wq, wk, wv, wo) in enumerate(params):
        ctx = e[:, :n]
        rows = e[:, n:] if l == layers - 1 else e
        q = rows @ wq.T
        k = ctx @ wk.T
        v = ctx @ wv.T
        scores = q @ k.transpose(1, 2)  # [B, rows, N]
        upd = (scores @ v) @ wo.T / n
        e = torch.cat([e[:, :n], e[:, n:] + upd], dim=1) if l == layers - 1 else e + upd
    return -e[:, n, -1]


def gd_one_step(tokens, n, eta):
    x = tokens[:, :n, :-1]
    y = tokens[:, :n, -1]
    w = eta / n * torch.einsum("bn,bnd->bd", y, x)
    return torch.einsum("bd,bd->b", w, tokens[:, n, :-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--x-range", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=1e10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch's and OpenBLAS's threads (0: torch's default)")
    args = p.parse_args()
    if args.threads > 0:
        set_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    dim = args.d + 1
    std = (0.002 / dim) ** 0.5
    params = [[(torch.randn(dim, dim, generator=gen) * std).requires_grad_() for _ in range(4)] for _ in range(args.layers)]
    flat = [t for layer in params for t in layer]
    opt = torch.optim.Adam(flat, lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    start = time.perf_counter()
    cpu_start = time.process_time()
    loss = torch.tensor(float("nan"))
    for _ in range(args.steps):
        tokens, target = sample(args.batch, args.d, args.n, args.x_range, gen)
        loss = ((forward(params, tokens, args.n) - target) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flat, args.clip)
        opt.step()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    with torch.no_grad():
        tokens, target = sample(10000, args.d, args.n, args.x_range, gen)
        model_loss = ((forward(params, tokens, args.n) - target) ** 2).mean().item()
        # one-step GD: the loss is quadratic in η, so the optimum is closed-form: η* = Σ y·p / Σ p² (p at η = 1)
        p1 = gd_one_step(tokens, args.n, 1.0)
        eta = (target * p1).sum() / (p1 * p1).sum()
        gd_loss = ((eta * p1 - target) ** 2).mean().item()
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "steps": args.steps, "batch": args.batch, "layers": args.layers,
                      "train_loss": loss.item(), "model_loss": model_loss, "gd_loss": gd_loss,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
