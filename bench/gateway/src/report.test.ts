import { describe, expect, it } from 'vitest';
import { withReportSection } from './report.js';

describe('withReportSection', () => {
  it('replaces only the report between its markers, keeping the hand-written text around it', () => {
    const doc = [
      '# Gateway benchmark',
      '',
      '## CPU per request (hand-written)',
      '',
      '<!-- bench:start -->',
      'old report',
      '<!-- bench:end -->',
      '',
      'trailing note',
      '',
    ].join('\n');
    const next = withReportSection(doc, '## Aims\n\nnew report\n');
    expect(next).toBe(doc.replace('old report', '## Aims\n\nnew report'));
  });

  it('appends the report with its markers to a document that has none', () => {
    expect(withReportSection('# Gateway benchmark\n\nintro\n', 'report')).toBe(
      '# Gateway benchmark\n\nintro\n\n<!-- bench:start -->\nreport\n<!-- bench:end -->\n',
    );
  });

  it('starts a document with its title when there is none yet', () => {
    expect(withReportSection('', 'report')).toBe(
      '# Gateway benchmark\n\n<!-- bench:start -->\nreport\n<!-- bench:end -->\n',
    );
  });
});
