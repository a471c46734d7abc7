import type { ReactNode } from 'react';
import { navigate } from './router.js';

/** An in-app link: a real href (new tab, copy link work) that navigates without a reload on a plain click. */
export function Link({ to, children }: { to: string; children: ReactNode }) {
  return (
    <a
      href={to}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
