/**
 * What presence costs on Redis: Redis commands (counted by `INFO commandstats`, commands run
 * inside scripts included) and CPU per join and per leave, and per second per 1,000 members for
 * the TTL refresh and sweep while idle. Spawns its own redis-server (no persistence).
 *
 *   npm run build && node dist/bench/presence-cost.js [members=1000] [ttlMs=3000]
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LonglinkModule, StreamHub, type PresenceHandle } from '../lib/index.js';

const members = Number(process.argv[2] ?? 1000);
const ttlMs = Number(process.argv[3] ?? 3000);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const port = await freePort();
const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const url = `redis://127.0.0.1:${port}`;
const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
const Redis = (ioredis.default ?? ioredis) as new (url: string) => import('ioredis').Redis;
const admin = new Redis(url);
await admin.ping();

@Module({ imports: [LonglinkModule.forRoot({ hub: { redis: url, presence: { ttlMs, graceMs: 0, maxMembers: 1_000_000 } } })] })
class BenchModule {}
const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
const hub = app.get(StreamHub);
await hub.publish('warm-up', 1);

async function redisStats(): Promise<{ calls: number; usec: number }> {
  let calls = 0;
  let usec = 0;
  for (const line of (await admin.info('commandstats')).split('\n')) {
    const m = /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m && m[1] !== 'info') {
      calls += Number(m[2]);
      usec += Number(m[3]);
    }
  }
  return { calls, usec };
}

async function perOp(label: string, ops: number, run: () => Promise<void>): Promise<void> {
  const [s0, c0, t0] = [await redisStats(), process.cpuUsage(), performance.now()];
  await run();
  const [wall, cpu, s1] = [performance.now() - t0, process.cpuUsage(c0), await redisStats()];
  console.log(
    `${label}: ${((s1.calls - s0.calls) / ops).toFixed(1)} Redis commands, ${((s1.usec - s0.usec) / ops).toFixed(0)} µs Redis CPU, ` +
      `${((cpu.user + cpu.system) / ops).toFixed(0)} µs Node CPU, ${(wall / ops).toFixed(2)} ms wall per op (one at a time)`,
  );
}

const handles: PresenceHandle[] = [];
await perOp(`join (${members} members in 10 topics)`, members, async () => {
  for (let i = 0; i < members; i++) handles.push(await hub.track(`room:${i % 10}`, `user-${i}`, { device: 'web' }));
});
const [s0, c0, t0] = [await redisStats(), process.cpuUsage(), Date.now()];
await new Promise((resolve) => setTimeout(resolve, 4 * ttlMs));
const [secs, cpu, s1] = [(Date.now() - t0) / 1000, process.cpuUsage(c0), await redisStats()];
const per1k = secs * (members / 1000);
console.log(
  `idle refresh + sweep (ttl ${ttlMs} ms): ${((s1.calls - s0.calls) / per1k).toFixed(0)} Redis commands/s, ` +
    `${((s1.usec - s0.usec) / per1k).toFixed(0)} µs/s Redis CPU, ${((cpu.user + cpu.system) / per1k).toFixed(0)} µs/s Node CPU per 1,000 members`,
);
await perOp('leave', members, async () => {
  for (const h of handles) h.leave();
  while ((await admin.zcard('longlink:presence')) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
});
await app.close();
admin.disconnect();
redisServer.kill('SIGKILL');
