// One Server-Sent Events stream of the dashboard (the Canary pages' and the GitSync page's): the
// response taken over from fastify, a heartbeat every 15 s that also ends the stream once its session
// has ended (expired, revoked token, logout), and the caller's cleanup when the page goes away.
import type { FastifyReply } from 'fastify';

export interface EventStream {
  send(event: string, data: unknown): void;
}

const HEARTBEAT_MS = 15_000;

export function openEventStream(
  reply: FastifyReply,
  sessionAlive: () => Promise<boolean>,
  onClose: () => void,
): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  const open = () => !res.writableEnded && !res.destroyed;
  const heartbeat = setInterval(() => {
    void (async () => {
      if (!(await sessionAlive())) res.end();
      else if (open()) res.write(': keep-alive\n\n');
    })();
  }, HEARTBEAT_MS);
  reply.request.raw.on('close', () => {
    clearInterval(heartbeat);
    onClose();
  });
  return {
    send(event, data) {
      // A push that awaited a read may finish after the page went away.
      if (open()) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
  };
}
