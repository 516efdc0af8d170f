// The dashboard in a real browser (Debian's Chromium driven by playwright-core; no browser download): the runs
// table, a chart canvas that follows the run selection and live appends, the episode replay that advances
// when played, and the results views. Screenshots of each view go to test-artifacts/dashboard/.
import { existsSync, appendFileSync, mkdirSync, mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type DashboardServer } from "../../src/server/server.js";
import { buildFixture, type Fixture } from "./fixture.js";

const CHROMIUM = process.env["MESA_CHROMIUM"] ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) process.stderr.write(`[dashboard browser tests] skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set MESA_CHROMIUM)\n`);
const shots = fileURLToPath(new URL("../../test-artifacts/dashboard/", import.meta.url));

/** Waits for a page condition: generous, since CI shares two cores with other jobs (never a timing assertion). */
const settle = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 20_000, interval: 50 });

let fx: Fixture;
let server: DashboardServer;
let browser: BrowserContext;
let page: Page;
let profile: string;

describe.skipIf(!haveChromium)("dashboard in Chromium", () => {
  beforeAll(async () => {
    fx = buildFixture("mesa-serve-browser-");
    server = await startServer({ runs: fx.runs, port: 0, pollMs: 100 });
    profile = mkdtempSync(join(tmpdir(), "mesa-chromium-"));
    // Debian's Chromium as root in a closed network: no sandbox, no GPU, no background connections, a fresh profile
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1360, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on("pageerror", (err) => {
      throw err;
    });
    mkdirSync(shots, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (fx) rmSync(fx.base, { recursive: true, force: true });
  });

  it("shows the runs table with status and last metrics, and filters it", async () => {
    await page.goto(`${server.url}#/runs`);
    const rows = page.locator(".runs-table tbody tr");
    await settle(() => rows.count()).toBe(6); // 1 trained + 4 experiment + 1 icl
    const train = page.locator(`tr[data-run="${fx.trainRun}"]`);
    await settle(() => train.locator(".badge").textContent()).toBe("finished");
    expect(await train.locator("td").nth(2).textContent()).toBe("points-bug");
    expect(await train.locator("td").nth(3).textContent()).toBe("train");
    expect(await train.locator("td").nth(6).textContent()).toBe("8,192");
    await page.screenshot({ path: join(shots, "runs.png") });
    await page.fill(".filter", "experiment");
    await settle(() => rows.count()).toBe(4);
    await page.fill(".filter", "");
  });

  it("draws curves on a canvas, overlays a second run when selected, and follows a run as it writes", async () => {
    const id = "live__ppo__7__1700000000";
    const dir = join(fx.runs, id);
    mkdirSync(dir);
    const line = (step: number): string => `${JSON.stringify({ global_step: step, "charts/episodic_return": 1 + step / 1000, "charts/intended_return": 1 - step / 2000 })}\n`;
    appendFileSync(join(dir, "summary.json"), JSON.stringify({ env: "coin-run", exp: "ppo", seed: 7, startedAt: new Date().toISOString(), status: "running" }));
    appendFileSync(join(dir, "metrics.jsonl"), line(100) + line(200));

    await page.goto(`${server.url}#/curves?runs=${encodeURIComponent(fx.trainRun)}`);
    const chart = page.locator(".chart").first();
    await settle(() => chart.getAttribute("data-points")).toBe("64"); // 32 updates × (base + intended)
    await settle(() => chart.locator("canvas").count()).toBeGreaterThan(0);
    expect(await chart.getAttribute("data-series")).toContain("intended");

    // selecting another run adds its curves to the same chart
    await page.locator(`.run-picker input[data-run="${id}"]`).check();
    await settle(() => chart.getAttribute("data-points")).toBe("68");
    expect((await chart.getAttribute("data-series"))!.split("|")).toHaveLength(4);
    await settle(() => page.locator(".live").textContent()).toContain("open");

    // lines appended while the page is open arrive without a reload
    appendFileSync(join(dir, "metrics.jsonl"), line(300) + line(400) + line(500));
    await settle(() => chart.getAttribute("data-points")).toBe("74");
    await page.screenshot({ path: join(shots, "curves.png") });

    // any metric can be charted
    await page.locator("details.metric-picker summary").click();
    await page.locator('input[data-metric="losses/approx_kl"]').check();
    await settle(() => page.locator(".chart").count()).toBe(2);
  });

  it("replays an episode: play advances the frame, step and the timeline respond", async () => {
    await page.goto(`${server.url}#/episodes?run=${encodeURIComponent(fx.trainRun)}`);
    const left = page.locator('.player[data-side="left"]');
    const right = page.locator('.player[data-side="right"]');
    await settle(() => left.locator("canvas.grid").count()).toBe(1);
    expect(await left.locator(".episode-pick").inputValue()).toBe("train-0");
    expect(await right.locator(".episode-pick").inputValue()).toBe("deploy-0");
    const frame = (): Promise<string | null> => right.locator("canvas.grid").getAttribute("data-frame");
    expect(await frame()).toBe("0");
    await right.locator("button.step").click();
    await settle(frame).toBe("1");
    await right.locator("select.speed").selectOption("16");
    await right.locator("button.play").click();
    await settle(async () => Number(await frame())).toBeGreaterThan(3);
    await right.locator("button.play").click(); // pause
    const paused = await frame();
    await page.waitForTimeout(400);
    expect(await frame()).toBe(paused);
    // the base reward readout ticks with the frame: it equals the sum of the rewards so far
    const record = JSON.parse(readFileSync(join(fx.runs, fx.trainRun, "episodes", "deploy-0.json"), "utf8")) as { steps: { reward: number }[] };
    const sum = record.steps.slice(0, Number(paused)).reduce((a, s) => a + s.reward, 0);
    expect(await right.locator(".readout .base b").textContent()).toBe(String(sum));
    await left.locator("button.step").click();
    await page.screenshot({ path: join(shots, "episodes.png") });
  });

  it("shows the misgeneralization sweep, the ICL comparison, the validity table and unknown results generically", async () => {
    await page.goto(`${server.url}#/results?entry=${encodeURIComponent(fx.experiment)}`);
    const sweep = page.locator(".sweep");
    await settle(() => sweep.locator("table.data tbody tr").count()).toBe(2);
    await settle(() => sweep.locator(".chart canvas").count()).toBeGreaterThan(0);
    await settle(() => page.locator('.gallery img[alt="misgeneralization.png"]').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100);
    await page.screenshot({ path: join(shots, "results-experiment.png"), fullPage: true });

    await page.goto(`${server.url}#/results?entry=${encodeURIComponent(fx.iclRun)}`);
    await settle(() => page.locator(".icl table.data tbody tr").count()).toBe(5);
    await settle(() => page.locator(".icl .chart").getAttribute("data-series")).toContain("eval loss");
    await settle(() => page.locator('.gallery img[alt="weights.png"]').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100);
    await page.screenshot({ path: join(shots, "results-icl.png"), fullPage: true });

    await page.goto(`${server.url}#/results?entry=${fx.validity}`);
    await settle(() => page.locator(".validity table.data").count()).toBeGreaterThan(1);
    expect(await page.locator(".validity h4").first().textContent()).toContain("coin-run / train");
    await page.screenshot({ path: join(shots, "results-validity.png"), fullPage: true });

    await page.goto(`${server.url}#/results?entry=probe-study`);
    await settle(() => page.locator(".artifact table.data tbody tr").count()).toBe(2);
    await settle(() => page.locator(".heatmap canvas").count()).toBe(1);
    expect(await page.locator(".heatmap figcaption").textContent()).toContain("3×3");
    await page.screenshot({ path: join(shots, "results-generic.png"), fullPage: true });
  });
});
