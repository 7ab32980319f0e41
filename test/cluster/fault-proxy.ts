// An HTTP proxy in front of a real server (Prometheus) that injects the faults an analysis must
// survive: the server gone (connections refused, as when Prometheus is stopped), answers slower than
// the client's timeout, and flapping between the two states. Each Canary under test can get its own
// proxy (a MetricTemplate's `provider.address`), so one Prometheus serves several faults at once.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type FaultMode =
  | { kind: 'pass' }
  /** The listener is closed: new connections are refused (ECONNREFUSED), open ones are cut. */
  | { kind: 'down' }
  /** Every answer is held `delayMs` before it is sent. */
  | { kind: 'slow'; delayMs: number }
  /** Alternates between up (pass) and down every `periodMs`, starting up. */
  | { kind: 'flap'; periodMs: number };

export interface FaultProxy {
  url: string;
  set(mode: FaultMode): Promise<void>;
  /** Requests answered (forwarded) and refused/cut so far. */
  counts(): { forwarded: number; delayed: number };
  stop(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  let mode: FaultMode = { kind: 'pass' };
  let forwarded = 0;
  let delayed = 0;
  let flapTimer: NodeJS.Timeout | undefined;
  const timers = new Set<NodeJS.Timeout>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const go = () => {
      const up = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          forwarded++;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (mode.kind !== 'slow') return go();
    delayed++;
    req.pause();
    const t = setTimeout(() => {
      timers.delete(t);
      req.resume();
      go();
    }, mode.delayMs);
    timers.add(t);
  };
  const server: Server = createServer(handle);
  server.keepAliveTimeout = 1000;
  const port = await listen(server, 0);

  const open = () => (server.listening ? Promise.resolve(port) : listen(server, port));
  const close = () => {
    if (!server.listening) return Promise.resolve();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    return closed;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    async set(next) {
      clearInterval(flapTimer);
      flapTimer = undefined;
      mode = next;
      if (next.kind === 'down') return close();
      await open();
      if (next.kind === 'flap') {
        let up = true;
        flapTimer = setInterval(() => {
          up = !up;
          void (up ? open() : close()).catch(() => undefined);
        }, next.periodMs);
        flapTimer.unref();
      }
    },
    counts: () => ({ forwarded, delayed }),
    async stop() {
      clearInterval(flapTimer);
      for (const t of timers) clearTimeout(t);
      await close();
    },
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}
