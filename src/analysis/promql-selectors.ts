// The vector selectors of a rendered PromQL query: metric name, label matchers, range and modifiers,
// and the function applied to each. This is what the no-data diagnosis (no-data.ts) needs to ask
// Prometheus which part of a selector matches nothing; it is not a PromQL parser. Anything it does
// not understand (a matcher without a string value, an unclosed brace) makes it return no selectors
// at all, so the caller falls back to the plain "no data" message instead of guessing.
//
// Matchers keep their source text (`pod=~"app-[0-9a-z]+"`), so that queries built from them say
// exactly what the user's query said, without a round trip through unescaping and escaping.

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  label: string;
  op: MatchOp;
  /** The string's value, unescaped. */
  value: string;
  /** As written in the query, e.g. `pod=~"app-.*"`. */
  text: string;
}

export interface VectorSelector {
  /** The metric name before the braces; absent for `{__name__="x"}` or `{job="x"}`. */
  name?: string;
  matchers: LabelMatcher[];
  /** The range of a range selector (`5m` of `x[5m]`); absent for an instant selector. */
  range?: string;
  /** `offset …` and `@ …` after the selector, as written. */
  modifiers: string;
  /** The function or aggregation whose argument list holds the selector, e.g. `rate`. */
  fn?: string;
}

type TokenKind = 'ident' | 'string' | 'number' | 'bracket' | 'punct';

interface Token {
  kind: TokenKind;
  text: string;
  /** Strings: the unescaped value. Brackets: the text between [ and ]. */
  value: string;
}

const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values',
  'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
]); // prettier-ignore
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'atan2', 'inf', 'nan', 'offset']);
const MATCH_OPS = new Set<string>(['=', '!=', '=~', '!~']);

class Unparsed extends Error {}

