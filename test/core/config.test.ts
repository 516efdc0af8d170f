// parseConfig: a bad config gives one line per problem, each with the path, what was expected and what was
// received; schema-level messages win; typos in keys get a suggestion.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseConfig } from "../../src/core/config.js";
import { ConfigError } from "../../src/core/errors.js";

const schema = z
  .object({
    learningRate: z.number().positive(),
    numEnvs: z.number().int().min(1),
    env: z.enum(["points-bug", "coin-run"]),
    optimizer: z.object({ gamma: z.number().max(1), hidden: z.array(z.number().int()).min(1) }).strict(),
    name: z.string().min(3).optional(),
    mode: z.union([z.literal("train"), z.literal("deploy")]),
    checkpointEvery: z.number().multipleOf(10).default(100),
    anneal: z.boolean().default(true),
  })
  .strict();

function problems(value: unknown, s: z.ZodType = schema): string[] {
  try {
    parseConfig(s, value, "ppo.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.exitCode).toBe(2);
    expect(e.hint).toContain("ppo.yaml");
    const [head, ...lines] = e.message.split("\n");
    expect(head).toBe(`ppo.yaml is invalid (${lines.length} problem${lines.length === 1 ? "" : "s"}):`);
    return lines.map((l) => l.trim());
  }
  throw new Error("expected a ConfigError");
}

const valid = { learningRate: 2.5e-4, numEnvs: 8, env: "points-bug", optimizer: { gamma: 0.99, hidden: [64, 64] }, mode: "train" };

describe("parseConfig", () => {
  it("returns the parsed value with defaults filled in", () => {
    expect(parseConfig(schema, valid, "ppo.yaml")).toEqual({ ...valid, checkpointEvery: 100, anneal: true });
  });

  it("lists every problem on its own line with path, expected and received", () => {
    expect(
      problems({
        learningRate: -1,
        numEnvs: 2.5,
        env: "pointsbug",
        optimizer: { gamma: 1.5, hidden: [64, "wide"] },
        name: "ab",
        mode: "test",
        checkpointEvery: 15,
        anneal: "yes",
      }),
    ).toEqual([
      "learningRate: expected number > 0, received -1",
      "numEnvs: expected integer, received 2.5",
      'env: expected one of "points-bug" | "coin-run", received "pointsbug"',
      "optimizer.gamma: expected number <= 1, received 1.5",
      'optimizer.hidden.1: expected number, received "wide"',
      'name: expected string with >= 3 characters, received "ab" (2 characters)',
      'mode: expected "train" | "deploy", received "test"',
      "checkpointEvery: expected a multiple of 10, received 15",
      'anneal: expected boolean, received "yes"',
    ]);
  });

  it("says which required fields are missing", () => {
    expect(problems({ learningRate: 1, numEnvs: 1, env: "coin-run", mode: "deploy" })).toEqual(["optimizer: required: expected object, received nothing"]);
    expect(problems({ ...valid, optimizer: { gamma: 0.9, hidden: [] } })).toEqual(["optimizer.hidden: expected array with >= 1 items, received [] (0 items)"]);
  });

  it("names unknown keys, suggesting the known key a typo was meant to be", () => {
    expect(problems({ ...valid, lerningRate: 0.1, optimizer: { gamma: 0.9, hidden: [8], gama: 0.5 }, colour: "red" })).toEqual([
      'optimizer.gama: unknown key (received 0.5); did you mean "gamma"?',
      'lerningRate: unknown key (received 0.1); did you mean "learningRate"?',
      'colour: unknown key (received "red"); known keys: learningRate, numEnvs, env, optimizer, name, mode, checkpointEvery, anneal',
    ]);
  });

  it("reports a value of the wrong kind at the root", () => {
    expect(problems("learningRate: 3")).toEqual(['(root): expected object, received "learningRate: 3"']);
    expect(problems(null)).toEqual(["(root): expected object, received null"]);
  });

  it("keeps messages the schema sets itself, adding what was received", () => {
    const custom = z.object({
      numEnvs: z.number().int().min(1, "numEnvs must be at least 1 (one environment copy)"),
      split: z.object({ train: z.number(), test: z.number() }).refine((s) => s.train + s.test === 1, "train and test fractions must sum to 1"),
    });
    expect(problems({ numEnvs: 0, split: { train: 0.5, test: 0.6 } }, custom)).toEqual([
      "numEnvs: numEnvs must be at least 1 (one environment copy) (received 0)",
      'split: train and test fractions must sum to 1 (received {"train":0.5,"test":0.6})',
    ]);
  });

  it("shortens long received values", () => {
    const [line] = problems({ ...valid, env: "x".repeat(200) });
    expect(line!.length).toBeLessThan(130);
    expect(line).toMatch(/received "x+\.\.\.$/);
  });
});
