// `weir lint -f FILE|DIR|-`: the validator of the controller and the CRDs, offline. Every problem is
// printed as `file: document N (Kind/name): field: message`; exit 1 when there are problems.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WeirError } from '../errors.ts';
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from '../api/kinds.ts';
import { validateObject } from '../api/validate.ts';

function files(path: string): string[] {
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
    const obj = doc.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
    if (!obj || obj.apiVersion !== API_VERSION) return; // not a Weir object: other tools lint it
    checked++;
    for (const p of validateObject(obj).problems) {
      problems.push(
        `${where} (${obj.kind}/${obj.metadata?.name ?? '?'}): ${p.path ? `${p.path}: ` : ''}${p.message}`,
      );
    }
  });
  return { problems, checked };
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
