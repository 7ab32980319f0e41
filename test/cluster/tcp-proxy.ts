// A TCP proxy on a free loopback port that a test can break or freeze, to cut one client (a
// controller replica, say) off from a server (the API server) without touching either process.
// - `pass`: bytes flow both ways (the default, and what heal() returns to).
// - `freeze`: connections stay open but no byte moves in either direction (a black-holed network:
//   requests hang until the client's own timeouts fire); held bytes are delivered on heal() if both
//   ends are still open, and dropped if the client gave up meanwhile.
// - `break`: every connection is reset and new ones are reset as soon as they are accepted.
import { createServer, connect, type Server, type Socket } from 'node:net';

export type TcpProxyMode = 'pass' | 'freeze' | 'break';

export interface TcpProxy {
  /** 127.0.0.1:port the clients dial. */
  address: string;
  port: number;
  mode(): TcpProxyMode;
  freeze(): void;
  break(): void;
  heal(): void;
  /** Connections accepted so far. */
  accepted(): number;
  stop(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  held: Array<{ to: Socket; chunk: Buffer }>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: TcpProxyMode = 'pass';
  let accepted = 0;
  const pairs = new Set<Pair>();

  const server: Server = createServer((client) => {
    accepted++;
    if (mode === 'break') return void client.resetAndDestroy();
    const upstream = connect(target.port, target.host);
    const pair: Pair = { client, upstream, held: [] };
    pairs.add(pair);
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (mode === 'freeze') pair.held.push({ to, chunk });
      else if (!to.destroyed) to.write(chunk);
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    const close = () => {
      pairs.delete(pair);
      pair.held = []; // a client that gave up never sees (or sends) what was held
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    address: `127.0.0.1:${port}`,
    port,
    mode: () => mode,
    freeze() {
      mode = 'freeze';
    },
    break() {
      mode = 'break';
      for (const p of pairs) {
        p.client.resetAndDestroy();
        p.upstream.destroy();
      }
      pairs.clear();
    },
    heal() {
      mode = 'pass';
      for (const p of pairs) {
        for (const { to, chunk } of p.held) if (!to.destroyed) to.write(chunk);
        p.held = [];
      }
    },
    accepted: () => accepted,
    async stop() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
