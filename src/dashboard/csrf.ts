// Cross-site request refusal for the dashboard's POSTs (with the session's CSRF token, checked in
// app.ts): a browser says where a request comes from in Sec-Fetch-Site (all current browsers) and
// Origin; either naming another site refuses the request. The SameSite=Strict cookie is a third wall.
import type { IncomingHttpHeaders } from 'node:http';

/** Why the request is cross-site, or undefined when it comes from the dashboard's own pages. */
export function crossSiteReason(headers: IncomingHttpHeaders): string | undefined {
  const site = headers['sec-fetch-site'];
  if (site && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site: ${site}`;
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return `Origin ${origin}`;
  }
  return host === headers.host ? undefined : `Origin ${origin} is not ${headers.host}`;
}
