// Credentials written into URLs (`https://user:password@host/`) are masked before any text that may
// carry a URL reaches a status message, an Event, a log line or an alert. The user name stays, as in
// Go's url.Redacted(), so that a wrong-user mistake is still visible; a lone userinfo (a token used as
// user name) is masked whole.

// scheme:// then userinfo up to the last `@` before the host: `[^…]*` is greedy, so a password with
// an unencoded `@` is masked whole.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>]*)@/gi;

export const REDACTED = '***';

/** `text` with the userinfo of every URL in it masked: `http://u:***@h`, `http://***@h`. */
export function redactCredentials(text: string): string {
  return text.replace(USERINFO, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}${REDACTED}@` : `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@`;
  });
}
