// The API server's audit log of a test cluster started with `auditLog: true` (AUDIT_POLICY in
// components.ts records every write with its user): read by the tests that judge who wrote what.
import { readFileSync } from 'node:fs';

export const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  user: { username: string };
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

/** The completed requests of the audit log at `path`, oldest first. */
export function readAudit(path: string): AuditEvent[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete' || e.stage === 'Panic');
}
