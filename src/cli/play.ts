// `mesa play ENV [--distribution deploy] [--seed N]`: play an environment in the terminal with the arrow keys
// or WASD, watching the base reward (what an optimizer is paid) and the intended score side by side.
import { join } from "node:path";
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import type { EpisodeRecord, VecEnv } from "../envs/engine.js";
import { makeVecEnv } from "../envs/make.js";
import { saveEpisode } from "../envs/record.js";
import { checkOutputDir, deprecatedAlias, envParamOption, envParams, parseSeed, warnDeprecated } from "./args.js";

/** Which action names a key can mean, first match wins (coin-run jumps with up/space, noop with down/'.'). */
const KEY_ACTIONS: Record<string, readonly string[]> = {
  up: ["up", "jump"],
  down: ["down", "noop"],
  left: ["left"],
  right: ["right"],
  space: ["jump", "noop"],
  wait: ["noop"],
};

/** Terminal key sequences → logical keys. */
const KEYS: Record<string, string> = {
  "\u001b[A": "up",
  "\u001b[B": "down",
  "\u001b[C": "right",
  "\u001b[D": "left",
  w: "up",
  s: "down",
  a: "left",
  d: "right",
  W: "up",
  S: "down",
  A: "left",
  D: "right",
  " ": "space",
  ".": "wait",
  q: "quit",
  Q: "quit",
  "\u0003": "quit",
};

const ANSI = { reset: "\u001b[0m", bold: "\u001b[1m", dim: "\u001b[2m" };

/** The game loop without the terminal: keys in, a screen of text out. */
export class PlaySession {
  readonly env: VecEnv;
  readonly records: EpisodeRecord[] = [];
  private readonly action = new Int32Array(1);
  private readonly keyToAction = new Map<string, number>();
  private message = "";
  private episodes = 0;
  private totalBase = 0;
  private totalIntended = 0;
  private proxyEpisodes = 0;
  private intendedEpisodes = 0;

  constructor(env: VecEnv, seed: number, private readonly color: boolean) {
    this.env = env;
    for (const [key, names] of Object.entries(KEY_ACTIONS)) {
      const a = names.map((n) => env.actionNames.indexOf(n)).find((k) => k >= 0);
      if (a !== undefined) this.keyToAction.set(key, a);
    }
    env.recordCopy(0);
    env.reset(seed);
  }

  /** Handles one key; returns false when the player quits. */
  press(sequence: string): boolean {
    const key = KEYS[sequence];
    if (key === "quit") return false;
    const a = key === undefined ? undefined : this.keyToAction.get(key);
    if (a === undefined) {
      this.message = `keys: arrows or WASD${this.keyToAction.has("space") ? ", space" : ""}${this.keyToAction.has("wait") ? ", '.' to wait" : ""}; q quits`;
      return true;
    }
    const env = this.env;
    this.action[0] = a;
    env.step(this.action);
    const fired = env.eventNames.filter((_, e) => env.events[e]! > 0);
    this.message = `${env.actionNames[a]}: reward ${fmt(env.reward[0]!)}, intended ${fmt(env.intended[0]!)}${fired.length ? ` · ${fired.join(", ")}` : ""}`;
    if (env.terminated[0]! | env.truncated[0]!) {
      const f = env.finished;
      this.episodes++;
      this.totalBase += f.baseReturn[0]!;
      this.totalIntended += f.intendedReturn[0]!;
      this.proxyEpisodes += f.pursuedProxy[0]!;
      this.intendedEpisodes += f.intendedGoalReached[0]!;
      const outcome = f.pursuedProxy[0] ? "pursued the proxy" : f.intendedGoalReached[0] ? "reached the intended goal" : "neither goal";
      this.message = `episode ${this.episodes} ${env.truncated[0] ? "ran out of time" : "ended"} after ${f.length[0]} steps: base ${fmt(f.baseReturn[0]!)}, intended ${fmt(f.intendedReturn[0]!)} — ${outcome}. Next level!`;
      this.records.push(...env.takeRecords());
    }
    return true;
  }

