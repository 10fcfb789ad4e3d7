import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type LonglinkClient } from '../../lib/client/index.js';
import { TestRedis } from '../harness/redis-server.js';
import { startSample, type SampleProcess } from '../harness/sample-process.js';
import { TcpBalancer } from '../harness/tcp-balancer.js';
import { until } from '../harness/util.js';

/**
 * Exactly once into the handler (issue: two-way streams, PROTOCOL.md §7.1): CLIENTS clients ×
 * MESSAGES messages through the sample's two-way `demo/chat` (each message is published to the
 * client's own room, idempotent on its id) on two instances on one Redis, behind a round-robin
 * balancer without sticky sessions. Mid-run every connection is cut, one instance is killed
 * with SIGKILL and restarted, and the balancer stops passing WebSocket upgrades, so every
 * client switches from WebSocket to SSE (its messages then go by POST, to either instance,
 * forwarded to the holder). Every message ends in its room exactly once, none lost, in order.
 */
const CLIENTS = Number(process.env.EXACTLY_ONCE_CLIENTS ?? 10);
const MESSAGES = Number(process.env.EXACTLY_ONCE_MESSAGES ?? 500);
const WINDOW = 32;

type ChatEntry = { from: string; text: string };

describe('two-way streams: exactly once across kill -9, restart and a transport switch', () => {
  let redis: TestRedis;
  let a: SampleProcess;
  let b: SampleProcess;
  let balancer: TcpBalancer;
  const env = () => ({ REDIS_URL: `redis://127.0.0.1:${redis.port}` });
  const port = (s: SampleProcess) => Number(new URL(s.baseUrl).port);

  beforeAll(async () => {
    redis = await TestRedis.start();
    [a, b] = await Promise.all([startSample(env()), startSample(env())]);
    balancer = await TcpBalancer.start([port(a), port(b)]);
  }, 120_000);
  afterAll(async () => {
    await balancer?.close();
    for (const s of [a, b]) s?.child.kill('SIGKILL');
    await redis?.stop();
  });

  it(`${CLIENTS} clients × ${MESSAGES} messages: each handled exactly once, in order`, async () => {
    const run = Date.now().toString(36);
    const clients: LonglinkClient[] = [];
    const received: string[][] = [];
    const transports: Set<string>[] = [];
    let acked = 0;
    const senders: Promise<void>[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const client = createClient({ url: balancer.baseUrl, transport: 'auto', retry: { initialMs: 50, maxMs: 1000 } });
      clients.push(client);
      const seen = new Set<string>();
      transports.push(seen);
      client.state$.subscribe(() => seen.add(client.transport));
      const chat = client.channel<ChatEntry, { text: string }>('demo/chat', { room: `eo-${run}-${i}`, name: `c${i}` });
      const texts: string[] = [];
      received.push(texts);
      chat.subscribe({ next: (e) => texts.push(e.text) });
      senders.push(
        (async () => {
          const inFlight: Promise<void>[] = [];
          for (let n = 1; n <= MESSAGES; n++) {
            inFlight.push(chat.send({ text: String(n) }).then(() => void acked++));
            if (inFlight.length >= WINDOW) await inFlight.shift();
          }
          await Promise.all(inFlight);
        })(),
      );
    }
    const total = CLIENTS * MESSAGES;
    try {
      // Mid-run: cut every connection, stop passing WebSocket, kill one instance and restart it.
      await until(() => acked >= total * 0.3, 60_000, '30% acked');
      balancer.refuseUpgrades = true;
      balancer.dropAll();
      a.child.kill('SIGKILL');
      await a.exited;
      a = await startSample({ ...env(), PORT: String(port(a)), GRPC_PORT: String(a.grpcPort), WAIT_FOR_PORT: '1' });
      await Promise.all(senders);
      expect(acked).toBe(total);
      const expected = Array.from({ length: MESSAGES }, (_, n) => String(n + 1));
      await until(() => received.every((texts) => texts.length >= MESSAGES), 30_000, 'every message back in its room').catch((error: unknown) => {
        const summary = received.map((texts, i) => {
          const missing = expected.filter((t) => !texts.includes(t));
          return `client ${i}: ${texts.length} back, missing ${missing.length} (first ${missing.slice(0, 5).join(',')}), transports ${[...transports[i]!].join('→')}`;
        });
        throw new Error(`${String(error)}\n${summary.join('\n')}`);
      });
      for (let i = 0; i < CLIENTS; i++) expect({ client: i, texts: received[i] }).toEqual({ client: i, texts: expected });
      // Every client was on WebSocket, then on SSE.
      for (const seen of transports) expect([...seen].sort()).toEqual(['sse', 'ws']);
    } finally {
      for (const client of clients) void client.close();
    }
  }, 240_000);
});
