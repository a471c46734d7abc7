/**
 * The sections of docs/detection-benchmark.md that other scripts own: the series suite (`bench:series`), the
 * per-sample cost (`bench:per-sample`) and the containment run on the real stack (`bench:containment`). Each
 * is kept between its markers, carried over when the simulation regenerates the rest of the file, and
 * replaced when its own script writes it again. In the order the file keeps them.
 */
export const OWNED_SECTIONS = ['series', 'per-sample', 'containment'] as const;
export type OwnedSection = (typeof OWNED_SECTIONS)[number];

const start = (name: OwnedSection) => `<!-- ${name}:start -->`;
const end = (name: OwnedSection) => `<!-- ${name}:end -->`;

/** The section `name` of `doc` with its markers, or '' when there is none. */
export function docSection(doc: string, name: OwnedSection): string {
  const from = doc.indexOf(start(name));
  const to = doc.indexOf(end(name));
  return from === -1 || to < from ? '' : doc.slice(from, to + end(name).length);
}

/** `doc` with its section `name` replaced by `body` (appended when it has none). */
export function withDocSection(doc: string, name: OwnedSection, body: string): string {
  const section = `${start(name)}\n${body.trim()}\n${end(name)}`;
  const existing = docSection(doc, name);
  if (existing !== '') return doc.replace(existing, () => section);
  return `${doc.trimEnd()}\n\n${section}\n`;
}
