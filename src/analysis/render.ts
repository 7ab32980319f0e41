// Query templates: `{{ name }}`-style placeholders replaced by plain string substitution. There is no
// expression language and nothing is evaluated, so a MetricTemplate cannot run code or read anything
// but the listed variables (Flagger's Go templates allow more; Weir deliberately allows less).
//
// Every value is escaped for the PromQL context its placeholder stands in, so that a value can never
// end the string it is in and add PromQL of its own. The template and the values may come from
// different people: with cross-namespace references allowed, namespace A runs namespace B's
// (credentialed) template with A's `templateVariables`.
//   "…{{ v }}…"  double-quoted string: \ " newline, CR, tab and control characters are escaped
//   '…{{ v }}…'  single-quoted string: the same, with ' instead of "
//   `…{{ v }}…`  raw string: nothing can be escaped there, so a value with a backtick is refused
//   # …{{ v }}   comment: a value with a line break (which would end the comment) is refused
//   elsewhere    `variables.X` may only be a name, number or duration ([A-Za-z0-9_:.]+), e.g. in
//                `[{{ variables.window }}]`; name, namespace, target, primary, service and interval are
//                Kubernetes names and durations that the schema already restricts, and so are the
//                routing provider's variables (its descriptor's templateVariables, e.g. `route`).
// A value in a regex matcher (=~, !~) stays a regular expression: templates that must match a value
// literally use = or !=.
import { WeirError } from '../errors.ts';
import type { QueryContext } from './provider.ts';

const PLAIN = ['name', 'namespace', 'target', 'primary', 'service', 'interval'] as const;
type Plain = (typeof PLAIN)[number];

const VARIABLE = /^variables\.([A-Za-z0-9_-]+)$/;

// `{{ … }}` with anything but braces inside, or a lone `{{` that never closes.
const PLACEHOLDER = /\{\{([^{}]*)\}\}|\{\{/g;

const available = (ctx: QueryContext) =>
  `${[...PLAIN, ...Object.keys(ctx.provider ?? {})].map((p) => `{{ ${p} }}`).join(', ')}, {{ variables.X }}`;

/** Outside any string a variable may be a metric/label name, a number or a duration, nothing more. */
const BARE_VALUE = /^[A-Za-z0-9_:.]+$/;

/** Where in PromQL's lexical structure a position of the template is. */
type Where = 'code' | 'comment' | '"' | "'" | '`';

interface Lexer {
  where: Where;
  /** The previous character was a backslash inside a quoted string. */
  escaped: boolean;
}

export function renderQuery(template: string, ctx: QueryContext): string {
  const lexer: Lexer = { where: 'code', escaped: false };
  let out = '';
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    const text = template.slice(last, m.index);
    advance(lexer, text);
    out += text;
    const inner = m[1];
    if (inner === undefined) {
      throw new WeirError('TEMPLATE', `unterminated "{{" at offset ${m.index} in query template`);
    }
    const key = inner.trim();
    out += place(lookup(key, m[0], ctx), key, lexer);
    last = m.index + m[0].length;
  }
  return out + template.slice(last);
}

/** Moves the lexer over template text (never over substituted values, which are made inert). */
function advance(lx: Lexer, text: string): void {
  for (const ch of text) {
    if (lx.where === 'code') {
      if (ch === '"' || ch === "'" || ch === '`') lx.where = ch;
      else if (ch === '#') lx.where = 'comment';
    } else if (lx.where === 'comment') {
      if (ch === '\n' || ch === '\r') lx.where = 'code';
    } else if (lx.escaped) {
      lx.escaped = false;
    } else if (ch === '\\' && lx.where !== '`') {
      lx.escaped = true;
    } else if (ch === lx.where) {
      lx.where = 'code';
    }
  }
}

function place(value: string, key: string, lx: Lexer): string {
  const refuse = (why: string): never => {
    throw new WeirError('TEMPLATE', `{{ ${key} }} ${why}`);
  };
  switch (lx.where) {
    case '"':
    case "'":
      // The template's own backslash would escape the value's first character.
      if (lx.escaped) refuse('follows a backslash inside a quoted string in the query template');
      return escapeQuoted(value, lx.where);
    case '`':
      if (value.includes('`'))
        refuse('is inside a raw (backtick) string, where a value containing a backtick cannot be escaped');
      return value;
    case 'comment':
      if (/[\r\n]/.test(value)) refuse('is inside a # comment, where a value may not contain a line break');
      return value;
    case 'code':
      if (key.startsWith('variables.') && !BARE_VALUE.test(value)) {
        refuse(
          `is outside a quoted string, where a value may only be a name, number or duration ` +
            `([A-Za-z0-9_:.]+), got ${JSON.stringify(value.slice(0, 80))}: put the placeholder in quotes, ` +
            `e.g. path="{{ ${key} }}"`,
        );
      }
      return value;
  }
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Escapes for a PromQL (Go-syntax) string quoted with `quote`; other quote characters need none. */
export function escapeQuoted(value: string, quote: '"' | "'"): string {
  let out = '';
  for (const ch of value) {
    if (ch === quote) out += `\\${quote}`;
    else if (ESCAPES[ch]) out += ESCAPES[ch];
    else if (ch < ' ' || ch === '\x7f') out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

function lookup(key: string, match: string, ctx: QueryContext): string {
  if ((PLAIN as readonly string[]).includes(key)) return ctx[key as Plain];
  if (ctx.provider && Object.hasOwn(ctx.provider, key)) return ctx.provider[key]!;
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
  throw new WeirError(
    'TEMPLATE',
    `unknown variable ${match} in query template; available: ${available(ctx)}`,
  );
}
