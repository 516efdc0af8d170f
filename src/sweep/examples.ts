// The commented example specs `mesa sweep init` writes, one per command: small budgets, a few jobs, each finishing
// in about a minute on two cores, so a first sweep shows the whole loop (pool, summary, folder) quickly.

const HEADER = `# A Mesa Lab sweep spec. \`mesa sweep FILE\` runs every job on a local pool (one process per core);
# \`mesa sweep FILE --queue redis://host:6379\` puts the jobs on a Redis queue for \`mesa worker\` processes on
# any number of machines. Results: sweeps/<name>/sweep.json (every job and the summary), results.csv, and one
# run directory per job under sweeps/<name>/runs/. Running the same spec again skips finished jobs.
`;

const TRAIN = `${HEADER}
name: points-bug-entropy
description: does a stronger entropy bonus change how often the agent farms the glitched coin when deployed?
command: train            # train | icl | experiment

# Fields every job shares: the fields of a run's config.json (env, distribution, envParams, model, hidden,
# ppo.*), as nested maps or dotted paths. Fields left unset start from the env's tuned settings (as mesa train).
base:
  env: points-bug
  ppo:
    totalTimesteps: 300000  # small: the demo trains 1e6 steps

# Every combination of these values is one setting (here two).
grid:
  ppo.entCoef: [0.01, 0.1]

# Random search, instead of the grid or crossed with it: each sample is one setting.
# random:
#   samples: 4
#   seed: 0
#   fields:
#     ppo.learningRate: { logUniform: [3.0e-4, 3.0e-3] }
#     ppo.entCoef: { uniform: [0.0, 0.05] }
#     # also { int: [low, high] } and { choice: [a, b, c] }

# Seeds of every setting: a count n (seeds 1..n) or a list. Jobs = settings × seeds (here 6).
seeds: 3

options:
  defaults: tuned          # or cleanrl: CleanRL's PPO defaults instead of the env's tuned settings
  evaluate:                # each trained agent on levels training never saw (as \`mesa eval\`)
    - { distribution: deploy, episodes: 500 }
  baselines: true          # random, observation-only intended, scripted proxy and intended policies, same levels

# Summarised per setting (n, mean, std, 95% CI over seeds); every job records all of its metrics.
metrics:
  - charts/intended_return
  - eval/deploy/intended_return
  - eval/deploy/misgeneralization_rate

retries: 0                 # run a failed job again this many times
`;

const ICL = `${HEADER}
name: icl-depth
description: how close do 1- and 2-layer linear self-attention models come to gradient descent?
command: icl

# Fields of \`mesa icl\`'s config (task.d, task.n, task.xRange, task.noise, task.nonlinear, model, layers, steps,
# batch, lr, clip, …), as nested maps or dotted paths.
base:
  steps: 400               # tiny: the README's table trains 2000-5000 steps
  batch: 256
  task: { d: 5, n: 10 }
  testTasks: 2000

grid:
  layers: [1, 2]

seeds: 3

metrics: [model_loss, baseline_loss, prediction_cosine, sensitivity_cosine]
`;

const EXPERIMENT = `${HEADER}
name: absent-supervisor-curve
description: does an agent trained with an absent supervisor take the punished shortcut when unwatched?
command: experiment

# Fields of \`mesa experiment misgeneralization\`: env, param, values, seeds (training seeds per job), steps,
# episodes, model. Each value trains on levels with that parameter; every agent is evaluated on deploy levels.
# Sweep seed s makes a job train seeds s·seeds … s·seeds + seeds − 1.
base:
  env: absent-supervisor
  param: supervisorProbability
  values: [1, 0.5]
  seeds: 1
  steps: 200000            # small: the env's tuned budget is 1e6 steps
  episodes: 500

seeds: 3

metrics:
  - supervisorProbability=1/misgeneralization_rate
  - supervisorProbability=0.5/misgeneralization_rate
`;

/** The example spec of each command. */
export const exampleSpecs: Readonly<Record<string, string>> = { train: TRAIN, icl: ICL, experiment: EXPERIMENT };
