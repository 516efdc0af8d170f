// The dashboard app: a header with the four views (runs, curves, episodes, results) and the view the URL hash
// names. Everything comes from the `mesa serve` API of the same origin; nothing loads from the network.
import { render } from "preact";
import { CurvesView } from "./curves.js";
import { EpisodesView } from "./episodes.js";
import { ResultsView } from "./results.js";
import { RunsView } from "./runs.js";
import { useRoute, useRuns } from "./state.js";
import "./style.css";

const VIEWS = [
  ["runs", "Runs"],
  ["curves", "Curves"],
  ["episodes", "Episodes"],
  ["results", "Results"],
] as const;

function App() {
  const route = useRoute();
  const { data, error } = useRuns();
  return (
    <>
      <header>
        <span class="brand">Mesa Lab</span>
        <nav>
          {VIEWS.map(([view, label]) => (
            <a key={view} href={`#/${view}`} class={route.view === view ? "active" : ""} data-view={view}>
              {label}
            </a>
          ))}
        </nav>
        <span class="root muted small" title="the runs folder this server reads (read-only)">
          {error ? <span class="error">server unreachable: {error}</span> : data ? data.root : ""}
        </span>
      </header>
      <main>
        {route.view === "runs" && <RunsView />}
        {route.view === "curves" && <CurvesView />}
        {route.view === "episodes" && <EpisodesView />}
        {route.view === "results" && <ResultsView />}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
