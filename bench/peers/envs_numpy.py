#!/usr/bin/python3
# The numpy peer of `npm run bench -- envs`: coin-run's `small` levels as bench/peers/ppo_torch.py re-implements
# them in numpy (vectorized over copies like our engine; test/rl/peer_env.test.ts checks it replays our levels and
# dynamics step by step), stepped with pre-drawn random actions, observations written, finished copies reset in
# the same step. `--processes P` steps P independent copies of the whole batch at once, one per process (Python's
# way to use more cores, as gym's AsyncVectorEnv): the aggregate is all steps over the slowest process's time.
# Prints one JSON object: n, processes, env steps, seconds, steps per second (best of --repeats).
import argparse
import json
import multiprocessing as mp
import time

import numpy as np

from ppo_torch import VecEnv

ACTION_BATCHES = 64


def measure(n, index, seconds, barrier):
    env = VecEnv(n, seed=1 + index)
    env.reset()
    rng = np.random.default_rng(7 + index)
    batches = rng.integers(0, env.num_actions, size=(ACTION_BATCHES, n))
    for t in range(max(1, int(200 / np.sqrt(n)))):  # warm-up, as ours
        env.step(batches[t % ACTION_BATCHES])
    chunk = max(1, round(8192 / n / 8))
    if barrier is not None:
        barrier.wait()
    steps = 0
    start = time.perf_counter()
    while True:
        for _ in range(chunk):
            env.step(batches[steps % ACTION_BATCHES])
            steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps * n, elapsed


def worker(n, index, seconds, barrier, queue):
    queue.put(measure(n, index, seconds, barrier))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True, help="copies stepped together")
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    best = 0.0
    for _ in range(args.repeats):
        if args.processes == 1:
            steps, seconds = measure(args.n, 0, args.seconds, None)
            sps = steps / seconds
        else:
            ctx = mp.get_context("fork")
            barrier, queue = ctx.Barrier(args.processes), ctx.Queue()
            procs = [ctx.Process(target=worker, args=(args.n, k, args.seconds, barrier, queue)) for k in range(args.processes)]
            for proc in procs:
                proc.start()
            results = [queue.get() for _ in procs]
            for proc in procs:
                proc.join()
            sps = sum(s for s, _ in results) / max(t for _, t in results)
        best = max(best, sps)
    print(json.dumps({"n": args.n, "processes": args.processes, "seconds": args.seconds, "repeats": args.repeats, "sps": best}))


if __name__ == "__main__":
    main()
