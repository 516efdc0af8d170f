// Pictures of recorded episodes for people: the animated GIF from the environment renderer, and a PNG strip
// of evenly spaced frames (start … end) for places that show no animation (READMEs, reports).
import { PNG } from "pngjs";
import type { EpisodeRecord } from "../envs/engine.js";
import { episodeFrames, renderEpisodeGif, renderFramePng } from "../envs/render.js";
import { writeFileAtomic } from "../io/atomic.js";

/** Up to `maxFrames` frames of the episode side by side, first and last included, as PNG bytes. */
export function episodeStripPng(record: EpisodeRecord, maxFrames = 12, cellSize = 20): Buffer {
  const frames = episodeFrames(record);
  const count = Math.min(maxFrames, frames.length);
  const picks = Array.from({ length: count }, (_, k) => (count === 1 ? 0 : Math.round((k * (frames.length - 1)) / (count - 1))));
  const images = picks.map((t) => PNG.sync.read(Buffer.from(renderFramePng(record.env, frames[t]!, { cellSize }))));
  const gap = 6;
  const width = images.reduce((w, im) => w + im.width, 0) + gap * (images.length - 1);
  const height = Math.max(...images.map((im) => im.height));
  const strip = new PNG({ width, height });
  strip.data.fill(255);
  let x0 = 0;
  for (const im of images) {
    PNG.bitblt(im, strip, 0, 0, im.width, im.height, x0, 0);
    x0 += im.width + gap;
  }
  return PNG.sync.write(strip);
}

/** Writes `<base>.json`, `<base>.gif` and `<base>.png` (strip) for a recorded episode; returns the paths. */
export function writeEpisodeFiles(base: string, record: EpisodeRecord): { json: string; gif: string; png: string } {
  const paths = { json: `${base}.json`, gif: `${base}.gif`, png: `${base}.png` };
  writeFileAtomic(paths.json, `${JSON.stringify(record)}\n`);
  writeFileAtomic(paths.gif, renderEpisodeGif(record));
  writeFileAtomic(paths.png, episodeStripPng(record));
  return paths;
}
