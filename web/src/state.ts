// Page state shared by the views: the runs listing (refreshed every few seconds), the route in the URL hash
// (so a view with its selection can be bookmarked or shared), and small formatting helpers.
import { useEffect, useState } from "preact/hooks";
import { fetchRuns, metricsStore, type RunsResponse, type RunInfo } from "./api.js";

const RUNS_REFRESH_MS = 2000;

export interface Listing {
  data: RunsResponse | null;
  error: string | null;
}

let shared: Listing = { data: null, error: null };
const listeners = new Set<(l: Listing) => void>();
let timer: number | undefined;

async function refresh(): Promise<void> {
  try {
    shared = { data: await fetchRuns(), error: null };
  } catch (err) {
    shared = { data: shared.data, error: (err as Error).message };
  }
  listeners.forEach((l) => l(shared));
}

/** The runs listing, polled while any view shows it. */
export function useRuns(): Listing {
  const [listing, setListing] = useState(shared);
  useEffect(() => {
    listeners.add(setListing);
    if (timer === undefined) {
      void refresh();
      timer = window.setInterval(() => void refresh(), RUNS_REFRESH_MS);
    }
    return () => {
      listeners.delete(setListing);
      if (listeners.size === 0) {
        window.clearInterval(timer);
        timer = undefined;
      }
    };
  }, []);
  return listing;
}

/** Re-renders the caller whenever watched metrics change (at most once per frame). */
export function useMetricsVersion(): number {
  const [version, setVersion] = useState(0);
  useEffect(() => metricsStore.subscribe(() => setVersion((v) => v + 1)), []);
  return version;
}

export interface Route {
  view: "runs" | "curves" | "episodes" | "results";
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const [path = "", query = ""] = hash.replace(/^#\/?/, "").split("?");
  const view = (["runs", "curves", "episodes", "results"] as const).find((v) => v === path) ?? "runs";
  return { view, params: new URLSearchParams(query) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onHash = (): void => setRoute(parseHash(location.hash));
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  return route;
}

/** Changes the route; `replace` keeps the browser history short for selection tweaks. */
export function navigate(view: Route["view"], params: Record<string, string | string[] | undefined> = {}, replace = false): void {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    const text = Array.isArray(v) ? v.join(",") : v;
    if (text !== "") q.set(k, text);
  }
  const hash = `#/${view}${q.size > 0 ? `?${q.toString()}` : ""}`;
  if (replace) {
    history.replaceState(null, "", hash);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else location.hash = hash;
}

export const listParam = (params: URLSearchParams, key: string): string[] => (params.get(key) ?? "").split(",").filter((s) => s !== "");

/** A number with up to 4 significant digits. */
export function fmt(v: unknown): string {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(+v.toPrecision(4));
}

export function ago(ms: number): string {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** A short label for a run: env · exp · seed, or its folder name. */
export function runLabel(r: RunInfo): string {
  if (r.env && r.exp) return `${r.env} · ${r.exp} · seed ${r.seed ?? "?"}`;
  return r.name;
}
