// Errors with a stable code (for logs, status conditions and CLI exit codes) and a cause.
export type ErrorCode =
  | 'INVALID_SPEC'
  | 'NOT_FOUND'
  | 'CONFIG'
  | 'KUBE_API'
  | 'METRIC_NO_DATA'
  | 'METRIC_QUERY'
  | 'METRIC_HTTP'
  | 'METRIC_TIMEOUT'
  | 'TEMPLATE'
  | 'WEBHOOK'
  | 'ALERT'
  | 'ROUTING'
  | 'GIT'
  | 'USAGE'
  | 'UNREACHABLE'
  // A referenced Secret/ConfigMap's content is still being read (src/kube/content.ts): requeue, do not decide.
  | 'LOADING';

export class WeirError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WeirError';
  }
}

export function isWeirError(err: unknown, code?: ErrorCode): err is WeirError {
  return err instanceof WeirError && (code === undefined || err.code === code);
}

/** A one-line description of any thrown value, with the cause chain. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // Only the first line of a cause: API client errors append whole HTTP headers below it.
  const cause = err.cause ? ` (cause: ${describeError(err.cause).split('\n')[0]})` : '';
  return `${err.message}${cause}`;
}
