import { describe, expect, it } from 'vitest';
import { renderTemplate } from './helm-render.js';

const scope = {
  Values: { name: 'x', empty: '', on: true, off: false, services: { a: { n: 2, res: { cpu: '1m' } } } },
  Release: { Namespace: 'ns' },
};

describe('the Helm template renderer of the tests', () => {
  it('trims the whitespace beside {{- and -}} as Go templates do', () => {
    expect(renderTemplate('a:\n  - 1\n  {{- if .Values.on }}\n  - 2\n  {{- end }}\nb', scope)).toBe(
      'a:\n  - 1\n  - 2\nb',
    );
    expect(renderTemplate('a:\n  - 1\n  {{- if .Values.off }}\n  - 2\n  {{- end }}\nb', scope)).toBe(
      'a:\n  - 1\nb',
    );
    expect(renderTemplate('a {{ .Values.name -}}   b', scope)).toBe('a xb');
  });

  it('evaluates the pipelines the generator writes', () => {
    expect(renderTemplate('{{ .Values.empty | default .Release.Namespace | quote }}', scope)).toBe('"ns"');
    expect(renderTemplate('{{ (index .Values.services "a").n | quote }}', scope)).toBe('"2"');
    expect(renderTemplate('r:\n  {{- toYaml (index .Values.services "a").res | nindent 2 }}', scope)).toBe(
      'r:\n  cpu: 1m',
    );
    expect(renderTemplate('{{- if eq .Values.name "x" }}yes{{- end }}', scope)).toBe('yes');
    expect(renderTemplate('{{- if not (has .Values.name (list "y" "z")) }}no{{- end }}', scope)).toBe('no');
  });

  it('fails on what it does not implement instead of rendering something else', () => {
    expect(() => renderTemplate('{{ .Values.missing }}', scope)).toThrow(/no value/);
    expect(() => renderTemplate('{{ upper .Values.name }}', scope)).toThrow(/unknown function upper/);
    expect(() => renderTemplate('{{- if .Values.on }}a{{- else }}b{{- end }}', scope)).toThrow(/unsupported/);
    expect(() => renderTemplate('{{ .Values.services }}', scope)).toThrow(/collection/);
    expect(() => renderTemplate('{{- if .Values.on }}a', scope)).toThrow(/without/);
    expect(() => renderTemplate('{{ fail "stop" }}', scope)).toThrow(/stop/);
  });
});
