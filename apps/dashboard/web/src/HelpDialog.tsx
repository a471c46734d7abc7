import { useEffect, useRef } from 'react';

/** The keyboard shortcuts, as documented in docs/dashboard.md. */
export const SHORTCUTS: ReadonlyArray<[string, string]> = [
  ['j / k', 'select the next / previous case'],
  ['a', 'approve the selected case (asks to confirm: Enter or y)'],
  ['r', 'reject the selected case (asks to confirm)'],
  ['h', 'heal now the selected rejected case (asks to confirm)'],
  ['/', 'search agents'],
  ['?', 'this help'],
  ['Esc', 'close a dialog'],
];

export function HelpDialog({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="help-title">
      <h2 id="help-title">Keyboard shortcuts</h2>
      <dl className="shortcuts">
        {SHORTCUTS.map(([key, what]) => (
          <div key={key}>
            <dt>
              <kbd>{key}</kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
      <button type="button" onClick={() => ref.current?.close()}>
        Close
      </button>
    </dialog>
  );
}
