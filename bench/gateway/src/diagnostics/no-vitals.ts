/**
 * Diagnostic preload for the `vitals not published` variant: makes the NATS bus's `publishVital` a no-op, so
 * the gateway does everything it normally does except the JetStream publish (and its ack) per request. The
 * bus class is not exported; its prototype is taken from a throw-away connection made here first.
 */
import { disableVitalPublishing } from './preload-support.js';

await disableVitalPublishing();
