// A throwaway redis-server (Debian's) on a free port of 127.0.0.1, for the queue tests and the sweep benchmark:
// started without persistence, ready once it answers PING, stopped with SIGTERM (Redis shuts down cleanly on it).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";

/** Whether `redis-server` can be started here. */
export function redisServerInstalled(): boolean {
  return spawnSync("redis-server", ["--version"]).status === 0;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface LocalRedis {
  url: string;
  server: ChildProcess;
  /** shuts the server down and waits for it to exit */
  stop(): Promise<void>;
}

/** Starts redis-server on a free port and waits until it answers (at most 10 s). */
export async function startLocalRedis(): Promise<LocalRedis> {
  const port = await freePort();
  const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  };
  for (let attempt = 0; ; attempt++) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    probe.on("error", () => {});
    try {
      await probe.connect();
      await probe.ping();
      return { url, server, stop };
    } catch (err) {
      if (attempt >= 200 || server.exitCode !== null) {
        await stop();
        throw new Error(`redis-server on port ${port} did not answer within 10 s (${(err as Error).message})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
}
