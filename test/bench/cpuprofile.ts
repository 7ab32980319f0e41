// The functions a V8 CPU profile (`node --cpu-prof`) spent its time in: top self time and top total
// time (self plus callees, each function counted once per sample), and time by package.
//
//   npx tsx test/bench/cpuprofile.ts FILE.cpuprofile [top=25] [fromS toS]
// fromS/toS: only the samples in that window (seconds since the profile started).
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg, fromArg, toArg] = process.argv.slice(2);
if (!file) throw new Error('usage: cpuprofile.ts FILE.cpuprofile [top]');
const TOP = Number(topArg ?? 25);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** A readable name: function, then file (shortened to the package or src path) and line. */
function label(n: Node): string {
  const { functionName, url, lineNumber } = n.callFrame;
  return `${functionName || '(anonymous)'} ${where(url)}:${lineNumber + 1}`;
}
function where(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const src = url.search(/\/(dist|src)\//);
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
}
function pkg(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (/\/(dist|src)\//.test(url)) return `weir ${url.split(/\/(?:dist|src)\//)[1]?.split('/')[0] ?? ''}`;
  return url.startsWith('node:') ? 'node' : url ? 'other' : '(vm)';
}

const self = new Map<string, number>();
const total = new Map<string, number>();
const byPkg = new Map<string, number>();
let all = 0;
let at = 0;
const from = Number(fromArg ?? 0) * 1e6;
const to = toArg === undefined ? Infinity : Number(toArg) * 1e6;
p.samples.forEach((id, i) => {
  at += p.timeDeltas[i] ?? 0;
  if (at < from || at > to) return;
  const dt = (p.timeDeltas[i] ?? 0) / 1000;
  all += dt;
  const n = byId.get(id)!;
  const name = label(n);
  self.set(name, (self.get(name) ?? 0) + dt);
  if (!['(idle)', '(program)', '(garbage collector)'].includes(n.callFrame.functionName)) {
    const k = pkg(n.callFrame.url) || n.callFrame.functionName;
    byPkg.set(k, (byPkg.get(k) ?? 0) + dt);
  } else byPkg.set(n.callFrame.functionName, (byPkg.get(n.callFrame.functionName) ?? 0) + dt);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + dt);
  }
});

const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP))
    console.log(`${(v / 1000).toFixed(3).padStart(9)} s ${((100 * v) / all).toFixed(1).padStart(5)}%  ${k}`);
};
console.log(`${file}: ${(all / 1000).toFixed(2)} s sampled`);
show('self time', self);
show('total time', total);
show('self time by package', byPkg);
