import { useEffect, useState } from 'react';

// Two pages and a few filters do not need a router library: the location is the state, links push history,
// and Back works. (TanStack Router would add ~40 kB for this.)

export type Route =
  | { page: 'home' }
  | { page: 'agent'; agentId: string }
  | { page: 'incident'; infectionId: string };

export function parseRoute(pathname: string): Route {
  const agent = /^\/agents\/([^/]+)\/?$/.exec(pathname);
  if (agent) return { page: 'agent', agentId: decodeURIComponent(agent[1]!) };
  const incident = /^\/incidents\/([^/]+)\/?$/.exec(pathname);
  if (incident) return { page: 'incident', infectionId: decodeURIComponent(incident[1]!) };
  return { page: 'home' };
}

export function navigate(to: string): void {
  window.history.pushState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** The current location, re-rendered on navigation. */
export function useLocation(): URL {
  const [href, setHref] = useState(window.location.href);
  useEffect(() => {
    const update = () => setHref(window.location.href);
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return new URL(href);
}

/** Sets one search parameter (filters live in the URL, so a view can be shared and survives reloads). */
export function setSearchParam(name: string, value: string): void {
  const url = new URL(window.location.href);
  if (value === '') url.searchParams.delete(name);
  else url.searchParams.set(name, value);
  window.history.replaceState(null, '', url);
  window.dispatchEvent(new PopStateEvent('popstate'));
}
