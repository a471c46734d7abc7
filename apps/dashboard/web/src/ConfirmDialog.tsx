import { useEffect, useRef } from 'react';

/** A modal confirm whose default button is the action, so a keyboard decision is the key then Enter. */
export function ConfirmDialog({
  title,
  confirmLabel,
  onConfirm,
  onClose,
}: {
  title: string;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    ref.current?.showModal();
    confirmRef.current?.focus();
  }, []);
  return (
    <dialog
      ref={ref}
      onClose={onClose}
      aria-labelledby="confirm-title"
      onKeyDown={(event) => {
        if (event.key === 'y') {
          onConfirm();
          ref.current?.close();
        }
      }}
    >
      <h2 id="confirm-title">{title}</h2>
      <div className="actions">
        <button
          ref={confirmRef}
          type="button"
          className="primary"
          onClick={() => {
            onConfirm();
            ref.current?.close();
          }}
        >
          {confirmLabel}
        </button>
        <button type="button" onClick={() => ref.current?.close()}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
