// The values the fleet's URL filters take, typed from the server's own types (type-only imports): a Record,
// so a new severity or window fails the web type check until it is listed here.
import type { Severity } from '@immune/core';
import type { WindowName } from '../../src/api/schemas.js';

const SEVERITY_SET: Record<Severity, true> = { low: true, medium: true, high: true, critical: true };
export const SEVERITY_VALUES = Object.keys(SEVERITY_SET) as Severity[];

const WINDOW_SET: Record<WindowName, true> = { '15m': true, '1h': true, '6h': true, '24h': true, '7d': true };
export const WINDOW_VALUES = Object.keys(WINDOW_SET) as WindowName[];
export const DEFAULT_WINDOW: WindowName = '1h';

/** The URL's window, or the default when it names none the API knows. */
export function windowOf(value: string | null): WindowName {
  return WINDOW_VALUES.find((name) => name === value) ?? DEFAULT_WINDOW;
}
