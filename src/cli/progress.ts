// Progress on stderr, one way for every long job: a bar on a terminal, otherwise a line every 10%, so stdout
// stays machine-readable (--json). Training reports through PPO callbacks; evaluations through evaluate()'s
// onProgress, shown only once they have run for a second (short ones stay quiet).
import { SingleBar } from "cli-progress";
import type { PpoCallbacks } from "../rl/ppo.js";
import { log } from "./output.js";

/** A progress bar on stderr (a line every 10% when stderr is not a terminal), as PPO callbacks. */
export function progressCallbacks(label: string): PpoCallbacks & { stop(): void } {
  const tty = process.stderr.isTTY === true;
  const bar = new SingleBar({
    stream: process.stderr,
    format: `${label} {bar} {percentage}% | {value}/{total} steps | {sps} SPS | return {ret} | intended {intended} | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 20,
    barsize: 24,
  });
  let started = false;
  let nextTenth = 1;
  const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? "–" : x.toFixed(3));
  return {
    onUpdate(metrics, info) {
      const payload = { sps: metrics["charts/SPS"] ?? 0, ret: fmt(metrics["charts/episodic_return"]), intended: fmt(metrics["charts/intended_return"]) };
      if (tty) {
        if (!started) {
          bar.start(info.totalTimesteps, info.globalStep, payload);
          started = true;
        }
        bar.update(info.globalStep, payload);
      } else if (info.update >= (nextTenth * info.numIterations) / 10 || info.update === info.numIterations) {
        while (info.update >= (nextTenth * info.numIterations) / 10) nextTenth++;
        log(`${label} ${info.globalStep}/${info.totalTimesteps} steps | ${payload.sps} SPS | return ${payload.ret} | intended ${payload.intended}`);
      }
      // let the terminal redraw between updates
      return new Promise((resolve) => setImmediate(resolve));
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

/** Progress of an evaluation of `label` (shown after it has run for a second): pass `onProgress` to evaluate(). */
export function evaluationProgress(label: string): { onProgress(done: number, total: number): void; stop(): void } {
  const tty = process.stderr.isTTY === true;
  const startedAt = performance.now();
  let shown = false;
  let bar: SingleBar | undefined;
  let nextTenth = 1;
  return {
    onProgress(done, total) {
      if (!shown && (performance.now() - startedAt < 1000 || done >= total)) return; // short evaluations stay quiet
      shown = true;
      if (tty) {
        if (bar === undefined) {
          bar = new SingleBar({ stream: process.stderr, format: `${label} {bar} {percentage}% | {value}/{total} episodes | ETA {eta_formatted}`, hideCursor: true, etaBuffer: 50, barsize: 24 });
          bar.start(total, done);
        }
        bar.update(done);
      } else if (done >= (nextTenth * total) / 10) {
        while (done >= (nextTenth * total) / 10) nextTenth++;
        log(`${label} ${done}/${total} episodes (${Math.floor((100 * done) / total)}%)`);
      }
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
