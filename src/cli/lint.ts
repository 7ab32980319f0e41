// `weir lint -f FILE|DIR|-`: the validator of the controller and the CRDs, offline. Every problem is
// printed as `file: document N (Kind/name): field: message`; exit 1 when there are problems.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WeirError } from '../errors.ts';
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from '../api/kinds.ts';
import { isShardName, SHARD_LABEL, SHARD_NAME_RULE } from '../api/shard.ts';
import type { CanarySpec } from '../api/canary.ts';
import { validateObject } from '../api/validate.ts';
import { capabilityProblems } from '../routing/capabilities.ts';
import { judgeProblems } from '../analysis/judge.ts';
import { descriptorOf } from '../routing/registry.ts';

/** The files of `path`: itself, the YAML files under a directory (recursively), or - for stdin. */
export function files(path: string): string[] {
  if (path === '-') return ['-'];
  if (!existsSync(path)) throw new WeirError('NOT_FOUND', `${path}: no such file or directory`);
  if (statSync(path).isDirectory()) {
    return readdirSync(path)
      .sort()
      .flatMap((f) =>
        statSync(join(path, f)).isDirectory()
          ? files(join(path, f))
          : /\.ya?ml$/.test(f)
            ? [join(path, f)]
            : [],
      );
  }
  return [path];
}

export function lintText(file: string, text: string): { problems: string[]; checked: number } {
  const problems: string[] = [];
  let checked = 0;
  parseAllDocuments(text).forEach((doc, i) => {
    const where = `${file}: document ${i + 1}`;
    if (doc.errors.length) {
      for (const e of doc.errors)
        problems.push(`${where}: line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`);
      return;
    }
    const obj = doc.toJS() as {
      apiVersion?: string;
      kind?: string;
      metadata?: { name?: string; labels?: Record<string, string> };
    } | null;
    if (!obj || obj.apiVersion !== API_VERSION) return; // not a Weir object: other tools lint it
    checked++;
    const { object, problems: found } = validateObject(obj);
    const all = [...found, ...(found.length ? [] : providerProblems(object)), ...shardProblems(obj)];
    for (const p of all) {
      problems.push(
        `${where} (${obj.kind}/${obj.metadata?.name ?? '?'}): ${p.path ? `${p.path}: ` : ''}${p.message}`,
      );
    }
  });
  return { problems, checked };
}

/**
 * A valid Canary that asks its provider for something the provider cannot do (its descriptor's
 * capabilities), as the controller would refuse it. Only a provider named in spec.provider is
 * checked (the controller's --default-provider is unknown here), and only one this build has a
 * router for: a Canary for a provider still to come is a valid object, which the controller
 * reports as not supported yet.
 */
function providerProblems(object: {
  kind?: unknown;
  spec?: unknown;
}): Array<{ path: string; message: string }> {
  if (object.kind !== 'Canary') return [];
  const spec = object.spec as CanarySpec | undefined;
  if (!spec) return [];
  const judges = judgeProblems(spec);
  if (!spec.provider || !descriptorOf(spec.provider)) return judges;
  return [...capabilityProblems(spec, spec.provider), ...judges];
}

/**
 * A Canary or GitSync whose weir.dev/shard label no controller could own: --shard takes shard names
 * only (src/api/shard.ts), so such an object would never be reconciled (docs/sharding.md).
 */
function shardProblems(obj: {
  kind?: string;
  metadata?: { labels?: Record<string, string> };
}): Array<{ path: string; message: string }> {
  if (obj.kind !== 'Canary' && obj.kind !== 'GitSync') return [];
  const shard = obj.metadata?.labels?.[SHARD_LABEL];
  if (shard === undefined || isShardName(String(shard))) return [];
  return [
    {
      path: `metadata.labels.${SHARD_LABEL}`,
      message: `${JSON.stringify(shard)} is not a shard name (${SHARD_NAME_RULE}): no controller's --shard can own it, so it would never be reconciled`,
    },
  ];
}

/** `weir lint`: every problem on stdout, then a summary; returns the exit code (1 on problems). */
export function runLint(paths: string[]): number {
  let problems: string[] = [];
  let checked = 0;
  for (const f of paths.flatMap(files)) {
    let text: string;
    try {
      text = readFileSync(f === '-' ? 0 : f, 'utf8');
    } catch (err) {
      throw new WeirError('NOT_FOUND', `cannot read ${f}`, { cause: err });
    }
    const r = lintText(f === '-' ? '<stdin>' : f, text);
    problems = problems.concat(r.problems);
    checked += r.checked;
  }
  for (const p of problems) console.log(p);
  console.log(
    problems.length ? `${problems.length} problem(s) in ${checked} object(s)` : `${checked} object(s) valid`,
  );
  return problems.length ? 1 : 0;
}
