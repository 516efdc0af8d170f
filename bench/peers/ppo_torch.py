#!/usr/bin/python3
# The PyTorch peer of `npm run bench -- ppo` and `ppo-cnn`: CleanRL's ppo.py (same loop, same defaults, same
# orthogonal init) on numpy re-implementations of Mesa Lab's environments (coin-run's small and default train
# levels, maze-cheese's train levels), vectorized over copies like our engine.
# It trains until the mean episodic return of the episodes finished in an update reaches --target-return and
# prints one JSON object: seconds to the target, env steps taken, steps/s, final mean return.
import argparse
import json
import sys
import time

import numpy as np

try:  # the dynamics check (--trajectory) needs only numpy
    import torch
    import torch.nn as nn
    from torch.distributions.categorical import Categorical

    from torch_threads import set_threads
except ImportError:
    torch = None

# ──────────────────────────────────────────── environment ────────────────────────────────────────────
U32 = 0x1_0000_0000
M32 = 0xFFFFFFFF


def mix32(x):
    """Mesa Lab's SplitMix32-style finalizer (src/core/rng.ts)."""
    x = (x + 0x9E3779B9) & M32
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & M32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & M32
    x ^= x >> 16
    return x


def hash_key(seed, *ids):
    h = mix32((seed & M32) ^ 0x6A09E667)
    h = mix32(h ^ (seed // U32))
    for i in ids:
        h = mix32(h ^ (i & M32))
        h = mix32(h ^ (i // U32))
    return h


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    """A port of Mesa Lab's Rng (xoshiro128** seeded through hash_key), so levels match ours exactly."""

    def __init__(self, seed, *ids):
        z = hash_key(seed, *ids)
        s = []
        for _ in range(4):
            z = (z + 0x9E3779B9) & M32
            s.append(mix32(z))
        if s[0] | s[1] | s[2] | s[3] == 0:
            s[0] = 1
        self.s = s

    def uint32(self):
        s0, s1, s2, s3 = self.s
        result = (rotl((s1 * 5) & M32, 7) * 9) & M32
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 11)
        self.s = [s0, s1, s2, s3]
        return result

    def float(self):
        return self.uint32() / U32

    def int(self, n):
        limit = U32 - (U32 % n)
        x = self.uint32()
        while x >= limit:
            x = self.uint32()
        return x % n


# coin-run (src/envs/coin-run.ts): obstacles bottom-aligned on the ground row; '#' solid, '.' open (a pit)
OBSTACLES = [["#", "#"], ["#", "#", "#"], ["."], [".."], ["##", "##"], [".#", "##", "##"]]
# a floating platform (walk under it or jump onto it), drawn among the obstacles when `platforms` is on
PLATFORM = ["###", "...", "###"]
NOOP, LEFT, RIGHT, JUMP = 0, 1, 2, 3
JUMP_HEIGHT = 2
EMPTY, WALL, COIN = 0, 1, 2


class GridVecEnv:
    """What both ports share with Mesa Lab's engine: n copies in arrays, observation channels agent / wall / goal
    (the coin or the cheese, tile code 2), episodes that end on `terminated` or at max_steps and restart at once
    (SAME_STEP auto-reset) from the level of (seed, copy, episode). A subclass draws levels (_reset_copy) and steps."""

    def __init__(self, n, seed, height, width, max_steps):
        self.n, self.seed, self.h, self.w, self.max_steps = n, seed, height, width, max_steps
        self.num_actions = 4
        self.obs_shape = (3, height, width)
        self.obs_size = 3 * height * width
        self.grid = np.zeros((n, height, width), dtype=np.uint8)
        self.ay = np.zeros(n, dtype=np.int64)
        self.ax = np.zeros(n, dtype=np.int64)
        self.episode = np.zeros(n, dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)
        self.ret = np.zeros(n, dtype=np.float64)
        self.idx = np.arange(n)

    def observe(self):
        obs = np.zeros((self.n, 3, self.h, self.w), dtype=np.float32)
        obs[self.idx, 0, self.ay, self.ax] = 1.0
        obs[:, 1] = self.grid == WALL
        obs[:, 2] = self.grid == 2
        return obs.reshape(self.n, -1)

    def reset(self):
        self.episode[:] = 0
        for i in range(self.n):
            self._reset_copy(i)
        return self.observe()

    def _finish_step(self, reward, terminated):
        """Counts the step, restarts finished copies; returns step()'s (obs, reward, done, finished returns)."""
        self.t += 1
        self.ret += reward
        done = terminated | (self.t >= self.max_steps)
        finished = []
        for i in np.nonzero(done)[0]:
            finished.append(float(self.ret[i]))
            self.episode[i] += 1
            self._reset_copy(i)
        return self.observe(), reward, done, finished


class VecEnv(GridVecEnv):
    """n copies of coin-run, SAME_STEP auto-reset, as Mesa Lab's engine. The defaults are the `small` levels (12×5,
    whole level seen); COIN_RUN_LEVELS["train"] gives the default train levels: a difficulty per level that sets its
    length (8, 16 or 24 columns, the rest wall), platforms, lava pits, and a `view_width`-column window centred on
    the agent (outside the level seen as wall)."""

    def __init__(self, n, seed, height=5, width=12, obstacle_density=0.5, random_coin_fraction=0.0, random_coin_in_air=True,
                 pits_kill=False, max_steps=40, view_width=0, max_difficulty=1, platforms=False, end_terminates=True):
        super().__init__(n, seed, height, width, max_steps)
        self.density, self.coin_fraction = obstacle_density, random_coin_fraction
        self.coin_in_air, self.pits_kill = random_coin_in_air, pits_kill
        self.max_difficulty, self.platforms, self.end_terminates = max_difficulty, platforms, end_terminates
        self.view = view_width if 0 < view_width < width else 0
        if self.view:
            self.obs_shape = (3, height, self.view)
            self.obs_size = 3 * height * self.view
        self.end_x = np.full(n, width - 1, dtype=np.int64)

    def observe(self):
        if not self.view:
            return super().observe()
        # the window: columns ax − r … ax + r of the level padded with r wall columns each side (engine.ts)
        r = (self.view - 1) // 2
        full = np.zeros((self.n, 3, self.h, self.w + 2 * r), dtype=np.float32)
        full[:, 1, :, :r] = 1.0
        full[:, 1, :, self.w + r:] = 1.0
        full[self.idx, 0, self.ay, self.ax + r] = 1.0
        full[:, 1, :, r:self.w + r] = self.grid == WALL
        full[:, 2, :, r:self.w + r] = self.grid == COIN
        cols = self.ax[:, None] + np.arange(self.view)[None, :]  # [n, view] in padded coordinates
        window = full[self.idx[:, None], :, :, cols]  # [n, view, 3, h]
        return np.ascontiguousarray(window.transpose(0, 2, 3, 1)).reshape(self.n, -1)

    def _reset_copy(self, i):
        i = int(i)
        h, w = self.h, self.w
        g = self.grid[i]
        rng = Rng(self.seed, i, int(self.episode[i]))
        ground = h - 1
        difficulty = 1 if self.max_difficulty == 1 else 1 + rng.int(self.max_difficulty)
        length = min(w, max(8, int(np.floor(w * difficulty / self.max_difficulty + 0.5))))  # Math.round
        pieces = OBSTACLES + [PLATFORM] if self.platforms else OBSTACLES

        def stamp(rows, x0):
            height = len(rows)
            for r in range(height):
                row = rows[height - 1 - r]
                for c, ch in enumerate(row):
                    g[ground - r, x0 + c] = WALL if ch == "#" else EMPTY

        attempt = 0
        while True:
            g[:] = EMPTY
            g[ground, :] = WALL
            g[:, length:] = WALL
            placed = 0
            platform_cells = []  # each platform's left end, on top of it (where a random deploy coin stands)
            x = 2
            while x <= length - 3:
                if rng.float() < self.density:
                    ob = pieces[rng.int(len(pieces))]
                    width = len(ob[0])
                    if x + width - 1 <= length - 3:
                        stamp(ob, x)
                        if ob is PLATFORM:
                            platform_cells.append((ground - 3, x))
                        placed += 1
                        x += width + 1
                        continue
                x += 1
            if placed == 0:
                stamp(OBSTACLES[0], 2 + rng.int(length - 4))
            # every level with platforms has one: levels are drawn again until it does
            if not self.platforms or platform_cells or attempt >= 1000:
                break
            attempt += 1
        self.ay[i], self.ax[i] = ground - 1, 0
        self.end_x[i] = length - 1
        coin_y, coin_x = ground - 1, length - 1
        if rng.float() < self.coin_fraction:
            if self.platforms:
                cells = platform_cells
            else:
                cells = []
                for cx in range(1, length - 1):
                    if g[ground, cx] != WALL:
                        continue
                    top = 0
                    while g[top, cx] != WALL:
                        top += 1
                    lowest = top - 2 if self.coin_in_air else top - 1
                    for cy in range(lowest, max(0, top - 1 - JUMP_HEIGHT) - 1, -1):
                        cells.append((cy, cx))
            if cells:
                coin_y, coin_x = cells[rng.int(len(cells))]
        g[coin_y, coin_x] = COIN
        self.t[i] = 0
        self.ret[i] = 0.0

    def step(self, actions):
        """Returns (obs, reward, done, returns of the episodes that finished)."""
        h, w, g, idx = self.h, self.w, self.grid, self.idx
        a = np.asarray(actions)
        y, x = self.ay.copy(), self.ax.copy()
        y0 = y.copy()
        yb = np.minimum(y + 1, h - 1)
        # a jump needs ground under the agent: a wall, or the bottom of a pit (pits hold the agent until it jumps)
        on_wall = (y + 1 == h) | (g[idx, yb, x] == WALL)
        jump = (a == JUMP) & on_wall
        coin = np.zeros(self.n, dtype=bool)
        # jump: rise up to JUMP_HEIGHT cells, stopping under a wall, at the top row or on entering the coin
        active = jump.copy()
        for _ in range(JUMP_HEIGHT):
            up = np.maximum(y - 1, 0)
            can = active & (y > 0) & (g[idx, up, x] != WALL)
            y = np.where(can, y - 1, y)
            hit = can & (g[idx, y, x] == COIN)
            coin |= hit
            active = can & ~hit
        # walk: one cell left or right unless a wall is there, then gravity one cell unless the coin was touched
        move = ~jump & ((a == LEFT) | (a == RIGHT))
        nx = np.where(a == LEFT, x - 1, x + 1)
        nxc = np.clip(nx, 0, w - 1)
        walk = move & (nx >= 0) & (nx < w) & (g[idx, y, nxc] != WALL)
        x = np.where(walk, nxc, x)
        coin |= walk & (g[idx, y, x] == COIN)
        yb = np.minimum(y + 1, h - 1)
        fall = ~jump & ~coin & (y + 1 < h) & (g[idx, yb, x] != WALL)
        y = np.where(fall, y + 1, y)
        coin |= fall & (g[idx, y, x] == COIN)
        self.ay, self.ax = y, x
        fell = (y == h - 1) & (y0 != h - 1)
        yb = np.minimum(y + 1, h - 1)
        # the right end: standing in the level's last open column (only an ending when end_terminates)
        reached_end = (x == self.end_x) & (y + 1 < h) & (g[idx, yb, x] == WALL)
        reward = coin.astype(np.float32)
        return self._finish_step(reward, coin | (reached_end & self.end_terminates) | (fell & self.pits_kill))


# coin-run's default train levels (src/envs/coin-run.ts: the parameter defaults, randomCoinFraction 0)
COIN_RUN_TRAIN = dict(height=6, width=24, view_width=11, max_difficulty=3, obstacle_density=0.3, platforms=True,
                      random_coin_fraction=0.0, pits_kill=True, end_terminates=False, max_steps=500)


# maze-cheese (src/envs/maze-cheese.ts, src/envs/grid.ts): a k×k-cell recursive-backtracker maze (k drawn from
# min_cells..max_cells) centred on a (2·max_cells−1)² grid of wall; the mouse starts bottom-left; the cheese is in
# the top-right cheese_region×cheese_region cells (train: 1, the corner cell); eating it pays 1 and ends the episode
UP, DOWN = 0, 1
DY = (-1, 1, 0, 0)
DX = (0, 0, -1, 1)
CHEESE = 2


class MazeVecEnv(GridVecEnv):
    """n copies of maze-cheese's train levels (default parameters), SAME_STEP auto-reset, as Mesa Lab's engine."""

    def __init__(self, n, seed, min_cells=3, max_cells=9, cheese_region=1, max_steps=200):
        super().__init__(n, seed, 2 * max_cells - 1, 2 * max_cells - 1, max_steps)
        self.min_cells, self.max_cells, self.region = min_cells, max_cells, cheese_region

    def _reset_copy(self, i):
        i = int(i)
        g = self.grid[i]
        g[:] = WALL
        rng = Rng(self.seed, i, int(self.episode[i]))
        k = self.min_cells + rng.int(self.max_cells - self.min_cells + 1)
        o = self.max_cells - k
        start = (k - 1) * k
        # carveMaze: depth-first from the start cell, a random unvisited neighbour (up, down, left, right order)
        visited = [False] * (k * k)
        stack = [start]
        visited[start] = True
        g[o + 2 * (start // k), o + 2 * (start % k)] = EMPTY
        while stack:
            cell = stack[-1]
            r, c = divmod(cell, k)
            options = [nb for ok, nb in ((r > 0, cell - k), (r < k - 1, cell + k), (c > 0, cell - 1), (c < k - 1, cell + 1)) if ok and not visited[nb]]
            if not options:
                stack.pop()
                continue
            nxt = options[rng.int(len(options))]
            nr, nc = divmod(nxt, k)
            g[o + r + nr, o + c + nc] = EMPTY
            g[o + 2 * nr, o + 2 * nc] = EMPTY
            visited[nxt] = True
            stack.append(nxt)
        self.ay[i], self.ax[i] = o + 2 * (k - 1), o
        region = k if self.region == 0 else min(self.region, k)
        while True:
            cell = rng.int(region) * k + (k - region + rng.int(region))
            if cell != start:
                break
        g[o + 2 * (cell // k), o + 2 * (cell % k)] = CHEESE
        self.t[i] = 0
        self.ret[i] = 0.0

    def step(self, actions):
        """Returns (obs, reward, done, returns of the episodes that finished)."""
        a = np.asarray(actions)
        ny = self.ay + np.take(DY, a)
        nx = self.ax + np.take(DX, a)
        inside = (ny >= 0) & (ny < self.h) & (nx >= 0) & (nx < self.w)
        nyc, nxc = np.clip(ny, 0, self.h - 1), np.clip(nx, 0, self.w - 1)
        move = inside & (self.grid[self.idx, nyc, nxc] != WALL)
        self.ay = np.where(move, nyc, self.ay)
        self.ax = np.where(move, nxc, self.ax)
        cheese = self.grid[self.idx, self.ay, self.ax] == CHEESE
        self.grid[self.idx[cheese], self.ay[cheese], self.ax[cheese]] = EMPTY
        return self._finish_step(cheese.astype(np.float32), cheese)


# the ported level distributions: (env, distribution) → a maker of n copies from a seed
ENVS = {
    ("coin-run", "small"): lambda n, seed: VecEnv(n, seed),
    ("coin-run", "train"): lambda n, seed: VecEnv(n, seed, **COIN_RUN_TRAIN),
    ("maze-cheese", "train"): lambda n, seed: MazeVecEnv(n, seed),
}
# the distribution --distribution leaves out means (coin-run: the small levels, as before it existed)
DEFAULT_DISTRIBUTION = {"coin-run": "small", "maze-cheese": "train"}


def make_env(env_name, distribution, n, seed):
    key = (env_name, distribution or DEFAULT_DISTRIBUTION[env_name])
    if key not in ENVS:
        sys.exit(f"error: no numpy port of {key[0]}'s {key[1]} levels; ported: {', '.join(f'{e} {d}' for e, d in ENVS)}")
    return ENVS[key](n, seed)


def scripted_returns(seed, env_name="coin-run", distribution=None, obs_every=10):
    """The trajectory of a fixed action pattern (test/rl/peer_env.test.ts replays it on our environment), with the
    observation of every `obs_every`-th step."""
    env = make_env(env_name, distribution, 16, seed)
    first = env.reset()
    pattern = np.array([RIGHT, RIGHT, JUMP, RIGHT, LEFT] if env_name == "coin-run" else [UP, 3, UP, 3, 2, DOWN, UP])
    out = [{"obs": first.astype(int).tolist()}]
    for t in range(300):
        actions = pattern[(np.arange(16) * 7 + t * 3 + (t * np.arange(16)) % 5) % len(pattern)]
        o, reward, done, _ = env.step(actions)
        row = {"reward": reward.tolist(), "done": done.astype(int).tolist(), "agent": (env.ay * env.w + env.ax).tolist()}
        if (t + 1) % obs_every == 0:
            row["obs"] = o.astype(int).tolist()
        out.append(row)
    return out

# ──────────────────────────────────────────── agent (CleanRL) ────────────────────────────────────────────


if torch is not None:

    def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
        torch.nn.init.orthogonal_(layer.weight, std)
        torch.nn.init.constant_(layer.bias, bias_const)
        return layer


    class Agent(nn.Module):
        def __init__(self, obs_size, num_actions, hidden):
            super().__init__()
            self.critic = nn.Sequential(
                layer_init(nn.Linear(obs_size, hidden)), nn.Tanh(),
                layer_init(nn.Linear(hidden, hidden)), nn.Tanh(),
                layer_init(nn.Linear(hidden, 1), std=1.0),
            )
            self.actor = nn.Sequential(
                layer_init(nn.Linear(obs_size, hidden)), nn.Tanh(),
                layer_init(nn.Linear(hidden, hidden)), nn.Tanh(),
                layer_init(nn.Linear(hidden, num_actions), std=0.01),
            )

        def get_value(self, x):
            return self.critic(x)

        def get_action_and_value(self, x, action=None):
            logits = self.actor(x)
            probs = Categorical(logits=logits)
            if action is None:
                action = probs.sample()
            return action, probs.log_prob(action), probs.entropy(), self.critic(x)


    class ResidualBlock(nn.Module):
        """IMPALA's residual block, as CleanRL's ppo_procgen.py writes it."""

        def __init__(self, channels):
            super().__init__()
            self.conv0 = layer_init(nn.Conv2d(channels, channels, 3, padding=1))
            self.conv1 = layer_init(nn.Conv2d(channels, channels, 3, padding=1))

        def forward(self, x):
            return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


    class ConvStage(nn.Module):
        def __init__(self, in_channels, channels):
            super().__init__()
            self.conv = layer_init(nn.Conv2d(in_channels, channels, 3, padding=1))
            self.block = ResidualBlock(channels)

        def forward(self, x):
            return self.block(nn.functional.max_pool2d(self.conv(x), 3, stride=2, padding=1))


    class CnnAgent(nn.Module):
        """Mesa Lab's cnn policy (src/nn/models/cnn_policy.ts): stages 16, 32 (conv, max-pool /2, residual block),
        relu, flatten, dense 128 + relu, shared by a policy head (gain 0.01) and a value head (gain 1)."""

        def __init__(self, shape, num_actions, stages=(16, 32), dense=128):
            super().__init__()
            c, h, w = shape
            self.shape = shape
            layers = []
            for out in stages:
                layers.append(ConvStage(c, out))
                c, h, w = out, (h - 1) // 2 + 1, (w - 1) // 2 + 1
            self.trunk = nn.Sequential(*layers, nn.ReLU(), nn.Flatten(), layer_init(nn.Linear(c * h * w, dense)), nn.ReLU())
            self.actor = layer_init(nn.Linear(dense, num_actions), std=0.01)
            self.critic = layer_init(nn.Linear(dense, 1), std=1.0)

        def get_value(self, x):
            return self.critic(self.trunk(x.view(-1, *self.shape)))

        def get_action_and_value(self, x, action=None):
            hidden = self.trunk(x.view(-1, *self.shape))
            probs = Categorical(logits=self.actor(hidden))
            if action is None:
                action = probs.sample()
            return action, probs.log_prob(action), probs.entropy(), self.critic(hidden)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--total-timesteps", type=int, default=2_000_000)
    p.add_argument("--target-return", type=float, default=float("inf"), help="stop once an update's mean episodic return reaches this")
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--num-steps", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=2.5e-4)
    p.add_argument("--anneal-lr", type=int, default=1)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--update-epochs", type=int, default=4)
    p.add_argument("--norm-adv", type=int, default=1)
    p.add_argument("--clip-coef", type=float, default=0.2)
    p.add_argument("--clip-vloss", type=int, default=1)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--cnn-hidden", default="16,32,128", help="the cnn's stage widths, then its dense size (Mesa Lab's --hidden)")
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp", help="CleanRL's MLP agent or Mesa Lab's IMPALA-style cnn")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--env", choices=tuple(DEFAULT_DISTRIBUTION), default="coin-run", help="the environment (numpy ports of ours)")
    p.add_argument("--distribution", default=None, help="its levels: coin-run small (the default) or train; maze-cheese train")
    p.add_argument("--trajectory", action="store_true", help="only print the trajectory of a fixed action pattern (dynamics check)")
    args = p.parse_args()
    if args.trajectory:
        print(json.dumps(scripted_returns(args.seed, args.env, args.distribution)))
        return
    if torch is None:
        sys.exit("error: PyTorch is not importable by this python3 (Debian: apt-get install python3-torch)")
    if args.threads > 0:
        set_threads(args.threads)

    batch_size = args.num_envs * args.num_steps
    minibatch_size = batch_size // args.num_minibatches
    num_iterations = args.total_timesteps // batch_size

    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    envs = make_env(args.env, args.distribution, args.num_envs, args.seed)
    if args.model == "cnn":
        sizes = [int(v) for v in args.cnn_hidden.split(",")]
        agent = CnnAgent(envs.obs_shape, envs.num_actions, stages=tuple(sizes[:-1]), dense=sizes[-1])
    else:
        agent = Agent(envs.obs_size, envs.num_actions, args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    obs = torch.zeros((args.num_steps, args.num_envs, envs.obs_size))
    actions = torch.zeros((args.num_steps, args.num_envs), dtype=torch.long)
    logprobs = torch.zeros((args.num_steps, args.num_envs))
    rewards = torch.zeros((args.num_steps, args.num_envs))
    dones = torch.zeros((args.num_steps, args.num_envs))
    values = torch.zeros((args.num_steps, args.num_envs))

    start = time.perf_counter()
    cpu_start = time.process_time()  # CPU seconds of this process (all threads): the figure a shared machine leaves honest
    global_step = 0
    next_obs = torch.from_numpy(envs.reset())
    next_done = torch.zeros(args.num_envs)
    mean_return = float("nan")
    reached = False
    first = None  # (wall, CPU seconds, env steps) at the end of the first update
    for iteration in range(1, num_iterations + 1):
        if args.anneal_lr:
            frac = 1.0 - (iteration - 1.0) / num_iterations
            optimizer.param_groups[0]["lr"] = frac * args.learning_rate

        finished = []
        for step in range(args.num_steps):
            global_step += args.num_envs
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            o, reward, done, episode_returns = envs.step(action.numpy())
            finished.extend(episode_returns)
            rewards[step] = torch.from_numpy(reward)
            next_obs = torch.from_numpy(o)
            next_done = torch.from_numpy(done.astype(np.float32))

        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        b_obs = obs.reshape((-1, envs.obs_size))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        b_inds = np.arange(batch_size)
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start_i in range(0, batch_size, minibatch_size):
                mb_inds = b_inds[start_i:start_i + minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], b_actions[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                mb_advantages = b_advantages[mb_inds]
                if args.norm_adv:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()
                newvalue = newvalue.view(-1)
                if args.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                    v_clipped = b_values[mb_inds] + torch.clamp(newvalue - b_values[mb_inds], -args.clip_coef, args.clip_coef)
                    v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                    v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

        if iteration == 1:
            # the end of the first update: what follows is the steady state (no first calls, no warm-up)
            first = (time.perf_counter(), time.process_time(), global_step)
        if finished:
            mean_return = float(np.mean(finished))
            print(f"update {iteration} step {global_step} return {mean_return:.3f} sps {global_step / (time.perf_counter() - start):.0f}", file=sys.stderr)
            if mean_return >= args.target_return:
                reached = True
                break

    end, cpu_end = time.perf_counter(), time.process_time()
    seconds = end - start
    # env steps/s after the first update (null when the run had one update only)
    steady = first is not None and global_step > first[2]
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_end - cpu_start, "steps": global_step, "sps": global_step / seconds, "mean_return": mean_return,
                      "steady_sps": (global_step - first[2]) / (end - first[0]) if steady else None,
                      "steady_cpu_sps": (global_step - first[2]) / (cpu_end - first[1]) if steady else None,
                      "reached": reached, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
