import { Logger, type LoggerService } from '@nestjs/common';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../harness/harness.js';
import { GrpcHarness } from '../harness/grpc.harness.js';
import { SseHarness, setTestLogger } from '../harness/sse.harness.js';
import { WsHarness, openWs } from '../harness/ws.harness.js';
import { until, wsText } from '../harness/util.js';
import { conformanceModule } from '../fixtures/probe.js';
import { runStreamConformance } from './streams.cases.js';

/**
 * Logs: the whole conformance suite on every transport with every log level captured, plus
 * requests that carry secrets (Authorization, cookies, a ticket in the query string, a
 * WebSocket init payload). No
 * secret may appear in any line at any level; every line has the module's one context;
 * per-subscription lines are debug only. Every test here checks the lines it caused itself.
 */
const lines: { level: string; context: string; message: string; text: string }[] = [];
const record =
  (level: string) =>
  (message: unknown, ...rest: unknown[]): void => {
    const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : '';
    const text = [message, ...rest]
      .map((p) => (p instanceof Error ? `${p.message}\n${p.stack}` : typeof p === 'string' ? p : JSON.stringify(p)))
      .join(' ');
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

/** No secret in any line at any level; the module's lines have one context; per-subscription lines at debug only. */
function expectCleanLines(captured: typeof lines): void {
  for (const line of captured) {
    for (const secret of SECRETS) expect(line.text, `${line.level} [${line.context}]`).not.toContain(secret);
  }
  const ours = captured.filter((l) => l.context.startsWith('Longlink'));
  for (const line of ours) expect(line.context).toBe('Longlink');
  for (const line of ours.filter((l) => /: (subscribed|ended)/.test(l.message))) expect(line.level, line.message).toBe('debug');
}

// Every test in this file, the conformance cases included, is checked on the lines it caused.
let firstLine = 0;
beforeEach(() => {
  firstLine = lines.length;
});
afterEach(() => expectCleanLines(lines.slice(firstLine)));
// And the lines that hooks caused between tests (apps closed in afterAll): every line, at the end.
afterAll(() => {
  setTestLogger(false);
  expectCleanLines(lines);
});

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
  ws.on('message', (raw) => received.push(JSON.parse(wsText(raw)) as { type: string; id?: string }));
  ws.send(JSON.stringify({ type: 'init', payload: { token: 's3cr3t-init' } }));
  ws.send(JSON.stringify({ type: 'subscribe', id: 'secure', stream: 'demo/secure' }));
  ws.send(JSON.stringify({ type: 'init', payload: { token: 's3cr3t-init' } }));
  await until(
    () =>
      received.some((m) => m.type === 'init_ack') &&
      received.some((m) => m.type === 'error' && m.id === 'secure') &&
      received.filter((m) => m.type === 'error').length >= 2,
    5000,
    'init exchange',
  );
  ws.close();
}

describe('logs of requests that carry secrets', () => {
  it('refused, failing and served on every transport: logged at the right levels, no secret in any line', async () => {
    const from = lines.length;
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
    const captured = lines.slice(from);
    // The capture saw debug lines (so "never logged" covers debug too), on every transport.
    const subscribed = captured.filter((l) => l.level === 'debug' && / subscribed$/.test(l.message));
    expect(subscribed.length).toBeGreaterThanOrEqual(3);
    // The unexpected error of demo/fail is logged once per transport, without the request's secrets.
    expect(captured.filter((l) => l.level === 'error' && l.text.includes('must never reach a client'))).toHaveLength(3);
    expectCleanLines(captured);
  }, 60_000);
});
