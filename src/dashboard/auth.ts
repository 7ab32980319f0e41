// Who may use the dashboard, through Kubernetes itself. Two authenticators:
// - local (`weir dashboard`): a random one-time token printed in the URL, exchanged once for a session;
//   reads and patches then use the user's own kubeconfig, so the API server decides as for the CLI;
// - cluster (the controller's listener): a bearer token checked with TokenReview, and every view or
//   action checked with a SubjectAccessReview for that user on that Canary.
// Sessions live in memory only (the token is never written anywhere): a cookie holds a random id.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  type KubeConfig,
  type V1UserInfo,
} from '@kubernetes/client-node';

export type Verb = 'get' | 'list' | 'patch';
/** The Weir resources (group weir.dev) the dashboard shows; a view of each is authorised alike. */
export type Resource = 'canaries' | 'gitsyncs';

export interface Identity {
  username: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

export interface Authenticator {
  mode: 'local' | 'cluster';
  /** The identity a presented token proves, or undefined (forged, expired, already used). */
  login(token: string): Promise<Identity | undefined>;
  /** Whether `who` may `verb` `resource` (Canaries by default) in `namespace` (a named one, or the collection). */
  may(who: Session, verb: Verb, namespace: string, name?: string, resource?: Resource): Promise<boolean>;
  /** Whether a session is still good (its token still reviews), checked now and then. */
  stillValid(who: Session): Promise<boolean>;
}

export interface Session {
  id: string;
  csrf: string;
  identity: Identity;
  /** Cluster mode: the bearer token, kept in memory to review it again (expiry, revocation). */
  token?: string;
  reviewedAt: number;
  expiresAt: number;
}

export const COOKIE = 'weir_session';
const SESSION_MS = 8 * 3600_000;
/** A session's token is reviewed again after this long, so an expired or revoked one ends it. */
const REVIEW_MS = 60_000;

const random = () => randomBytes(32).toString('base64url');

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Sessions {
  private readonly byId = new Map<string, Session>();
  constructor(private readonly auth: Authenticator) {}

  async open(token: string): Promise<Session | undefined> {
    const identity = await this.auth.login(token);
    if (!identity) return undefined;
    const now = Date.now();
    const s: Session = {
      id: random(),
      csrf: random(),
      identity,
      ...(this.auth.mode === 'cluster' ? { token } : {}),
      reviewedAt: now,
      expiresAt: now + SESSION_MS,
    };
    this.byId.set(s.id, s);
    return s;
  }

  async find(id: string | undefined): Promise<Session | undefined> {
    const s = id ? this.byId.get(id) : undefined;
    if (!s) return undefined;
    const now = Date.now();
    if (now > s.expiresAt) return this.drop(s);
    if (now - s.reviewedAt > REVIEW_MS) {
      if (!(await this.auth.stillValid(s))) return this.drop(s);
      s.reviewedAt = now;
    }
    return s;
  }

  close(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }

  private drop(s: Session): undefined {
    this.byId.delete(s.id);
    return undefined;
  }
}

/** `weir dashboard`: the one-time token of the printed URL; the kubeconfig user is who acts. */
export function localAuthenticator(user: string): Authenticator & { token: string } {
  const token = random();
  let used = false;
  return {
    mode: 'local',
    token,
    async login(presented) {
      if (used || !sameSecret(presented, token)) return undefined;
      used = true;
      return { username: user, groups: [] };
    },
    may: async () => true,
    stillValid: async () => true,
  };
}

/** The controller's listener: TokenReview for who, SubjectAccessReview for what. */
export function clusterAuthenticator(kc: KubeConfig): Authenticator {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const review = async (token: string): Promise<Identity | undefined> => {
    if (!token.trim()) return undefined;
    const r = await authn.createTokenReview({ body: { spec: { token: token.trim() } } });
    if (!r.status?.authenticated || !r.status.user?.username) return undefined;
    return identityOf(r.status.user);
  };
  return {
    mode: 'cluster',
    login: review,
    async stillValid(s) {
      return !!s.token && (await review(s.token).catch(() => undefined)) !== undefined;
    },
    async may(who, verb, namespace, name, resource = 'canaries') {
      const { username, groups, uid, extra } = who.identity;
      const r = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: username,
            groups,
            ...(uid ? { uid } : {}),
            ...(extra ? { extra } : {}),
            resourceAttributes: { group: 'weir.dev', resource, verb, namespace, ...(name ? { name } : {}) },
          },
        },
      });
      return r.status?.allowed === true;
    },
  };
}

function identityOf(u: V1UserInfo): Identity {
  return {
    username: u.username!,
    groups: u.groups ?? [],
    ...(u.uid ? { uid: u.uid } : {}),
    ...(u.extra ? { extra: u.extra } : {}),
  };
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

export const sessionCookie = (id: string, secure: boolean): string =>
  `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;

export const clearedCookie = `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
