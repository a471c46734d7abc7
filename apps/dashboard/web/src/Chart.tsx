import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Band, BandSteps } from './band.js';

export interface Annotation {
  ts: number;
  label: string;
  kind: 'cure' | 'lifecycle';
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/**
 * One metric over time (uPlot, canvas): the baseline band behind the line, a vertical mark per annotation
 * (cures solid, lifecycle changes dashed). The band moves over time: each σ-history bucket's band holds until
 * the next bucket (the baseline only changes when the agent's vitals are learned), with its top edge, the
 * anomaly threshold, stroked; without any bucket in the window the sentinel's band now spans the chart. The
 * figure's text alternative lists the same facts.
 */
export function MetricChart({
  metric,
  ts,
  values,
  band,
  steps,
  annotations,
}: {
  metric: string;
  ts: readonly number[];
  values: readonly number[];
  band: Band | null;
  steps: BandSteps | null;
  annotations: readonly Annotation[];
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = ref.current;
    if (element === null) return;
    const drawBand = (u: uPlot) => {
      const left = u.bbox.left;
      const right = left + u.bbox.width;
      const spans =
        steps !== null
          ? steps.ts.map((start, i) => ({
              from: Math.max(left, u.valToPos(start / 1000, 'x', true)),
              to: i + 1 < steps.ts.length ? u.valToPos(steps.ts[i + 1]! / 1000, 'x', true) : right,
              low: steps.low[i]!,
              high: steps.high[i]!,
            }))
          : band !== null
            ? [{ from: left, to: right, low: band.low, high: band.high }]
            : [];
      u.ctx.save();
      u.ctx.beginPath();
      u.ctx.rect(left, u.bbox.top, u.bbox.width, u.bbox.height);
      u.ctx.clip();
      for (const span of spans) {
        if (span.to <= span.from) continue;
        const top = u.valToPos(span.high, 'y', true);
        const bottom = u.valToPos(span.low, 'y', true);
        u.ctx.fillStyle = cssVar('--band');
        u.ctx.fillRect(span.from, top, span.to - span.from, bottom - top);
        u.ctx.strokeStyle = cssVar('--muted');
        u.ctx.lineWidth = 1;
        u.ctx.beginPath();
        u.ctx.moveTo(span.from, top);
        u.ctx.lineTo(span.to, top);
        u.ctx.stroke();
      }
      u.ctx.restore();
    };
    const drawAnnotations = (u: uPlot) => {
      u.ctx.save();
      for (const note of annotations) {
        const x = u.valToPos(note.ts / 1000, 'x', true);
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
        u.ctx.strokeStyle = cssVar(note.kind === 'cure' ? '--cure' : '--muted');
        u.ctx.setLineDash(note.kind === 'cure' ? [] : [4, 4]);
        u.ctx.lineWidth = 2;
        u.ctx.beginPath();
        u.ctx.moveTo(x, u.bbox.top);
        u.ctx.lineTo(x, u.bbox.top + u.bbox.height);
        u.ctx.stroke();
      }
      u.ctx.restore();
    };
    const axis = { stroke: cssVar('--fg'), grid: { stroke: cssVar('--grid') } };
    const plot = new uPlot(
      {
        width: Math.max(element.clientWidth, 320),
        height: 240,
        scales: { x: { time: true } },
        axes: [axis, axis],
        series: [{}, { label: metric, stroke: cssVar('--accent'), width: 2 }],
        hooks: { drawClear: [drawBand], draw: [drawAnnotations] },
      },
      [ts.map((t) => t / 1000), [...values]],
      element,
    );
    return () => plot.destroy();
  }, [metric, ts, values, band, steps, annotations]);
  return (
    <figure
      className="chart"
      data-testid={`chart-${metric}`}
      data-points={ts.length}
      data-band={band === null ? 'none' : `${band.low.toFixed(2)}..${band.high.toFixed(2)}`}
      data-band-samples={band?.samples ?? 0}
      data-band-steps={steps?.ts.length ?? 0}
      data-annotations={annotations.length}
    >
      <div ref={ref} role="img" aria-label={`${metric} over time`} />
      <figcaption>
        {metric}: {ts.length} samples.{' '}
        {band
          ? `Sentinel's learned baseline now: ${band.low.toFixed(1)} – ${band.high.toFixed(1)} (typical ${band.typical.toFixed(1)}, ±${band.k}σ on the judged scale, ${band.samples} samples${band.young ? ', still warming up' : ''}).`
          : 'No learned baseline for this metric.'}{' '}
        {steps &&
          `Band over the window from the σ history: ${steps.ts.length} buckets, worst ${Math.max(...steps.worst_sigma).toFixed(1)}σ, anomaly threshold ${steps.threshold[steps.threshold.length - 1]}σ. `}
        {annotations.length > 0 && (
          <span>
            Marks:{' '}
            {annotations
              .map((note) => `${note.label} at ${new Date(note.ts).toLocaleTimeString()}`)
              .join('; ')}
            .
          </span>
        )}
      </figcaption>
    </figure>
  );
}
