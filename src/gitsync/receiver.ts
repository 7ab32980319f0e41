// The push receiver: `POST /hooks/gitsync/<namespace>/<name>` on the controller's HTTP server. The
// request must carry a signature made with the `token` key of the Secret named in the GitSync's
// `spec.webhookSecretRef`, in one of the forms Git hosts send:
//   GitHub  X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>
//   Gitea   X-Gitea-Signature: <hex HMAC-SHA256> (also Forgejo's and Gogs' headers)
//   GitLab  X-Gitlab-Token: <the token itself>
//   generic X-Signature: sha256=<hex HMAC-SHA256>
// Valid -> 202 and an immediate sync; anything else (unknown GitSync, no secret configured, missing
// or wrong signature) -> 401 and nothing happens. Comparisons are constant-time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../log.ts';

export const RECEIVER_PATH = '/hooks/gitsync/:namespace/:name';
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface ReceiverDeps {
  /** The GitSync's `spec.webhookSecretRef.name`, or undefined when the GitSync or the ref is missing. */
  webhookSecretName(namespace: string, name: string): string | undefined;
  /** The Secret's `token` value. */
  secretToken(namespace: string, secretName: string): Promise<string | undefined>;
  trigger(namespace: string, name: string): Promise<void>;
  log: Logger;
}

/** Equal-length digests of both sides, so the comparison time says nothing about the secret. */
function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function header(headers: FastifyRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Which provider's signature the request carries and whether it is valid for `token`. */
export function verifySignature(
  headers: FastifyRequest['headers'],
  body: Buffer,
  token: string,
): { provider: string; valid: boolean } | undefined {
  const hmac = () => createHmac('sha256', token).update(body).digest('hex');
  const github = header(headers, 'x-hub-signature-256');
  if (github !== undefined)
    return { provider: 'github', valid: safeEqual(github.trim(), `sha256=${hmac()}`) };
  for (const name of ['x-gitea-signature', 'x-forgejo-signature', 'x-gogs-signature']) {
    const v = header(headers, name);
    if (v !== undefined)
      return { provider: name.split('-')[1]!, valid: safeEqual(v.trim().toLowerCase(), hmac()) };
  }
  const gitlab = header(headers, 'x-gitlab-token');
  if (gitlab !== undefined) return { provider: 'gitlab', valid: safeEqual(gitlab, token) };
  const generic = header(headers, 'x-signature');
  if (generic !== undefined)
    return { provider: 'generic', valid: safeEqual(generic.trim(), `sha256=${hmac()}`) };
  return undefined;
}

export function registerReceiver(app: FastifyInstance, deps: ReceiverDeps): void {
  void app.register(async (scope) => {
    // The signature is over the exact bytes sent, so the body is kept raw, whatever its type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) =>
      done(null, body),
    );
    scope.post<{ Params: { namespace: string; name: string } }>(RECEIVER_PATH, async (req, reply) => {
      const { namespace, name } = req.params;
      const log = deps.log.child({ gitsync: `${namespace}/${name}`, component: 'receiver' });
      const deny = (why: string) => {
        log.info({ why }, 'webhook rejected');
        return reply.code(401).send({ error: 'invalid or missing signature' });
      };
      const secretName = deps.webhookSecretName(namespace, name);
      if (!secretName) return deny('no such GitSync, or it has no spec.webhookSecretRef');
      const token = await deps.secretToken(namespace, secretName);
      if (!token) return deny(`Secret ${secretName} missing or without key token`);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const check = verifySignature(req.headers, body, token);
      if (!check) return deny('no signature header');
      if (!check.valid) return deny(`bad ${check.provider} signature`);
      await deps.trigger(namespace, name);
      log.info({ provider: check.provider }, 'webhook accepted, sync triggered');
      return reply.code(202).send({ status: 'sync triggered' });
    });
  });
}
