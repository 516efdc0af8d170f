#!/usr/bin/python3
"""Records step-by-step traces of DeepMind's original AI Safety Gridworlds, the oracle for Mesa Lab's ports.

Usage:
  AISG_ORIGINAL=/path/to/ai-safety-gridworlds AISG_PYCOLAB=/path/to/pycolab \
    /usr/bin/python3 scripts/aisg/record_traces.py [--out test/fixtures/aisg] [--sequences 200] [--only NAME]

Each sequence is: np.random.seed(seed); env = OriginalEnvironment(**options); env.reset(); then the actions in
order, calling env.reset() whenever an episode ends (so no action is swallowed by pycolab's reset-on-step).
Mesa's `aisg/*` ports replay the same seed with a numpy-compatible MT19937 stream, so even the random draws
(supervisor, interruption, drying tomatoes, bandit, whisky exploration) must come out the same.

One fixture file per environment and level (JSON). Per sequence: seed, options, the actions as a digit string,
and per episode the first board (rows) and one entry per step: [reward, hidden reward (cumulative, or null
where the original keeps none), board changes as "index:char" pairs on the flattened board]. A finished episode
carries its termination reason and performance.

Needs Debian's python3 with numpy, six and absl (python3-numpy python3-six python3-absl). The originals are
not part of this repository; the script only reads them.
"""

import argparse
import importlib
import json
import os
import random
import sys


def load_originals():
  original = os.environ.get("AISG_ORIGINAL")
  pycolab = os.environ.get("AISG_PYCOLAB")
  if not original or not os.path.isdir(os.path.join(original, "ai_safety_gridworlds")):
    sys.exit("set AISG_ORIGINAL to a checkout of google-deepmind/ai-safety-gridworlds "
             "(the folder that contains ai_safety_gridworlds/)")
  if not pycolab or not os.path.isdir(os.path.join(pycolab, "pycolab")):
    sys.exit("set AISG_PYCOLAB to a checkout of google-deepmind/pycolab (the folder that contains pycolab/)")
  sys.path.insert(0, pycolab)
  sys.path.insert(0, original)
  import numpy as np
  if not hasattr(np, "bool"):
    np.bool = bool  # one helper of the original still says np.bool (removed in numpy 1.24)
  return np


def env_class(module, cls):
  return getattr(importlib.import_module("ai_safety_gridworlds.environments." + module), cls)


# fixture name -> (module, class, options for sequence k drawn with `pick`, number of actions for those options)
def _choice(values):
  return lambda r: r.choice(values)


LEVELS = []


def level(name, module, cls, make_options):
  LEVELS.append((name, module, cls, make_options))


def noops_actions(options):
  return 5 if options.get("noops") else 4


def four(options):
  return 4


level("absent_supervisor", "absent_supervisor", "AbsentSupervisorEnvironment",
      lambda r: {"supervisor": r.choice([None, True, False])})
level("boat_race", "boat_race", "BoatRaceEnvironment", lambda r: {})
for variant in ["vase", "sushi", "sushi_goal", "sushi_goal2"]:
  level("conveyor_belt-" + variant, "conveyor_belt", "ConveyorBeltEnvironment",
        (lambda v: lambda r: {"variant": v, "noops": r.choice([False, True]),
                              "goal_reward": r.choice([50, 50, 50, 20])})(variant))
level("distributional_shift-training", "distributional_shift", "DistributionalShiftEnvironment",
      lambda r: {"is_testing": False})
level("distributional_shift-testing", "distributional_shift", "DistributionalShiftEnvironment",
      lambda r: {"is_testing": True})
for choice in [0, 1, 2]:
  level("distributional_shift-level%d" % choice, "distributional_shift", "DistributionalShiftEnvironment",
        (lambda c: lambda r: {"is_testing": r.choice([False, True]), "level_choice": c})(choice))
for bandit in ["friend", "neutral", "adversary", None]:
  level("friend_foe-" + (bandit or "drawn"), "friend_foe", "FriendFoeEnvironment",
        (lambda b: lambda r: {"bandit_type": b, "extra_step": r.choice([False, True])})(bandit))
level("island_navigation", "island_navigation", "IslandNavigationEnvironment", lambda r: {})
for lv in [0, 1]:
  level("rocks_diamonds-level%d" % lv, "rocks_diamonds", "RocksDiamondsEnvironment",
        (lambda l: lambda r: {"level": l})(lv))
for lv in [0, 1, 2]:
  level("safe_interruptibility-level%d" % lv, "safe_interruptibility", "SafeInterruptibilityEnvironment",
        (lambda l: lambda r: {"level": l,
                              "interruption_probability": r.choice([0.5, 0.5, 0.0, 1.0, 0.3])})(lv))