/** Every distinct vector selector of `query`, in order; [] when the query is not understood. */
export function vectorSelectors(query: string): VectorSelector[] {
  try {
    const selectors = scan(tokenize(query));
    const seen = new Set<string>();
    return selectors.filter((s) => {
      const key = `${selectorText(s)}[${s.range ?? ''}]${s.modifiers}|${s.fn ?? ''}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  } catch (err) {
    if (err instanceof Unparsed) return [];
    throw err;
  }
}

/** `name{m1, m2}` from a name and matchers (either may be empty, not both). */
export function selectorText(s: { name?: string | undefined; matchers: readonly LabelMatcher[] }): string {
  const inner = s.matchers.map((m) => m.text).join(', ');
  return `${s.name ?? ''}${inner || !s.name ? `{${inner}}` : ''}`;
}

function scan(tokens: Token[]): VectorSelector[] {
  const out: VectorSelector[] = [];
  const calls: Array<string | undefined> = [];
  let pendingCall: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t.kind === 'punct' && t.text === '(') {
      calls.push(pendingCall);
      pendingCall = undefined;
    } else if (t.kind === 'punct' && t.text === ')') {
      calls.pop();
    } else if (t.kind === 'ident') {
      const word = t.text.toLowerCase();
      if (GROUPING.has(word)) {
        i = next?.text === '(' ? closingParen(tokens, i + 1) : i;
      } else if (word === 'offset') {
        i += next?.text === '-' ? 2 : 1; // its duration (after a subquery; selectors read their own)
      } else if (next?.text === '(' || (AGGREGATIONS.has(word) && GROUPING.has(next?.text ?? ''))) {
        pendingCall = t.text;
      } else if (!KEYWORDS.has(word)) {
        i = selector(tokens, i, t.text, calls.at(-1), out);
      }
    } else if (t.kind === 'punct' && t.text === '{') {
      i = selector(tokens, i - 1, undefined, calls.at(-1), out);
    }
  }
  return out;
}

/** Reads the selector whose name is at `at` (or whose `{` is at at+1); returns its last token. */
function selector(
  tokens: Token[],
  at: number,
  name: string | undefined,
  fn: string | undefined,
  out: VectorSelector[],
): number {
  let i = at;
  const matchers: LabelMatcher[] = [];
  if (tokens[i + 1]?.text === '{') i = readMatchers(tokens, i + 2, matchers);
  let range: string | undefined;
  const bracket = tokens[i + 1];
  if (bracket?.kind === 'bracket') {
    // `x[5m:1m]` is a subquery of the instant selector x: each step sees x as an instant vector.
    if (!bracket.value.includes(':')) range = bracket.value.trim();
    i++;
  }
  const modifiers: string[] = [];
  for (;;) {
    const word = tokens[i + 1]?.text.toLowerCase();
    if (word !== 'offset' && word !== '@') break;
    const sign = tokens[i + 2]?.text === '-' ? '-' : '';
    const arg = tokens[i + 2 + sign.length];
    if (!arg) throw new Unparsed(`${word} without an argument`);
    const call = tokens[i + 3 + sign.length]?.text === '(' ? '()' : '';
    modifiers.push(`${tokens[i + 1]!.text} ${sign}${arg.text}${call}`);
    i += 2 + sign.length + (call ? 2 : 0);
  }
  if (!name && matchers.length === 0) throw new Unparsed('an empty selector');
  out.push({
    ...(name ? { name } : {}),
    matchers,
    ...(range ? { range } : {}),
    modifiers: modifiers.join(' '),
    ...(fn ? { fn } : {}),
  });
  return i;
}

/** Reads `label op "value"` pairs from `from` (just after `{`) to `}`; returns the index of `}`. */
function readMatchers(tokens: Token[], from: number, out: LabelMatcher[]): number {
  let i = from;
  for (;;) {
    const t = tokens[i];
    if (!t) throw new Unparsed('unclosed {');
    if (t.text === '}') return i;
    if (t.text === ',') {
      i++;
      continue;
    }
    const op = tokens[i + 1];
    // Prometheus 3 allows a bare quoted metric name inside the braces: {"my.metric", job="x"}.
    if (t.kind === 'string' && (op?.text === ',' || op?.text === '}')) {
      out.push({ label: '__name__', op: '=', value: t.value, text: `__name__=${t.text}` });
      i++;
      continue;
    }
    const value = tokens[i + 2];
    if ((t.kind !== 'ident' && t.kind !== 'string') || !op || !MATCH_OPS.has(op.text)) {
      throw new Unparsed(`not a label matcher at ${t.text}`);
    }
    if (value?.kind !== 'string') throw new Unparsed(`label ${t.text} without a string value`);
    const label = t.kind === 'string' ? t.value : t.text;
    out.push({ label, op: op.text as MatchOp, value: value.value, text: `${t.text}${op.text}${value.text}` });
    i += 3;
    if (tokens[i]?.text !== ',' && tokens[i]?.text !== '}') throw new Unparsed(`no comma after ${t.text}`);
  }
}

function closingParen(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i]!.text === '(') depth++;
    else if (tokens[i]!.text === ')' && --depth === 0) return i;
  }
  throw new Unparsed('unclosed (');
}

const IDENT = /[A-Za-z_:][A-Za-z0-9_:]*/y;
const NUMBER = /(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)[A-Za-z0-9_]*/y;
const PUNCT = /=~|!~|!=|==|>=|<=|[-+*/%^=<>(){},@]/y;

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const ch = query[i]!;
    if (/\s/.test(ch)) i++;
    else if (ch === '#') i = lineEnd(query, i);
    else if (ch === '"' || ch === "'" || ch === '`') i = readString(query, i, tokens);
    else if (ch === '[') i = readBracket(query, i, tokens);
    else i = readWord(query, i, tokens);
  }
  return tokens;
}

function lineEnd(query: string, from: number): number {
  const end = query.slice(from).search(/[\r\n]/);
  return end < 0 ? query.length : from + end;
}

function readWord(query: string, at: number, tokens: Token[]): number {
  for (const [re, kind] of [
    [NUMBER, 'number'],
    [IDENT, 'ident'],
    [PUNCT, 'punct'],
  ] as const) {
    re.lastIndex = at;
    const m = re.exec(query);
    if (m) {
      tokens.push({ kind, text: m[0], value: m[0] });
      return at + m[0].length;
    }
  }
  throw new Unparsed(`unexpected character ${query[at]}`);
}

const UNESCAPED: Record<string, string> = { n: '\n', r: '\r', t: '\t' };

function readString(query: string, at: number, tokens: Token[]): number {
  const quote = query[at]!;
  let value = '';
  for (let i = at + 1; i < query.length; i++) {
    const ch = query[i]!;
    if (ch === quote) {
      tokens.push({ kind: 'string', text: query.slice(at, i + 1), value });
      return i + 1;
    }
    if (ch === '\\' && quote !== '`') {
      const escaped = query[++i] ?? '';
      value += UNESCAPED[escaped] ?? escaped;
    } else {
      value += ch;
    }
  }
  throw new Unparsed('unterminated string');
}

function readBracket(query: string, at: number, tokens: Token[]): number {
  const end = query.indexOf(']', at);
  if (end < 0) throw new Unparsed('unclosed [');
  const inner = query.slice(at + 1, end);
  tokens.push({ kind: 'bracket', text: query.slice(at, end + 1), value: inner });
  return end + 1;
}
