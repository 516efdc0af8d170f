// Training batches from the worker thread are exactly the batches drawn inline (same Rng, same order). The worker
// runs compiled JavaScript, so this test uses the build in dist/ (`npm test` builds first).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { taskConfig } from "../../src/icl/tasks.js";
import { openTaskStream as openFromSource } from "../../src/icl/task_stream.js";

const built = fileURLToPath(new URL("../../dist/src/icl/task_stream.js", import.meta.url));

describe("task stream", () => {
  it("falls back to inline drawing when the worker script is not built next to it (TypeScript sources)", async () => {
    const s = openFromSource(taskConfig({ d: 2, n: 3 }), 4, 1, "x");
    expect(s.kind).toBe("inline");
    await s.close();
  });

  it.skipIf(!existsSync(built))("the worker thread yields the inline sequence, batch for batch, recycling buffers", async () => {
    const { openTaskStream } = (await import(built)) as typeof import("../../src/icl/task_stream.js");
    for (const nonlinear of [false, true]) {
      const cfg = taskConfig({ d: 3, n: 5, noise: 0.1, nonlinear, hidden: 7 });
      const w = openTaskStream(cfg, 16, 9, "icl-train", { worker: true });
      const i = openTaskStream(cfg, 16, 9, "icl-train", { worker: false });
      expect(w.kind).toBe("worker");
      for (let step = 0; step < 6; step++) {
        const a = await w.next();
        const b = await i.next();
        expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
        expect(Array.from(a.targets)).toEqual(Array.from(b.targets));
      }
      await w.close();
      await i.close();
    }
  });
});
