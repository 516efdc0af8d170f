// A minimal reader of the dashboard's live stream from Node (server-sent events over plain http), for scripts,
// the load test and the serve benchmark: parses `event:` / `data:` / `id:` blocks and hands each event over.
import { request, type ClientRequest } from "node:http";
import type { LiveEvent } from "./types.js";

export interface LiveConnection {
  /** resolves when the server answered with the event stream (rejects on any other answer) */
  opened: Promise<void>;
  /** resolves when the connection ends, for whatever reason */
  closed: Promise<void>;
  close(): void;
}

/** Opens `url` (http://host:port/api/…/stream or /api/live?…) and calls `onEvent` for every event, in order. */
export function openLiveStream(url: string, onEvent: (event: LiveEvent, id: string | undefined) => void): LiveConnection {
  let req: ClientRequest;
  let resolveOpened!: () => void;
  let rejectOpened!: (err: Error) => void;
  const opened = new Promise<void>((resolve, reject) => {
    resolveOpened = resolve;
    rejectOpened = reject;
  });
  const closed = new Promise<void>((resolveClosed) => {
    req = request(url, { headers: { Accept: "text/event-stream" } }, (res) => {
      if (res.statusCode !== 200) {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          rejectOpened(new Error(`${url}: HTTP ${res.statusCode}: ${body}`));
          resolveClosed();
        });
        return;
      }
      resolveOpened();
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        let at: number;
        while ((at = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          let data = "";
          let id: string | undefined;
          for (const line of block.split("\n")) {
            if (line.startsWith("data: ")) data += line.slice(6);
            else if (line.startsWith("id: ")) id = line.slice(4);
          }
          if (data !== "") onEvent(JSON.parse(data) as LiveEvent, id);
        }
      });
      res.on("close", () => resolveClosed());
    });
    req.on("error", (err) => {
      rejectOpened(err);
      resolveClosed();
    });
    req.end();
  });
  return { opened, closed, close: () => req.destroy() };
}
