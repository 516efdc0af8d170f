// `mesa render ENV --distribution train --seed N [--out level.png]`: draws a level — ASCII on stdout always,
// a PNG when --out is given. The level is episode --episode of copy --index, as a vectorized run would see it.
import type { Command } from "commander";
import { writeFileAtomic } from "../io/atomic.js";
import { makeVecEnv } from "../envs/make.js";
import { frameOf, renderFramePng } from "../envs/render.js";
import { checkOutputFile, envParamOption, envParams, parseInteger, parseSeed } from "./args.js";
import { log } from "./output.js";

export function register(program: Command): void {
  const render = program
    .command("render")
    .description("draw a level as ASCII (stdout) and, with --out, as a PNG")
    .argument("<env>", "environment name (see mesa envs)")
    .option("--distribution <name>", "level distribution", "train")
    .option("--seed <n>", "level seed (0 … 2^32−1)", "0")
    .option("--index <i>", "env index (Rng stream) of the level", "0")
    .option("--episode <k>", "episode number of the level", "0");
  envParamOption(render)
    .option("--out <file.png>", "also write a PNG")
    .option("--cell-size <px>", "PNG pixels per grid cell, 4 … 128", "24")
    .action((name: string, options: { distribution: string; seed: string; index: string; episode: string; envParam: string[]; param: string[]; out?: string; cellSize: string }) => {
      const seed = parseSeed(options.seed);
      const index = parseSeed(options.index, "--index");
      const episode = parseSeed(options.episode, "--episode");
      const cellSize = parseInteger(options.cellSize, "--cell-size", { min: 4, max: 128, example: "24" });
      if (options.out) checkOutputFile(options.out);
      const env = makeVecEnv(name, { n: 1, distribution: options.distribution, params: envParams(options), indexOffset: index });
      env.reset(seed, episode);
      process.stdout.write(`${(env.def.display ? env.def.display(env, 0) : env.ascii(0)).join("\n")}\n`);
      const legend = [`${env.def.agent.char} agent`, ...env.def.tiles.map((t) => `${t.char} ${t.name}${t.channel === null ? " (invisible to the agent)" : ""}`)];
      log(`${name} · ${options.distribution} · seed ${seed} · index ${index} · episode ${episode}   legend: ${legend.join(", ")}`);
      if (options.out) {
        writeFileAtomic(options.out, renderFramePng(env.def, frameOf(env, 0), { cellSize }));
        log(`wrote ${options.out}`);
      }
    });
}
