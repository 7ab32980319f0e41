// GitSync: the Git reconciler's object (shaped like Flux's GitRepository + Kustomization in one).
import { Type, type Static } from '@sinclair/typebox';
import { Condition, Duration, Name, Obj, StringEnum, minDuration, type CelRule } from './schema-kit.ts';

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
    rollback: Type.Optional(
      Obj(
        {
          writeBack: Type.Optional(
            Obj(
              {
                branch: Type.Optional(
                  Type.String({
                    minLength: 1,
                    maxLength: 255,
                    description: 'Branch to push to (default: ref.branch, the branch this GitSync syncs).',
                  }),
                ),
                secretRef: Type.Optional(
                  Obj(
                    { name: Name() },
                    {
                      description:
                        'Secret with push credentials, same keys as spec.secretRef (default: spec.secretRef).',
                    },
                  ),
                ),
                message: Type.Optional(
                  Type.String({
                    maxLength: 1024,
                    description:
                      'Subject line of the commit; {{ canary }}, {{ target }}, {{ revision }} and {{ kept }} are replaced. The body always names the failed revision and the rollback reason.',
                  }),
                ),
              },
              {
                description:
                  "After a Canary this GitSync applies rolls back, commit the primary's pod template fields into the file of its target Deployment and push it.",
              },
            ),
          ),
        },
        { description: 'What Git is told when a Canary this GitSync applies rolls back (docs/gitsync.md).' },
      ),
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
      {
        rule: '!has(self.rollback) || !has(self.rollback.writeBack) || has(self.rollback.writeBack.branch) || !has(self.ref) || has(self.ref.branch)',
        message: 'rollback.writeBack needs a branch when ref is a tag or a commit',
        fieldPath: '.rollback.writeBack',
      },
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

export const ROLLBACK_STATES = ['Pinned', 'WrittenBack'] as const;

const RollbackRecord = Obj(
  {
    canary: Type.String(),
    namespace: Type.String(),
    failedRevision: Type.String({
      description: 'Git commit the Canary rolled back (Git still asked for it).',
    }),
    keptRevision: Type.Optional(Type.String({ description: 'Git commit the primary still runs.' })),
    reason: Type.String({ description: 'Why the Canary rolled back.' }),
    state: StringEnum(ROLLBACK_STATES, {
      description:
        'Pinned: the cluster keeps the primary while Git asks for the failed revision; WrittenBack: a commit restoring the primary was pushed (or found in Git).',
    }),
    commit: Type.Optional(Type.String({ description: 'The write-back commit.' })),
    message: Type.String(),
  },
  { description: 'A rollback of a Canary this GitSync applies, and what Git was told about it.' },
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
  rollbacks: Type.Optional(Type.Array(RollbackRecord, { maxItems: 50 })),
});

export type GitSyncSpec = Static<typeof GitSyncSpec>;
export type GitSyncStatus = Static<typeof GitSyncStatus>;
export type RollbackRecord = Static<typeof RollbackRecord>;
export type WriteBackSpec = NonNullable<NonNullable<GitSyncSpec['rollback']>['writeBack']>;
