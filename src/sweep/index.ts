// Sweeps over seeds and settings: specs, job kinds, the local worker pool, the BullMQ/Redis queue, summaries and
// the sweep folder — re-exported as the `sweep` namespace of the library.
export * from "./jobs.js";
export * from "./spec.js";
export * from "./pool.js";
export * from "./summary.js";
export * from "./folder.js";
export * from "./record.js";
export * from "./local.js";
export * from "./queue.js";
export * from "./examples.js";
