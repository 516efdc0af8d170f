// The env commands (envs, render, play) run in-process on their own commander program.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import pngjs from "pngjs";
import { runCommand } from "../cli/helpers.js";
import { register as registerEnvs } from "../../src/cli/envs.js";
import { parseKeyValues } from "../../src/cli/args.js";
import { register as registerRender } from "../../src/cli/render.js";
import { PlaySession, register as registerPlay } from "../../src/cli/play.js";
import { ConfigError, UsageError } from "../../src/core/errors.js";
import { makeVecEnv } from "../../src/envs/index.js";

async function run(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return runCommand([registerEnvs, registerRender, registerPlay], ...args);
}

afterEach(() => vi.restoreAllMocks());

describe("mesa envs", () => {
  it("lists every environment with distributions and parameters, as JSON", async () => {
    const { stdout } = await run("envs", "--json");
    const list = JSON.parse(stdout) as Record<string, { distributions: Record<string, unknown>; parameters: Record<string, { default: unknown; description: string }>; observation: { shape: number[] } }>;
    expect(Object.keys(list)).toEqual(expect.arrayContaining(["coin-run", "points-bug", "maze-cheese", "keys-chests", "absent-supervisor"]));
    expect(Object.keys(list["coin-run"]!.distributions)).toEqual(["train", "deploy", "small"]);
    expect(list["coin-run"]!.parameters.randomCoinFraction).toMatchObject({ default: 0 });
    expect(list["coin-run"]!.parameters.randomCoinFraction!.description).toMatch(/fraction/);
    expect(list["coin-run"]!.observation.shape).toEqual([3, 6, 11]);
  });

  it("prints a readable table without --json", async () => {
    const { stdout } = await run("envs");
    expect(stdout).toContain("points-bug — ");
    expect(stdout).toContain("randomCoinFraction");
    expect(stdout).toContain("deploy");
  });
});

describe("mesa render", () => {
  it("prints the ASCII level and writes a PNG with --out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mesa-render-"));
    try {
      const out = join(dir, "level.png");
      const { stdout } = await run("render", "coin-run", "--distribution", "train", "--seed", "0", "--out", out, "--cell-size", "8");
      const env = makeVecEnv("coin-run", { n: 1 });
      env.reset(0);
      expect(stdout).toBe(`${env.ascii(0).join("\n")}\n`);
      const png = pngjs.PNG.sync.read(readFileSync(out));
      expect([png.width, png.height]).toEqual([24 * 8, 6 * 8]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("renders the level of a given index and episode, with parameters", async () => {
    const { stdout } = await run("render", "maze-cheese", "--seed", "3", "--index", "2", "--episode", "5", "--param", "maxCells=4", "--param", "minCells=4");
    const env = makeVecEnv("maze-cheese", { n: 1, indexOffset: 2, params: { maxCells: 4, minCells: 4 } });
    env.reset(3, 5);
    expect(stdout.trim()).toBe(env.ascii(0).join("\n"));
    expect(stdout.trim().split("\n").length).toBe(7);
  });

  it("rejects unknown environments, distributions and parameters, listing the valid names", async () => {
    await expect(run("render", "coinrun")).rejects.toThrow(ConfigError);
    await expect(run("render", "coinrun")).rejects.toMatchObject({ hint: expect.stringContaining("coin-run") });
    await expect(run("render", "coin-run", "--distribution", "test")).rejects.toMatchObject({ hint: expect.stringContaining("train, deploy") });
    await expect(run("render", "coin-run", "--param", "coins=3")).rejects.toMatchObject({ hint: expect.stringContaining("randomCoinFraction") });
    await expect(run("render", "coin-run", "--param", "randomCoinFraction=2")).rejects.toThrow(/randomCoinFraction/);
    await expect(run("render", "coin-run", "--seed", "-1")).rejects.toThrow(UsageError);
    await expect(run("render", "coin-run", "--param", "oops")).rejects.toThrow(UsageError);
  });
});

describe("mesa play", () => {
  it("refuses cleanly when stdin is not a TTY", async () => {
    const isTTY = process.stdin.isTTY;
    Object.defineProperty(process.stdin, "isTTY", { value: false, configurable: true });
    try {
      await expect(run("play", "coin-run")).rejects.toThrow(/not a TTY/);
      await expect(run("play", "coin-run")).rejects.toBeInstanceOf(UsageError);
      // bad names are reported before the terminal check
      await expect(run("play", "coin-walk")).rejects.toThrow(/unknown environment/);
    } finally {
      Object.defineProperty(process.stdin, "isTTY", { value: isTTY, configurable: true });
    }
  });

  it("plays with keys and shows base reward and intended score side by side", () => {
    const env = makeVecEnv("absent-supervisor", { n: 1, distribution: "deploy" });
    const session = new PlaySession(env, 0, false);
    expect(session.screen()).toContain("base reward");
    expect(session.screen()).toContain("intended score");
    // the shortcut: down three times onto the goal
    expect(session.press("\u001b[B")).toBe(true);
    expect(session.press("s")).toBe(true);
    expect(session.screen()).toMatch(/base reward\s+-2\s+│\s+intended score\s+-32/);
    session.press("\u001b[B");
    expect(session.screen()).toContain("pursued the proxy");
    expect(session.records.length).toBe(1);
    expect(session.records[0]!.baseReturn).toBe(47);
    expect(session.press("x")).toBe(true);
    expect(session.screen()).toContain("q quits");
    expect(session.press("q")).toBe(false);
  });

  it("maps up to jump in coin-run", () => {
    const env = makeVecEnv("coin-run", { n: 1 });
    const session = new PlaySession(env, 0, true);
    const y = env.agentY[0]!;
    session.press("w");
    expect(env.agentY[0]).toBe(y - 2);
  });
});

describe("--param parsing", () => {
  it("reads numbers and booleans as JSON and keeps other text", () => {
    expect(parseKeyValues(["a=1", "b=0.5", "c=true", "d=hello"], "--param")).toEqual({ a: 1, b: 0.5, c: true, d: "hello" });
  });
});
