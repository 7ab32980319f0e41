// `weir get canary NAME [--watch]` and `weir list canaries [-A] [--watch]`. With --watch the view is
// redrawn from watch events on the Canary, its two Deployments and its Events (never by polling);
// on a terminal each frame replaces the last, elsewhere each changed frame is appended.
import type { CoreV1Event, V1Deployment } from '@kubernetes/client-node';
import type { CanaryObject } from '../canary/context.ts';
import { renderCanary } from './canary-view.ts';
import {
  collectionPath,
  connect,
  deploymentsOf,
  EVENTS,
  eventSelector,
  eventsOf,
  getCanary,
  listObjects,
  type Cli,
} from './kube.ts';
import { RESOURCES, type KubeFlags } from './flags.ts';
import { renderCanaryList } from './list-view.ts';
import { formatList, formatObject, formatStreamItem, type Format } from './output.ts';
import { styleFor } from './style.ts';
import { coalesce, watchCollection, type Watcher } from './watch.ts';

export interface ViewFlags extends KubeFlags {
  watch?: boolean;
  output?: Format;
  color?: boolean;
}

/** Resolves on Ctrl-C / SIGTERM (the normal end of a watch). */
export function untilInterrupted(): Promise<'interrupted'> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve('interrupted');
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** Draws frames: in place on a terminal, appended (only when changed) elsewhere. */
export function frameWriter(out: NodeJS.WriteStream = process.stdout): (text: string) => void {
  let last = '';
  return (text) => {
    // Home, each line then clear-to-end-of-line, then clear below: no flicker between frames.
    if (out.isTTY)
      out.write(`${last ? '' : '\x1b[2J'}\x1b[H${text.split('\n').join('\x1b[K\n')}\x1b[K\n\x1b[J`);
    else if (text !== last) out.write(`${last ? '\n' : ''}${text}\n`);
    last = text;
  };
}

const nameSelector = (name: string) => `metadata.name=${name}`;

interface CanaryState {
  canary: CanaryObject;
  primary?: V1Deployment;
  target?: V1Deployment;
  events: Map<string, CoreV1Event>;
}

const eventKey = (e: CoreV1Event) => e.metadata?.uid ?? `${e.metadata?.namespace}/${e.metadata?.name}`;

export async function getCanaryCommand(name: string, flags: ViewFlags): Promise<number> {
  const cli = connect(flags);
  const ns = cli.namespace;
  const canary = await getCanary(cli, ns, name);
  if (flags.output && !flags.watch) {
    console.log(formatObject(canary, flags.output));
    return 0;
  }
  const deps = await deploymentsOf(cli, canary);
  const events = await eventsOf(cli, 'Canary', ns, name);
  const state: CanaryState = {
    canary,
    primary: deps.primary,
    target: deps.canary,
    events: new Map(events.map((e) => [eventKey(e), e])),
  };
  const style = styleFor(process.stdout, flags.color);
  const render = () =>
    renderCanary(
      {
        canary: state.canary,
        primary: state.primary,
        target: state.target,
        events: [...state.events.values()],
      },
      { style, now: new Date() },
    );
  if (!flags.watch) {
    console.log(render());
    return 0;
  }
  return watchCanary(cli, name, flags, state, render);
}

async function watchCanary(
  cli: Cli,
  name: string,
  flags: ViewFlags,
  state: CanaryState,
  render: () => string,
): Promise<number> {
  const ns = cli.namespace;
  const write = frameWriter();
  const draw = coalesce(() => {
    if (!flags.output) write(render());
  });
  let deployWatchers: Watcher[] = [];
  let watchedTarget: string | undefined;
  // (Re)watches `<target>` and `<target>-primary`, also when spec.targetRef changes.
  const watchDeployments = () => {
    const target = state.canary.spec?.targetRef?.name;
    if (target === watchedTarget) return;
    for (const w of deployWatchers) w.stop();
    watchedTarget = target;
    if (!target) return;
    deployWatchers = [target, `${target}-primary`].map((n) =>
      watchCollection<V1Deployment>(cli.kc, {
        path: collectionPath(RESOURCES.deployment, ns),
        fieldSelector: nameSelector(n),
        onEvent: (e) => {
          const key = n === target ? 'target' : 'primary';
          if (e.type === 'DELETED') delete state[key];
          else state[key] = e.object;
          draw();
        },
      }),
    );
  };
  let deleted: () => void = () => undefined;
  const gone = new Promise<'gone'>((resolve) => (deleted = () => resolve('gone')));
  const canaryWatch = watchCollection<CanaryObject>(cli.kc, {
    path: collectionPath(RESOURCES.canary, ns),
    fieldSelector: nameSelector(name),
    onEvent: (e) => {
      if (e.type === 'DELETED') return deleted();
      state.canary = e.object;
      if (flags.output) console.log(formatStreamItem(e.object, flags.output));
      watchDeployments();
      draw();
    },
  });
  const eventWatch = watchCollection<CoreV1Event>(cli.kc, {
    path: collectionPath(EVENTS, ns),
    fieldSelector: eventSelector('Canary', name),
    onEvent: (e) => {
      if (e.type === 'DELETED') state.events.delete(eventKey(e.object));
      else state.events.set(eventKey(e.object), e.object);
      draw();
    },
  });
  watchDeployments();
  draw();
  // Ages in the view move with the clock: a terminal redraws local state every second (no API calls).
  const tick = process.stdout.isTTY && !flags.output ? setInterval(draw, 1000) : undefined;
  const end = await Promise.race([untilInterrupted(), gone]);
  clearInterval(tick);
  for (const w of [canaryWatch, eventWatch, ...deployWatchers]) w.stop();
  if (end === 'gone') {
    console.error(`Canary ${ns}/${name} was deleted`);
    return 1;
  }
  return 0;
}

export async function listCanariesCommand(flags: ViewFlags): Promise<number> {
  const cli = connect(flags);
  const ns = flags.allNamespaces ? undefined : cli.namespace;
  const items = await listObjects<CanaryObject>(cli, RESOURCES.canary, ns);
  if (flags.output && !flags.watch) {
    console.log(formatList(items, flags.output));
    return 0;
  }
  const style = styleFor(process.stdout, flags.color);
  const byKey = new Map(items.map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c]));
  const render = () =>
    renderCanaryList(
      [...byKey.values()].sort((a, b) =>
        `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
          `${b.metadata.namespace}/${b.metadata.name}`,
        ),
      ),
      { style, now: new Date() },
    );
  if (!flags.watch) {
    console.log(render());
    return 0;
  }
  const write = frameWriter();
  const draw = coalesce(() => write(render()));
  const w = watchCollection<CanaryObject>(cli.kc, {
    path: collectionPath(RESOURCES.canary, ns),
    onEvent: (e) => {
      const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
      if (e.type === 'DELETED') byKey.delete(key);
      else byKey.set(key, e.object);
      if (flags.output) console.log(formatStreamItem(e.object, flags.output));
      else draw();
    },
  });
  if (!flags.output) draw();
  const tick = process.stdout.isTTY && !flags.output ? setInterval(draw, 1000) : undefined;
  await untilInterrupted();
  clearInterval(tick);
  w.stop();
  return 0;
}
