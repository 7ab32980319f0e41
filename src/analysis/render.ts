// Query templates: `{{ name }}`-style placeholders replaced by plain string substitution. There is no
// expression language and nothing is evaluated, so a MetricTemplate cannot run code or read anything
// but the listed variables (Flagger's Go templates allow more; Weir deliberately allows less).
//
// Values are inserted as they are, without PromQL escaping: name, namespace, target and service are
// Kubernetes names the schema already restricts to [a-z0-9-.], and interval is a validated duration.
// `variables.X` come from the Canary's templateVariables, written by the same user who writes the
// query, so they may deliberately carry PromQL fragments (as in Flagger).
import { WeirError } from '../errors.ts';
import type { QueryContext } from './provider.ts';

const PLAIN = ['name', 'namespace', 'target', 'service', 'interval'] as const;
type Plain = (typeof PLAIN)[number];

const VARIABLE = /^variables\.([A-Za-z0-9_-]+)$/;

// `{{ … }}` with anything but braces inside, or a lone `{{` that never closes.
const PLACEHOLDER = /\{\{([^{}]*)\}\}|\{\{/g;

const AVAILABLE = `${PLAIN.map((p) => `{{ ${p} }}`).join(', ')}, {{ variables.X }}`;

export function renderQuery(template: string, ctx: QueryContext): string {
  return template.replace(PLACEHOLDER, (match: string, inner: string | undefined, offset: number) => {
    if (inner === undefined) {
      throw new WeirError('TEMPLATE', `unterminated "{{" at offset ${offset} in query template`);
    }
    return lookup(inner.trim(), match, ctx);
  });
}

function lookup(key: string, match: string, ctx: QueryContext): string {
  if ((PLAIN as readonly string[]).includes(key)) return ctx[key as Plain];
  const v = VARIABLE.exec(key);
  if (v) {
    const name = v[1]!;
    // Own string properties only: `variables.__proto__` or `variables.constructor` never reach
    // Object.prototype.
    const value = Object.hasOwn(ctx.variables, name) ? ctx.variables[name] : undefined;
    if (typeof value !== 'string') {
      throw new WeirError(
        'TEMPLATE',
        `query template uses {{ variables.${name} }} but templateVariables has no "${name}"`,
      );
    }
    return value;
  }
  throw new WeirError('TEMPLATE', `unknown variable ${match} in query template; available: ${AVAILABLE}`);
}
