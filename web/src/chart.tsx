// A line chart over global_step with uPlot: several series (runs × metrics) aligned on one x axis, optional
// 95% interval bands, resized with its container and updated in place as live data arrives.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  color: string;
  /** dashed line (intended return beside the solid base return) */
  dash?: boolean;
  xs: readonly number[];
  ys: readonly (number | null)[];
  /** lower and upper edges of an interval drawn as a band around the line */
  band?: { lo: readonly (number | null)[]; hi: readonly (number | null)[] };
  /** draw points (for short series such as a sweep) */
  points?: boolean;
}

export interface ChartProps {
  title: string;
  series: Series[];
  xLabel?: string;
  yLabel?: string;
  height?: number;
  /** x axis in linear units (steps) by default; `value` for a swept parameter */
  xKind?: "steps" | "value";
}

/** The run colours: Tableau 10, distinguishable and colour-blind tolerant. */
export const PALETTE = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"];

function align(series: Series[]): { data: uPlot.AlignedData; slots: { line: number; lo?: number; hi?: number }[] } {
  const tables: uPlot.AlignedData[] = [];
  const slots: { line: number; lo?: number; hi?: number }[] = [];
  let column = 1;
  for (const s of series) {
    const ys = s.band ? [s.ys, s.band.lo, s.band.hi] : [s.ys];
    tables.push([s.xs as number[], ...(ys as (number | null)[][])] as uPlot.AlignedData);
    slots.push(s.band ? { line: column, lo: column + 1, hi: column + 2 } : { line: column });
    column += ys.length;
  }
  if (tables.length === 0) return { data: [[]], slots };
  return { data: tables.length === 1 ? tables[0]! : uPlot.join(tables), slots };
}

function fade(color: string, alpha: number): string {
  const n = parseInt(color.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = useRef<string>("");
  const { data, slots } = align(props.series);
  const signature = JSON.stringify([props.title, props.xKind, props.series.map((s) => [s.label, s.color, s.dash, !!s.band, s.points])]);
  const points = props.series.reduce((n, s) => n + s.xs.length, 0);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    if (plot.current && shape.current === signature) {
      plot.current.setData(data);
      return;
    }
    plot.current?.destroy();
    shape.current = signature;
    const uSeries: uPlot.Series[] = [{ label: props.xLabel ?? "step" }];
    const bands: uPlot.Band[] = [];
    props.series.forEach((s, k) => {
      uSeries.push({ label: s.label, stroke: s.color, width: 2, dash: s.dash ? [6, 4] : undefined, spanGaps: true, points: { show: s.points ?? false, size: 6 } });
      const slot = slots[k]!;
      if (s.band && slot.lo !== undefined && slot.hi !== undefined) {
        uSeries.push({ label: `${s.label} (95% CI low)`, stroke: fade(s.color, 0.25), width: 1, spanGaps: true });
        uSeries.push({ label: `${s.label} (95% CI high)`, stroke: fade(s.color, 0.25), width: 1, spanGaps: true });
        bands.push({ series: [slot.hi, slot.lo], fill: fade(s.color, 0.15) });
      }
    });
    const width = innerWidth(el);
    plot.current = new uPlot(
      {
        title: props.title,
        width,
        height: props.height ?? 260,
        series: uSeries,
        bands,
        scales: { x: { time: false } },
        axes: [
          { label: props.xLabel ?? "global step", values: (_u, ticks) => ticks.map(formatTick) },
          { label: props.yLabel ?? "", values: (_u, ticks) => ticks.map(formatTick), size: 60 },
        ],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      },
      data,
      el,
    );
    // the interval edges are drawn as a band; their legend rows would only repeat the line's
    const rows = plot.current.root.querySelectorAll<HTMLElement>(".u-legend .u-series");
    uSeries.forEach((s, i) => {
      if (typeof s.label === "string" && s.label.endsWith("(95% CI low)")) rows[i]!.style.display = "none";
      if (typeof s.label === "string" && s.label.endsWith("(95% CI high)")) rows[i]!.style.display = "none";
    });
  });

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => {
      if (plot.current && Math.abs(plot.current.width - innerWidth(el)) > 1) plot.current.setSize({ width: innerWidth(el), height: props.height ?? 260 });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  return <div class="chart" ref={box} data-points={points} data-series={props.series.map((s) => s.label).join("|")} />;
}

/** The width a chart may take inside its box (the box's padding excluded), at least 300 px. */
function innerWidth(el: HTMLElement): number {
  const style = getComputedStyle(el);
  return Math.max(300, Math.floor(el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)));
}

export function formatTick(v: number | null): string {
  if (v === null) return "";
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(4));
}
