import { useEffect, useState } from 'react';

export type Theme = 'system' | 'light' | 'dark';
const KEY = 'immune.theme';

/**
 * The colour scheme: the system preference (prefers-color-scheme, via CSS) unless the operator picked one,
 * which is kept in localStorage and set as `data-theme` on <html>.
 */
export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem(KEY) as Theme | null) ?? 'system');
  useEffect(() => {
    if (theme === 'system') {
      document.documentElement.removeAttribute('data-theme');
      localStorage.removeItem(KEY);
    } else {
      document.documentElement.dataset.theme = theme;
      localStorage.setItem(KEY, theme);
    }
  }, [theme]);
  const next = () => setTheme((now) => (now === 'system' ? 'dark' : now === 'dark' ? 'light' : 'system'));
  return [theme, next];
}
