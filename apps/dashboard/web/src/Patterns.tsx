import { useQuery } from '@tanstack/react-query';
import { api } from './api.js';

/**
 * Learned patterns: immune memory as a diagnosis × cure matrix, each cell "succeeded / tried" across the
 * fleet. Only the diagnoses and cures that were ever tried get a row or a column, so the table stays small.
 */
export function Patterns() {
  const patterns = useQuery({ queryKey: ['patterns'], queryFn: api.patterns });
  const cells = patterns.data?.cells ?? [];
  const diagnoses = (patterns.data?.diagnoses ?? []).filter((d) => cells.some((c) => c.diagnosis === d));
  const actions = (patterns.data?.actions ?? []).filter((a) => cells.some((c) => c.action === a));
  const cell = (diagnosis: string, action: string) =>
    cells.find((c) => c.diagnosis === diagnosis && c.action === action);
  return (
    <section aria-labelledby="patterns-title">
      <h2 id="patterns-title">Learned patterns</h2>
      {cells.length === 0 ? (
        <p className="empty">No cure has finished yet: immune memory is empty.</p>
      ) : (
        <table className="patterns" data-testid="patterns">
          <caption>Cures that worked, per diagnosis (succeeded / tried, across the fleet)</caption>
          <thead>
            <tr>
              <th scope="col">diagnosis</th>
              {actions.map((action) => (
                <th scope="col" key={action}>
                  {action}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {diagnoses.map((diagnosis) => (
              <tr key={diagnosis}>
                <th scope="row">{diagnosis}</th>
                {actions.map((action) => {
                  const found = cell(diagnosis, action);
                  const tried = found === undefined ? 0 : found.succeeded + found.failed;
                  return (
                    <td key={action} data-testid={`pattern-${diagnosis}-${action}`}>
                      {found === undefined || tried === 0
                        ? '–'
                        : `${found.succeeded} / ${tried} (${Math.round((found.succeeded / tried) * 100)} %)`}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
