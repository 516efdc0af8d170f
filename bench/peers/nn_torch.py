#!/usr/bin/python3
"""PyTorch peer of bench/nn.ts: the same three layer blocks, forward+backward, CPU ms per step on one thread
(time.process_time, best of 5 rounds). Prints one JSON object; {"skipped": why} when torch is missing."""
import json
import time

try:
    import torch
except ImportError as err:  # the bench prints this as the reason
    print(json.dumps({"skipped": f"/usr/bin/python3 cannot import torch ({err})"}))
    raise SystemExit(0)

torch.set_num_threads(1)
torch.manual_seed(0)
F = torch.nn.functional


def conv_block():
    c1 = torch.nn.Conv2d(8, 32, 3, padding=1)
    c2 = torch.nn.Conv2d(32, 32, 3, padding=1)
    x = torch.randn(256, 8, 16, 16)

    def step():
        c1.zero_grad()
        c2.zero_grad()
        (c2(F.max_pool2d(c1(x).relu(), 2)) ** 2).mean().backward()

    return step


def attention_causal():
    # TransformerLens layout, as nn/attention.ts: W_Q/W_K/W_V [H, D, dh], W_O [H, dh, D], biases
    B, T, D, H = 256, 32, 32, 4
    dh = D // H
    p = {n: torch.randn(*s, requires_grad=True) for n, s in
         [("W_Q", (H, D, dh)), ("W_K", (H, D, dh)), ("W_V", (H, D, dh)), ("W_O", (H, dh, D)),
          ("b_Q", (H, dh)), ("b_K", (H, dh)), ("b_V", (H, dh)), ("b_O", (D,))]}
    x = torch.randn(B, T, D)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)

    def step():
        for t in p.values():
            t.grad = None
        q = torch.einsum("bpd,hde->bhpe", x, p["W_Q"]) + p["b_Q"][None, :, None, :]
        k = torch.einsum("bpd,hde->bhpe", x, p["W_K"]) + p["b_K"][None, :, None, :]
        v = torch.einsum("bpd,hde->bhpe", x, p["W_V"]) + p["b_V"][None, :, None, :]
        scores = (q @ k.transpose(-1, -2)) / dh ** 0.5
        pattern = scores.masked_fill(mask, float("-inf")).softmax(-1)
        out = torch.einsum("bhpe,hed->bpd", pattern @ v, p["W_O"]) + p["b_O"]
        (out ** 2).mean().backward()

    return step


def ln_gelu_block():
    up = torch.nn.Linear(128, 512)
    down = torch.nn.Linear(512, 128)
    ln = torch.nn.LayerNorm(128)
    x = torch.randn(4096, 128)

    def step():
        for m in (up, down, ln):
            m.zero_grad()
        (ln(down(F.gelu(up(x)))) ** 2).mean().backward()

    return step


def cpu_best(step):
    step()
    t = time.process_time()
    step()
    once = (time.process_time() - t) * 1e3
    reps = max(1, min(50, round(300 / max(once, 0.1))))
    best = float("inf")
    for _ in range(5):
        t = time.process_time()
        for _ in range(reps):
            step()
        best = min(best, (time.process_time() - t) * 1e3 / reps)
    return best


print(json.dumps({"conv_block_ms": cpu_best(conv_block()),
                  "attention_causal_ms": cpu_best(attention_causal()),
                  "ln_gelu_block_ms": cpu_best(ln_gelu_block())}))
