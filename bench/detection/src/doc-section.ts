/**
 * A section of docs/detection-benchmark.md that another script owns (the containment run on the real stack):
 * kept between markers, carried over when the simulation regenerates the rest of the file, and replaced when
 * its own script writes it again.
 */
const START = '<!-- containment:start -->';
const END = '<!-- containment:end -->';

/** The marked section of `doc` with its markers, or '' when there is none. */
export function containmentSection(doc: string): string {
  const from = doc.indexOf(START);
  const to = doc.indexOf(END);
  return from === -1 || to < from ? '' : doc.slice(from, to + END.length);
}

/** `doc` with its marked section replaced by `body` (appended when it has none). */
export function withContainmentSection(doc: string, body: string): string {
  const section = `${START}\n${body.trim()}\n${END}`;
  const existing = containmentSection(doc);
  if (existing !== '') return doc.replace(existing, section);
  return `${doc.trimEnd()}\n\n${section}\n`;
}

/** The series suite's section (`bench:series`), kept the same way by the simulation's regeneration. */
export function seriesSection(doc: string): string {
  const from = doc.indexOf('<!-- series:start -->');
  const end = '<!-- series:end -->';
  const to = doc.indexOf(end);
  return from === -1 || to < from ? '' : doc.slice(from, to + end.length);
}
