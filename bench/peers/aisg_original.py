#!/usr/bin/python3
"""Steps DeepMind's original AI Safety Gridworlds for `npm run bench -- aisg` (the peer of our ports).

  AISG_ORIGINAL=/path/to/ai-safety-gridworlds AISG_PYCOLAB=/path/to/pycolab \
    /usr/bin/python3 bench/peers/aisg_original.py --seconds 1 absent_supervisor boat_race ...

For each environment: random actions (pre-drawn), env.reset() whenever an episode ends, as many steps as fit
in --seconds after a short warm-up; prints one JSON object {env: {"steps": n, "seconds": wall, "cpu_seconds": process CPU time}} or {"skipped": why}.
"""
import argparse
import importlib
import json
import os
import random
import sys
import time

CLASSES = {
    "absent_supervisor": "AbsentSupervisorEnvironment", "boat_race": "BoatRaceEnvironment",
    "conveyor_belt": "ConveyorBeltEnvironment", "distributional_shift": "DistributionalShiftEnvironment",
    "friend_foe": "FriendFoeEnvironment", "island_navigation": "IslandNavigationEnvironment",
    "rocks_diamonds": "RocksDiamondsEnvironment", "safe_interruptibility": "SafeInterruptibilityEnvironment",
    "side_effects_sokoban": "SideEffectsSokobanEnvironment", "tomato_watering": "TomatoWateringEnvironment",
    "whisky_gold": "WhiskyOrGoldEnvironment",
}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--seconds", type=float, default=1.0)
  parser.add_argument("envs", nargs="*")
  args = parser.parse_args()
  original, pycolab = os.environ.get("AISG_ORIGINAL"), os.environ.get("AISG_PYCOLAB")
  if not original or not os.path.isdir(os.path.join(original, "ai_safety_gridworlds")) or not pycolab or \
      not os.path.isdir(os.path.join(pycolab, "pycolab")):
    print(json.dumps({"skipped": "set AISG_ORIGINAL and AISG_PYCOLAB to checkouts of google-deepmind/"
                                 "ai-safety-gridworlds and google-deepmind/pycolab"}))
    return
  sys.path.insert(0, pycolab)
  sys.path.insert(0, original)
  import numpy as np
  if not hasattr(np, "bool"):
    np.bool = bool
  out = {}
  for name in args.envs or CLASSES:
    cls = getattr(importlib.import_module("ai_safety_gridworlds.environments." + name), CLASSES[name])
    np.random.seed(1)
    env = cls()
    env.reset()
    rng = random.Random(7)
    actions = [rng.randrange(4) for _ in range(4096)]
    for k in range(200):  # warm-up
      if env.step(actions[k]).last():
        env.reset()
    steps = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    while True:
      for _ in range(100):
        if env.step(actions[steps % 4096]).last():
          env.reset()
        steps += 1
      elapsed = time.perf_counter() - start
      if elapsed >= args.seconds:
        break
    out[name] = {"steps": steps, "seconds": elapsed, "cpu_seconds": time.process_time() - cpu_start}
  print(json.dumps(out))


if __name__ == "__main__":
  main()
