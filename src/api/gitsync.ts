// GitSync: the Git reconciler's object (shaped like Flux's GitRepository + Kustomization in one).
import { Type, type Static } from '@sinclair/typebox';
import { Condition, Duration, Name, Obj, minDuration, type CelRule } from './schema-kit.ts';

/** Upper bounds: a sync is at least daily, and one sync step waits at most an hour. */
export const MAX_INTERVAL = '24h';
export const MAX_TIMEOUT = '1h';

function maxDuration(field: string, max: string): CelRule {
  return {
    rule: `!has(self.${field}) || duration(self.${field}) <= duration('${max}')`,
    message: `${field} must be at most ${max}`,
    fieldPath: `.${field}`,
  };
}

export const GitSyncSpec = Obj(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      pattern: '^((https?|ssh|git|file)://.+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:.+)$',
      description: 'Repository URL: https://, http://, ssh://, git://, file:// or user@host:path.',
    }),
    ref: Obj(
      {
        branch: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        tag: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        commit: Type.Optional(Type.String({ pattern: '^[0-9a-f]{7,40}$' })),
      },
      {
        rules: [
          {
            rule: '[has(self.branch), has(self.tag), has(self.commit)].filter(x, x).size() == 1',
            message: 'ref sets exactly one of branch, tag or commit',
          },
        ],
        default: { branch: 'main' },
      },
    ),
    path: Type.String({
      default: '.',
      maxLength: 1024,
      pattern: '^[^/]',
      description: 'Directory inside the repository, relative to its root.',
    }),
    interval: Duration({ default: '1m', description: 'How often to sync: 10s to 24h.' }),
    timeout: Duration({
      default: '60s',
      description: 'Limit for a fetch and for waiting on CRDs to become Established: 1s to 1h.',
    }),
    prune: Type.Boolean({ default: false }),
    serviceAccountName: Type.Optional(
      Name(
        'ServiceAccount of the GitSync namespace to apply, prune and read as (impersonation). ' +
          'Unset: the controller flag --default-service-account, else the controller itself.',
      ),
    ),
    adopt: Type.Optional(
      Type.Boolean({
        description:
          'Take over existing objects that no GitSync applied (otherwise the sync fails naming them; ' +
          'a single object opts in with the annotation weir.dev/gitsync-adopt: "true").',
      }),
    ),
    secretRef: Type.Optional(
      Obj(
        { name: Name() },
        {
          description:
            'Secret with `username`+`password` or `token` (https), or `identity`+`known_hosts` (ssh).',
        },
      ),
    ),
    suspend: Type.Optional(Type.Boolean()),
    targetNamespace: Type.Optional(Name('Namespace for namespaced objects that name none.')),
    webhookSecretRef: Type.Optional(
      Obj({ name: Name() }, { description: 'Secret with key `token` for the receiver.' }),
    ),
  },
  {
    rules: [
      minDuration('interval', '10s'),
      maxDuration('interval', MAX_INTERVAL),
      {
        rule: "!self.path.contains('..')",
        message: 'path must stay inside the repository (no ..)',
        fieldPath: '.path',
      },
      minDuration('timeout', '1s'),
      maxDuration('timeout', MAX_TIMEOUT),
    ],
  },
);

const InventoryEntry = Obj({
  apiVersion: Type.String(),
  kind: Type.String(),
  namespace: Type.Optional(Type.String()),
  name: Type.String(),
});

const CanarySummary = Obj(
  {
    name: Type.String(),
    namespace: Type.String(),
    phase: Type.Optional(Type.String()),
    gitRevision: Type.Optional(
      Type.String({ description: 'Git commit that last changed the target Deployment.' }),
    ),
  },
  { description: 'A Canary this GitSync applies: its phase and the Git revision of its target.' },
);

export const GitSyncStatus = Obj({
  observedGeneration: Type.Optional(Type.Integer()),
  lastAttemptedRevision: Type.Optional(Type.String()),
  lastAppliedRevision: Type.Optional(Type.String()),
  lastAppliedTime: Type.Optional(Type.String({ format: 'date-time' })),
  lastHandledSyncRequest: Type.Optional(Type.String()),
  conditions: Type.Optional(Type.Array(Condition)),
  inventory: Type.Optional(Type.Array(InventoryEntry)),
  canaries: Type.Optional(Type.Array(CanarySummary)),
});

export type GitSyncSpec = Static<typeof GitSyncSpec>;
export type GitSyncStatus = Static<typeof GitSyncStatus>;
