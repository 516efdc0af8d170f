// `mesa envs [--json]`: the environments, what story each tells, their distributions and parameters.
import type { Command } from "commander";
import { parseConfig } from "../core/config.js";
import type { AnyEnvDefinition } from "../envs/engine.js";
import { environments } from "../envs/registry.js";
import { printJson } from "./output.js";

export function register(program: Command): void {
  program
    .command("envs")
    .description("list the environments: their story, level distributions, parameters, actions and events")
    .option("--json", "print one JSON object keyed by environment name")
    .action((options: { json?: boolean }) => {
      const described = Object.values(environments).map(describeEnv);
      if (options.json) {
        printJson(Object.fromEntries(described.map((d) => [d.name, d])));
        return;
      }
      const blocks = described.map((d) =>
        [
          `${d.name} — ${d.summary}`,
          `  proxy: ${d.proxyGoal}`,
          `  intended: ${d.intendedGoal}`,
          `  observation [${d.observation.shape.join(", ")}] (${d.observation.channels.join(", ")}) of a ${d.observation.level.join("×")} level · actions ${d.actions.join(", ")} · events ${d.events.join(", ")}`,
          `  validity: ${d.validity_policies ? `mesa validate ${d.name}` : "not applicable (no reference policies)"}`,
          indent(leftTable(["distribution", "parameters", "what it is"], Object.entries(d.distributions).map(([k, v]) => [k, formatParams(v.params), v.doc]))),
          indent(leftTable(["parameter", "default", "meaning"], Object.entries(d.parameters).map(([k, v]) => [k, JSON.stringify(v.default), v.description]))),
        ].join("\n"),
      );
      process.stdout.write(`${blocks.join("\n\n")}\n`);
    });
}

/** Everything `mesa envs` says about one environment. */
export function describeEnv(def: AnyEnvDefinition): {
  name: string;
  summary: string;
  proxyGoal: string;
  intendedGoal: string;
  /** shape of what the agent sees ([C, view h, view w]); `level` is the whole level's size */
  observation: { shape: number[]; channels: string[]; level: [number, number] };
  /** whether the env declares the validity harness's reference policies */
  validity_policies: boolean;
  actions: string[];
  events: string[];
  distributions: Record<string, { doc: string; params: Record<string, unknown> }>;
  parameters: Record<string, { default: unknown; description: string }>;
} {
  const defaults = parseConfig(def.params, {}, `${def.name} default parameters`) as Record<string, unknown>;
  const shape = def.view?.(defaults) ?? def.shape(defaults);
  const level = def.shape(defaults);
  const parameters: Record<string, { default: unknown; description: string }> = {};
  for (const [key, field] of Object.entries(def.params.shape as Record<string, { description?: string }>)) {
    parameters[key] = { default: defaults[key], description: field.description ?? "" };
  }
  return {
    name: def.name,
    summary: def.summary,
    proxyGoal: def.proxyGoal,
    intendedGoal: def.intendedGoal,
    observation: { shape: [def.channels.length, shape.height, shape.width], channels: [...def.channels], level: [level.height, level.width] },
    validity_policies: def.policies !== undefined,
    actions: [...def.actions],
    events: [...def.events],
    distributions: Object.fromEntries(
      Object.entries(def.distributions as Record<string, { doc: string; params: Record<string, unknown> }>).map(([k, v]) => [k, { doc: v.doc, params: { ...v.params } }]),
    ),
    parameters,
  };
}

function formatParams(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(" ");
}

/** A table of text columns, all left-aligned (output.ts's formatTable right-aligns numbers' columns). */
function leftTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

