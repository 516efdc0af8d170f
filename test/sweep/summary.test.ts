// Per-setting statistics (n, mean, sample std, Student-t 95% CI) and the CSV of all results.
import { describe, expect, it } from "vitest";
import { resultsCsv } from "../../src/sweep/folder.js";
import { type SummarizedResult, describe as describeValues, summarize } from "../../src/sweep/summary.js";

describe("sweep summaries", () => {
  it("gives n, mean, sample std and the t interval of the mean", () => {
    const s = describeValues([1, 2, 3, 4]);
    expect(s.n).toBe(4);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    // t(0.975, 3) = 3.182
    expect(s.ci95![0]).toBeCloseTo(2.5 - (3.182 * Math.sqrt(5 / 3)) / 2, 12);
    expect(s.ci95![1]).toBeCloseTo(2.5 + (3.182 * Math.sqrt(5 / 3)) / 2, 12);
    expect(describeValues([7])).toEqual({ n: 1, mean: 7, std: null, ci95: null });
    expect(describeValues([])).toEqual({ n: 0, mean: null, std: null, ci95: null });
  });

  it("clips a rate's interval to [0, 1]", () => {
    const s = describeValues([0, 0.1], [0, 1]);
    expect(s.ci95![0]).toBe(0);
    expect(s.ci95![1]).toBeLessThanOrEqual(1);
    expect(s.mean).toBeCloseTo(0.05, 12);
  });

  it("groups by setting in order of appearance and counts failed jobs apart, never averaging them in", () => {
    const rows: SummarizedResult[] = [
      { setting: "lr=1", settings: { lr: 1 }, status: "finished", metrics: { "m/a": 1, "m/b": null } },
      { setting: "lr=2", settings: { lr: 2 }, status: "finished", metrics: { "m/a": 10, "m/b": 3 } },
      { setting: "lr=1", settings: { lr: 1 }, status: "failed", metrics: { "m/a": 1000 } },
      { setting: "lr=1", settings: { lr: 1 }, status: "finished", metrics: { "m/a": 3, "m/b": 5 } },
      { setting: "lr=2", settings: { lr: 2 }, status: "pending", metrics: null },
    ];
    const [one, two] = summarize(rows, ["m/a", "m/b"]);
    expect(one).toMatchObject({ setting: "lr=1", jobs: 3, finished: 2, failed: 1 });
    expect(one!.metrics["m/a"]).toMatchObject({ n: 2, mean: 2 });
    expect(one!.metrics["m/b"]).toMatchObject({ n: 1, mean: 5, std: null });
    expect(two).toMatchObject({ setting: "lr=2", jobs: 2, finished: 1, failed: 0 });
    expect(two!.metrics["m/a"]).toMatchObject({ n: 1, mean: 10 });
  });

  it("writes one CSV row per job, quoting what needs it", () => {
    const csv = resultsCsv({
      swept_fields: ["env"],
      metrics: ["m/a"],
      results: [
        { id: "j1", key: "k", setting: "env=a,b", settings: { env: 'a,"b"' }, seed: 1, status: "failed", run_dir: null, host: "h", pid: 1, metrics: { "m/a": 0.5, "m/z": 2 }, seconds: 1.5, attempts: 1, error: "boom\nline 2", started_at: null, finished_at: null },
      ],
    });
    const lines = csv.trimEnd().split("\n");
    expect(lines[0]).toBe("id,setting,seed,status,env,m/a,m/z,seconds,attempts,host,run_dir,error");
    expect(csv).toContain('j1,"env=a,b",1,failed,"a,""b""",0.5,2,1.5,1,h,,"boom\nline 2"');
  });
});
