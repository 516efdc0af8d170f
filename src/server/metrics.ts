// One reader per metrics.jsonl, shared by every API call and live client: it reads only the bytes appended
// since the last look, keeps a partly written last line for the next look (never emits half a record), and
// notices when the file is replaced or cut (a resume trims it) so clients reload instead of mixing histories.
import { open, stat } from "node:fs/promises";
import { checkMetricLine, type MetricRecord } from "../io/rundir.js";

export type { MetricRecord };

export interface MetricsUpdate {
  /** the file was replaced, shrank or vanished: everything before is void */
  reset: boolean;
  /** records completed since the previous update, in file order */
  records: MetricRecord[];
  /** lines that are not valid records, with their line numbers */
  problems: string[];
  /** bytes consumed so far (up to the end of the last complete line) */
  offset: number;
}

/** Reads at most this much per look, so a huge file is taken in slices without one giant buffer. */
const READ_SLICE = 8 << 20;

export class MetricsFile {
  /** every valid record so far */
  readonly records: MetricRecord[] = [];
  /** byte offset just after each record's line (same indices as `records`) */
  readonly ends: number[] = [];
  /** every key seen, in order of first appearance */
  readonly keys = new Set<string>();
  /** problems found so far (bad lines), for API answers */
  readonly problems: string[] = [];
  /** bytes consumed: the file's prefix up to and including the last newline read */
  offset = 0;
  private lineNumber = 0;
  private ino = -1;
  private busy: Promise<MetricsUpdate> | null = null;
  private again = false;
  private readonly listeners = new Set<(update: MetricsUpdate) => void>();

  constructor(
    /** absolute path of metrics.jsonl */
    readonly path: string,
  ) {}

  /**
   * Reads what was appended since the last call. Concurrent callers share one read; a call that arrives while a
   * read is under way asks for one more read after it, since the file may have grown after that read looked.
   */
  refresh(): Promise<MetricsUpdate> {
    if (this.busy) {
      this.again = true;
      return this.busy;
    }
    this.busy = this.readNew().finally(() => {
      this.busy = null;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.busy;
  }

  subscribe(listener: (update: MetricsUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Index of the first record whose line ends after byte `offset` (what a client at `offset` has not seen). */
  firstAfter(offset: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private clear(): void {
    this.records.length = 0;
    this.ends.length = 0;
    this.keys.clear();
    this.problems.length = 0;
    this.offset = 0;
    this.lineNumber = 0;
  }

  private async readNew(): Promise<MetricsUpdate> {
    const update: MetricsUpdate = { reset: false, records: [], problems: [], offset: this.offset };
    let size: number;
    let ino: number;
    try {
      const st = await stat(this.path);
      size = st.size;
      ino = st.ino;
    } catch {
      // gone (or not written yet): void what we had
      if (this.ino !== -1 || this.offset > 0) {
        this.clear();
        this.ino = -1;
        update.reset = true;
        update.offset = 0;
        this.emit(update);
      }
      return update;
    }
    if (ino !== this.ino || size < this.offset) {
      if (this.ino !== -1) update.reset = true;
      this.clear();
      this.ino = ino;
    }
    try {
      while (size > this.offset) {
        const length = Math.min(size - this.offset, READ_SLICE);
        const buffer = Buffer.alloc(length);
        const handle = await open(this.path, "r");
        let got: number;
        try {
          // replaced since the stat (a resume's atomic rewrite): leave it for the next look, which resets
          if ((await handle.stat()).ino !== ino) break;
          got = (await handle.read(buffer, 0, length, this.offset)).bytesRead;
        } finally {
          await handle.close();
        }
        const lastNewline = buffer.subarray(0, got).lastIndexOf(0x0a);
        if (lastNewline < 0) {
          if (got < READ_SLICE) break; // a line still being written: wait for its newline
          // a single line longer than a slice is not a metrics record; skip it whole
          this.offset += got;
          continue;
        }
        let start = 0;
        while (start <= lastNewline) {
          const end = buffer.indexOf(0x0a, start);
          const line = buffer.toString("utf8", start, end);
          this.lineNumber++;
          const parsed = checkMetricLine(line);
          if (typeof parsed === "string") {
            if (line.trim() !== "") {
              const problem = `metrics.jsonl line ${this.lineNumber}: ${parsed}`;
              this.problems.push(problem);
              update.problems.push(problem);
            }
          } else {
            this.records.push(parsed);
            this.ends.push(this.offset + end + 1);
            for (const key of Object.keys(parsed)) if (key !== "global_step") this.keys.add(key);
            update.records.push(parsed);
          }
          start = end + 1;
        }
        this.offset += lastNewline + 1;
        if (got < length) break;
      }
    } catch {
      // the file was replaced between stat and open, or an I/O error: what was read is kept and sent, the rest
      // is read at the next look
    }
    update.offset = this.offset;
    if (update.reset || update.records.length > 0 || update.problems.length > 0) this.emit(update);
    return update;
  }

  private emit(update: MetricsUpdate): void {
    for (const listener of this.listeners) listener(update);
  }
}
