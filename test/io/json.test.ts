// The JSON readers every experiment uses on its own files, and the folder-settings record that lets a resumed
// experiment refuse other settings: each error names the file (or the differing fields) and says what to do.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, RunDirError } from "../../src/core/errors.js";
import { readJsonObject, readJsonValue, recordFolderSettings } from "../../src/io/json.js";
import { thrown } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "mesa-json-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const hints = { missing: "run it first", damaged: "delete it" };

describe("readJsonObject", () => {
  it("returns the object a file holds", () => {
    const path = join(root, "ok.json");
    writeFileSync(path, '{"a": 1, "b": {"c": [2]}}');
    expect(readJsonObject(path, hints)).toEqual({ a: 1, b: { c: [2] } });
    expect(readJsonValue(path, hints)).toEqual({ a: 1, b: { c: [2] } });
  });

  it("names a missing file with the missing hint", () => {
    const err = thrown(() => readJsonObject(join(root, "absent.json"), hints));
    expect(err).toBeInstanceOf(RunDirError);
    expect(err.message).toContain("absent.json: missing");
    expect(err.hint).toBe("run it first");
  });

  it("names a truncated file and a non-object with the damaged hint", () => {
    const cut = join(root, "cut.json");
    writeFileSync(cut, '{"a": 1, "b"');
    const a = thrown(() => readJsonObject(cut, hints));
    expect(a.message).toMatch(/cut\.json: not valid JSON/);
    expect(a.hint).toBe("delete it");
    const list = join(root, "list.json");
    writeFileSync(list, "[1, 2]");
    const b = thrown(() => readJsonObject(list, hints));
    expect(b.message).toContain("list.json: expected a JSON object, got an array");
    expect(readJsonValue(list, hints)).toEqual([1, 2]);
  });

  it("names a folder where a file was expected", () => {
    const err = thrown(() => readJsonObject(root, hints));
    expect(err).toBeInstanceOf(RunDirError);
    expect(err.message).toContain("cannot read (EISDIR)");
  });
});

describe("recordFolderSettings", () => {
  it("records settings, continues with the same ones, and lets non-key fields change", () => {
    const file = join(root, "same", "options.json");
    recordFolderSettings(file, { env: "coin-run", steps: 100, seeds: 3 }, ["env", "steps"], "a test experiment");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ env: "coin-run", steps: 100, seeds: 3 });
    recordFolderSettings(file, { env: "coin-run", steps: 100, seeds: 5 }, ["env", "steps"], "a test experiment");
    expect(JSON.parse(readFileSync(file, "utf8")).seeds).toBe(5);
  });

  it("refuses other settings, naming each differing field with both values, and keeps the record", () => {
    const file = join(root, "other", "options.json");
    recordFolderSettings(file, { env: "coin-run", steps: 100, envParams: { a: 1 } }, ["env", "steps", "envParams"], "a test experiment");
    const err = thrown(() => recordFolderSettings(file, { env: "coin-run", steps: 200, envParams: { a: 2 } }, ["env", "steps", "envParams"], "a test experiment"));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain("holds a test experiment with other settings");
    expect(err.message).toContain("steps: 100 there, 200 now");
    expect(err.message).toContain('envParams: {"a":1} there, {"a":2} now');
    expect(err.message).not.toContain("env:");
    expect(err.hint).toMatch(/another --out/);
    expect(JSON.parse(readFileSync(file, "utf8")).steps).toBe(100);
  });

  it("treats a field absent from an older record as null", () => {
    const file = join(root, "older", "options.json");
    recordFolderSettings(file, { env: "coin-run" }, ["env"], "a test experiment");
    recordFolderSettings(file, { env: "coin-run", cure: null }, ["env", "cure"], "a test experiment");
    const err = thrown(() => recordFolderSettings(file, { env: "coin-run", cure: "x" }, ["env", "cure"], "a test experiment"));
    expect(err.message).toContain('cure: null there, "x" now');
  });

  it("refuses a damaged record instead of overwriting it", () => {
    const file = join(root, "damaged.json");
    writeFileSync(file, "{not json");
    const err = thrown(() => recordFolderSettings(file, { env: "coin-run" }, ["env"], "a test experiment"));
    expect(err).toBeInstanceOf(RunDirError);
    expect(readFileSync(file, "utf8")).toBe("{not json");
  });
});
