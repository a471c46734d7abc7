/**
 * The repository boundary: domain objects carry epoch milliseconds and plain JSON values, the database holds
 * timestamptz and jsonb. Converting here, and only here, keeps both sides honest.
 */

export const toDate = (ms: number): Date => new Date(ms);

export const toMillis = (date: Date): number => date.getTime();

export const toMillisOrNull = (date: Date | null): number | null => (date === null ? null : date.getTime());

/** jsonb parameters go in as text: the pg driver would turn a JS array into a Postgres array literal. */
export const toJson = (value: unknown): string => JSON.stringify(value);