  /** The screen: title, level, scores side by side, last message. */
  screen(): string {
    const env = this.env;
    const color = (ch: string): string => {
      if (!this.color) return ch;
      if (ch === env.def.agent.char) return paint(env.def.agent.color, ch, true);
      const tile = env.def.tiles.find((t) => t.char === ch);
      return tile ? paint(tile.color, ch, tile.shape === "disc") : `${ANSI.dim}${ch}${ANSI.reset}`;
    };
    const display = env.def.displayColours;
    const cell = (ch: string): string => {
      const c = this.color ? display?.[ch] : undefined;
      return c ? `\u001b[48;2;${c.bg[0]};${c.bg[1]};${c.bg[2]}m\u001b[38;2;${c.fg[0]};${c.fg[1]};${c.fg[2]}m${ch}${ANSI.reset}` : color(ch);
    };
    const rows = (env.def.display ? env.def.display(env, 0) : env.ascii(0)).map((row) => `  ${[...row].map(cell).join("")}`);
    const base = env.running.baseReturn[0]!;
    const intended = env.running.intendedReturn[0]!;
    return [
      `${this.color ? ANSI.bold : ""}${env.def.name}${this.color ? ANSI.reset : ""} · ${env.distribution} · seed ${env.seed} · episode ${env.episode[0]} · step ${env.episodeStep[0]}/${env.maxSteps}`,
      "",
      ...rows,
      "",
      `  base reward ${fmt(base).padStart(7)}   │   intended score ${fmt(intended).padStart(7)}`,
      `  so far: ${this.episodes} episodes · base ${fmt(this.totalBase)} · intended ${fmt(this.totalIntended)} · proxy ${this.proxyEpisodes} · intended goal ${this.intendedEpisodes}`,
      "",
      `  ${this.message}`,
      `  ${this.color ? ANSI.dim : ""}arrows/WASD move${this.keyToAction.has("space") ? ", space jumps" : ""}, q quits${this.color ? ANSI.reset : ""}`,
    ].join("\n");
  }

  summary(): string {
    return `played ${this.episodes} episode${this.episodes === 1 ? "" : "s"}: base ${fmt(this.totalBase)}, intended ${fmt(this.totalIntended)}, proxy pursued in ${this.proxyEpisodes}, intended goal reached in ${this.intendedEpisodes}`;
  }
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

function paint(rgb: readonly [number, number, number], ch: string, bold: boolean): string {
  return `\u001b[38;2;${rgb[0]};${rgb[1]};${rgb[2]}m${bold ? ANSI.bold : ""}${ch}${ANSI.reset}`;
}

export function register(program: Command): void {
  const play = program
    .command("play")
    .description("play an environment in the terminal (arrows/WASD, q quits), base reward and intended score side by side")
    .argument("<env>", "environment name (see mesa envs)")
    .option("--distribution <name>", "level distribution", "train")
    .option("--seed <n>", "level seed (0 … 2^32−1)", "0");
  envParamOption(play).option("--out <dir>", "save each finished episode as a JSON record in this folder");
  deprecatedAlias(play, "--record <dir>", "--out");
  play.action(async (name: string, options: { distribution: string; seed: string; envParam: string[]; param: string[]; out?: string; record?: string }) => {
    const seed = parseSeed(options.seed);
    if (options.record !== undefined) warnDeprecated("mesa play --record DIR", "--out DIR");
    const outDir = options.out ?? options.record;
    if (outDir) checkOutputDir(outDir, options.out ? "--out" : "--record");
    const env = makeVecEnv(name, { n: 1, distribution: options.distribution, params: envParams(options) });
    const stdin = process.stdin;
    if (!stdin.isTTY || typeof stdin.setRawMode !== "function") {
      throw new UsageError("mesa play needs an interactive terminal, but stdin is not a TTY", `run it in a terminal; to look at a level without playing, use \`mesa render ${name} --distribution ${options.distribution} --seed ${seed}\``);
    }
    const session = new PlaySession(env, seed, process.stdout.isTTY === true);
    const draw = (): void => {
      process.stdout.write(`\u001b[2J\u001b[H${session.screen()}\n`);
    };
    await new Promise<void>((resolve) => {
      stdin.setRawMode(true);
      stdin.setEncoding("utf8");
      stdin.resume();
      const onData = (data: string): void => {
        if (!session.press(data)) {
          stdin.off("data", onData);
          stdin.setRawMode(false);
          stdin.pause();
          resolve();
          return;
        }
        draw();
      };
      stdin.on("data", onData);
      draw();
    });
    process.stdout.write(`${session.summary()}\n`);
    if (outDir) {
      for (const [k, record] of session.records.entries()) saveEpisode(join(outDir, `${name}-seed${seed}-episode${String(k).padStart(4, "0")}.json`), record);
      process.stdout.write(`saved ${session.records.length} episode record${session.records.length === 1 ? "" : "s"} in ${outDir}\n`);
    }
  });
}