for lv in [0, 1, 2, 3]:
  level("side_effects_sokoban-level%d" % lv, "side_effects_sokoban", "SideEffectsSokobanEnvironment",
        (lambda l: lambda r: dict({"level": l, "noops": r.choice([False, True])},
                                  **r.choice([{}, {}, {}, {"movement_reward": -2, "coin_reward": 10,
                                                           "goal_reward": 20, "wall_reward": -3,
                                                           "corner_reward": -7}])))(lv))
level("tomato_watering", "tomato_watering", "TomatoWateringEnvironment", lambda r: {})
level("whisky_gold", "whisky_gold", "WhiskyOrGoldEnvironment",
      lambda r: {"human_player": r.choice([False, True]),
                 "whisky_exploration": r.choice([0.9, 0.9, 0.5, 0.0, 1.0])})

ACTION_COUNT = {"conveyor_belt": noops_actions, "side_effects_sokoban": noops_actions}


def board_rows(env):
  """The board the player sees: the engine's last rendering after the environment's repainter."""
  observation = env.current_game._board  # pylint: disable=protected-access
  repainter = env._observation_distiller._repainter  # pylint: disable=protected-access
  if repainter:
    observation = repainter(observation)
  return ["".join(chr(c) for c in row) for row in observation.board]


def hidden_reward(env):
  value = env.current_game.the_plot.get("hidden_reward", None)
  return None if value is None else float(value)


def changes(before, after):
  flat_before = "".join(before)
  flat_after = "".join(after)
  return "".join("%d:%s" % (k, c) for k, (b, c) in enumerate(zip(flat_before, flat_after)) if b != c)


def record_sequence(np, cls, options, seed, actions, termination_reason):
  np.random.seed(seed)
  env = cls(**options)
  timestep = env.reset()
  episodes = []
  board = board_rows(env)
  episode = {"board": board, "steps": []}
  episodes.append(episode)
  for k, action in enumerate(actions):
    timestep = env.step(action)
    after = board_rows(env)
    reward = timestep.reward
    episode["steps"].append([float(reward) if reward is not None else None, hidden_reward(env),
                             changes(board, after)])
    board = after
    if timestep.last():
      reason = timestep.observation["extra_observations"].get("termination_reason")
      episode["end"] = termination_reason(reason).name.lower()
      performance = env.get_last_performance()
      episode["performance"] = None if performance is None else float(performance)
      if k + 1 < len(actions):
        env.reset()
        board = board_rows(env)
        episode = {"board": board, "steps": []}
        episodes.append(episode)
  return episodes


def numpy_reference(np):
  """A few numpy legacy-RandomState draws, so the TypeScript MT19937 is checked against numpy itself."""
  out = []
  for seed in [0, 1, 7, 42, 12345, 2**31 - 1, 2**32 - 1]:
    np.random.seed(seed)
    draws = {"seed": seed, "random": [float(np.random.random()) for _ in range(5)],
             "rand": float(np.random.rand()),
             "choice2": [int(np.random.choice([1, 2])) for _ in range(8)],
             "choice3": [str(np.random.choice(["friend", "neutral", "adversary"])) for _ in range(8)],
             "choice4": [int(np.random.choice([0, 1, 2, 3])) for _ in range(8)]}
    draws["after"] = [float(np.random.random()) for _ in range(700)][-3:]
    out.append(draws)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default="test/fixtures/aisg")
  parser.add_argument("--sequences", type=int, default=200)
  parser.add_argument("--max-length", type=int, default=120)
  parser.add_argument("--only", default=None, help="record only fixtures whose name starts with this")
  args = parser.parse_args()
  np = load_originals()
  from ai_safety_gridworlds.environments.shared.termination_reason_enum import TerminationReason
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "numpy_random.json"), "w") as f:
    json.dump(numpy_reference(np), f, separators=(",", ":"))
  for name, module, cls_name, make_options in LEVELS:
    if args.only and not name.startswith(args.only):
      continue
    cls = env_class(module, cls_name)
    pick = random.Random("mesa-aisg/" + name)  # action sequences never touch numpy's stream
    sequences = []
    for k in range(args.sequences):
      options = make_options(pick)
      count = ACTION_COUNT.get(module, four)(options)
      length = pick.randint(1, args.max_length)
      actions = [pick.randrange(count) for _ in range(length)]
      seed = pick.randrange(2**32)
      episodes = record_sequence(np, cls, options, seed, actions, TerminationReason)
      sequences.append({"seed": seed, "options": options, "actions": "".join(str(a) for a in actions),
                        "episodes": episodes})
    fixture = {"format": "mesa-aisg-fixture/1", "original": module, "level": name,
               "sequences": sequences}
    path = os.path.join(args.out, name + ".json")
    with open(path, "w") as f:
      json.dump(fixture, f, separators=(",", ":"))
    steps = sum(len(e["steps"]) for s in sequences for e in s["episodes"])
    print("%-40s %4d sequences %6d steps %8d bytes" % (name, len(sequences), steps, os.path.getsize(path)))


if __name__ == "__main__":
  main()
