import { DEFAULT_SEVERITY_THRESHOLDS, type SeverityThresholds } from './anomaly.js';
import { type ContainmentConfig, DEFAULT_CONTAINMENT_CONFIG } from './containment.js';
import { type CorrelatorConfig, DEFAULT_CORRELATOR_CONFIG } from './correlator.js';
import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig, detectorConfig } from './detector.js';
import { DEFAULT_LIFECYCLE_CONFIG, type LifecycleConfig } from './lifecycle.js';
import { DEFAULT_REPETITION_CONFIG, type RepetitionConfig } from './repetition.js';

/** Everything `AgentTriage` can be tuned by, with its defaults and the one merge of overrides over them. */

export interface TriageConfig {
  detector: DetectorConfig;
  lifecycle: LifecycleConfig;
  correlator: CorrelatorConfig;
  repetition: RepetitionConfig;
  severity: SeverityThresholds;
  /**
   * σ at or above which a corroborated anomaly is enough to quarantine, without waiting for
   * `confirmAnomalies`. For the per-vital metrics, corroborated means the detector's sustained evidence is
   * over its alarm level (never one vital alone); windowed rates, prompt changes and repetition loops are
   * built from several vitals already.
   */
  severeSigma: number;
  /**
   * How long an agent stays SUSPECTED before any escalation, ms, so the fleet picture (other agents, other
   * sentinel instances) can form first. It must cover the time the agents hit by a shared cause take to report
   * it: with calls every few seconds and tallies exchanged every ~0.5 s, 10 s. 0 escalates at once.
   */
  fleetHoldMs: number;
  /** Vitals kept per agent for the infection report (in memory only; not checkpointed). */
  recentVitals: number;
  /** Vital ids remembered per agent so a redelivered vital is not counted twice (at most 255). */
  dedupeWindow: number;
  /**
   * An agent counts in the active fleet while its last vital is at most this old, ms. It matches the
   * correlator's window by default: an agent idle for the whole window could not have shown the anomaly, so
   * counting it would only dilute the fraction.
   */
  activeWindowMs: number;
  /** A peer's fleet tally older than this (relative to `now`) is ignored, ms. */
  peerStaleMs: number;
  /** Soft containment of a SUSPECTED agent at its first severe, corroborated vital (see containment.ts). */
  containment: ContainmentConfig;
}

export const DEFAULT_TRIAGE_CONFIG: TriageConfig = {
  detector: DEFAULT_DETECTOR_CONFIG,
  lifecycle: DEFAULT_LIFECYCLE_CONFIG,
  correlator: DEFAULT_CORRELATOR_CONFIG,
  repetition: DEFAULT_REPETITION_CONFIG,
  severity: DEFAULT_SEVERITY_THRESHOLDS,
  severeSigma: 5,
  fleetHoldMs: 10_000,
  recentVitals: 5,
  dedupeWindow: 16,
  activeWindowMs: 60_000,
  peerStaleMs: 15_000,
  containment: DEFAULT_CONTAINMENT_CONFIG,
};

export interface TriageOverrides {
  detector?: Partial<DetectorConfig>;
  lifecycle?: Partial<LifecycleConfig>;
  correlator?: Partial<CorrelatorConfig>;
  repetition?: Partial<RepetitionConfig>;
  severity?: Partial<SeverityThresholds>;
  severeSigma?: number;
  fleetHoldMs?: number;
  recentVitals?: number;
  dedupeWindow?: number;
  activeWindowMs?: number;
  peerStaleMs?: number;
  containment?: Partial<ContainmentConfig>;
}

/** Merges overrides (from env, a file or CLI flags) over the defaults and validates them. */
export function triageConfig(overrides: TriageOverrides = {}): TriageConfig {
  const { detector, lifecycle, correlator, repetition, severity, containment, ...rest } = overrides;
  const config: TriageConfig = {
    ...DEFAULT_TRIAGE_CONFIG,
    ...stripUndefined(rest),
    detector: detectorConfig(detector),
    lifecycle: { ...DEFAULT_LIFECYCLE_CONFIG, ...stripUndefined(lifecycle ?? {}) },
    correlator: { ...DEFAULT_CORRELATOR_CONFIG, ...stripUndefined(correlator ?? {}) },
    repetition: { ...DEFAULT_REPETITION_CONFIG, ...stripUndefined(repetition ?? {}) },
    severity: { ...DEFAULT_SEVERITY_THRESHOLDS, ...stripUndefined(severity ?? {}) },
    containment: { ...DEFAULT_CONTAINMENT_CONFIG, ...stripUndefined(containment ?? {}) },
  };
  if (!(Number.isInteger(config.dedupeWindow) && config.dedupeWindow >= 1 && config.dedupeWindow <= 255)) {
    throw new RangeError('triage: dedupeWindow must be an integer in 1..255');
  }
  if (!(config.fleetHoldMs >= 0 && config.recentVitals >= 0 && config.severeSigma > 0)) {
    throw new RangeError('triage: fleetHoldMs and recentVitals must be >= 0, severeSigma > 0');
  }
  if (
    !(config.repetition.window >= 1 && config.repetition.window <= 255 && config.repetition.minRepeats >= 2)
  ) {
    throw new RangeError('triage: repetition.window must be in 1..255 and minRepeats at least 2');
  }
  return config;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
