import { Logger, type LoggerService } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { collect } from '../harness/harness.js';
import { GrpcHarness } from '../harness/grpc.harness.js';
import { SseHarness, setTestLogger } from '../harness/sse.harness.js';
import { WsHarness, openWs } from '../harness/ws.harness.js';
import { until } from '../harness/util.js';
import { conformanceModule } from '../fixtures/probe.js';
import { runStreamConformance } from './streams.cases.js';

/**
 * Logs: the whole conformance suite on every transport with every log level captured, plus
 * requests that carry secrets (Authorization, cookies, a ticket in the query string, a
 * WebSocket init payload). No
 * secret may appear in any line at any level; every line has the module's one context;
 * per-subscription lines are debug only.
 */
const lines: { level: string; context: string; message: string; text: string }[] = [];
const record =
  (level: string) =>
  (message: unknown, ...rest: unknown[]): void => {
    const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : '';
    const text = [message, ...rest].map((p) => (p instanceof Error ? `${p.message}\n${p.stack}` : typeof p === 'string' ? p : JSON.stringify(p))).join(' ');
    lines.push({ level, context, message: typeof message === 'string' ? message : text, text });
  };
const capture: LoggerService = {
  log: record('log'),
  error: record('error'),
  warn: record('warn'),
  debug: record('debug'),
  verbose: record('verbose'),
  fatal: record('fatal'),
};
setTestLogger(capture);
// Every level explicitly: Nest before 12.5 answers Logger.isLevelEnabled() from these levels only
// (false for all with a custom logger and none set), 12.5 also without them.
Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);

const SECRETS = ['demo-token', 's3cr3t-auth', 's3cr3t-cookie', 's3cr3t-ticket', 's3cr3t-metadata', 's3cr3t-init'];

runStreamConformance(() => new SseHarness('express'));
runStreamConformance(() => new WsHarness('express'));
runStreamConformance(() => new GrpcHarness('express'));

/**
 * A WebSocket init message carrying a secret (PROTOCOL.md §4.1.1): accepted, read by a guard
 * that refuses it, then a second (malformed) init that echoes nothing back.
 */
async function initPayloadExchange(url: string): Promise<void> {
  const ws = await openWs(url);
  const received: { type: string; id?: string }[] = [];
  ws.on('message', (raw) => received.push(JSON.parse(String(raw)) as { type: string; id?: string }));
  ws.send(JSON.stringify({ type: 'init', payload: { token: 's3cr3t-init' } }));
  ws.send(JSON.stringify({ type: 'subscribe', id: 'secure', stream: 'demo/secure' }));
  ws.send(JSON.stringify({ type: 'init', payload: { token: 's3cr3t-init' } }));
  await until(() => received.some((m) => m.type === 'init_ack') && received.some((m) => m.type === 'error' && m.id === 'secure') && received.filter((m) => m.type === 'error').length >= 2, 5000, 'init exchange');
  ws.close();
}

describe('logs across the conformance suite', () => {
  it('requests with secrets on every transport: refused, failing and served', async () => {
    for (const h of [new SseHarness('express'), new WsHarness('express'), new GrpcHarness('express')]) {
      await h.start(conformanceModule(h.moduleOptions));
      const headers = { authorization: 'Bearer s3cr3t-auth', cookie: 'session=s3cr3t-cookie', 'x-api-key': 's3cr3t-metadata' };
      await collect(h.subscribe('demo/secure', { headers }));
      await collect(h.subscribe('demo/fail', { headers, params: { after: 1 } }));
      await collect(h.subscribe('demo/counter', { headers, params: { count: 2, intervalMs: 0, ticket: 's3cr3t-ticket' } }));
      await collect(h.subscribe('no/such-stream', { headers, params: { ticket: 's3cr3t-ticket' } }));
      if (h instanceof WsHarness) await initPayloadExchange(h.url);
      await h.stop();
    }
  }, 60_000);

  it('no secret in any line at any level; one context; per-subscription events at debug only', () => {
    setTestLogger(false);
    expect(lines.length).toBeGreaterThan(0);
    // The capture saw debug lines (so "never logged" covers debug too).
    expect(lines.some((l) => l.level === 'debug' && / subscribed$/.test(l.message))).toBe(true);
    // An unexpected error is logged (demo/fail), without the request's secrets.
    expect(lines.some((l) => l.level === 'error' && l.text.includes('must never reach a client'))).toBe(true);
    for (const line of lines) {
      for (const secret of SECRETS) expect(line.text, `${line.level} [${line.context}]`).not.toContain(secret);
    }
    const ours = lines.filter((l) => l.context.startsWith('Longlink'));
    expect(new Set(ours.map((l) => l.context))).toEqual(new Set(['Longlink']));
    for (const line of ours.filter((l) => /: (subscribed|ended)/.test(l.message))) expect(line.level).toBe('debug');
  });
});
