import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamsClient, toStruct } from '../harness/grpc.harness.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { startSample, type SampleProcess } from '../harness/sample-process.js';
import { until, within, wsText } from '../harness/util.js';
import { openWs } from '../harness/ws.harness.js';

/** One sample of a Prometheus text exposition: `name{labels} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * OpenTelemetry metrics end to end: the sample with the real OTel SDK and its Prometheus
 * exporter (METRICS=1), driven over SSE, WebSocket and gRPC; `/metrics` must count exactly
 * what the test did.
 */
describe('metrics: the sample with the OpenTelemetry SDK, scraped at /metrics', () => {
  let sample: SampleProcess;
  beforeAll(async () => {
    sample = await startSample({ METRICS: '1' });
  }, 30_000);
  afterAll(() => {
    if (sample && sample.child.exitCode === null) sample.child.kill('SIGKILL');
  });

  async function scrape(): Promise<(name: string, labels?: Record<string, string>) => number | undefined> {
    const response = await fetch(`${sample.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    const samples = parsePrometheus(await response.text());
    return (name, labels = {}) => {
      const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      return found.length === 0 ? undefined : found.reduce((sum, s) => sum + s.value, 0);
    };
  }

  it('counts connections, subscriptions, events, bytes, refusals, latency and hub publishes as they happened', async () => {
    // SSE: three demo/counter streams of 5 events each, to completion.
    let sseBytes = 0;
    for (let i = 0; i < 3; i++) {
      const text = await (await rawGet(`${sample.baseUrl}/demo/counter?count=5&intervalMs=0`)).body();
      const events = parseSse(text).filter((e) => e.id);
      expect(events).toHaveLength(5);
      // Each event as written: one HTTP/1.1 chunk (hex length, CRLF, the SSE frame, CRLF).
      for (const e of events) {
        const frame = Buffer.byteLength(`id: ${e.id}\ndata: ${e.data}\n\n`);
        sseBytes += frame.toString(16).length + 2 + frame + 2;
      }
    }
    // SSE refusal: secure stream without a token → UNAUTHENTICATED.
    expect((await rawGet(`${sample.baseUrl}/demo/secure`)).status).toBe(401);

    // WebSocket: 4 counter events, an unknown stream (refused NOT_FOUND), a clock left open.
    const ws = await openWs(`${sample.baseUrl.replace('http', 'ws')}/ws`);
    const messages: { type: string; id?: string; error?: { code: string } }[] = [];
    ws.on('message', (m) => messages.push(JSON.parse(wsText(m)) as (typeof messages)[number]));
    ws.send(JSON.stringify({ type: 'subscribe', id: 'c', stream: 'demo/counter', params: { count: 4, intervalMs: 0 } }));
    ws.send(JSON.stringify({ type: 'subscribe', id: 'x', stream: 'no/such-stream' }));
    ws.send(JSON.stringify({ type: 'subscribe', id: 'k', stream: 'demo/clock' }));
    await until(
      () => messages.some((m) => m.id === 'c' && m.type === 'complete') && messages.some((m) => m.id === 'x') && messages.some((m) => m.id === 'k'),
      5000,
      'ws messages',
    );
    expect(messages.find((m) => m.id === 'x')).toMatchObject({ type: 'error', error: { code: 'NOT_FOUND' } });

    // gRPC: 2 counter events; demo/secure without a token → UNAUTHENTICATED.
    const client = streamsClient(sample.grpcPort);
    const run = (stream: string, params: Record<string, unknown>) =>
      new Promise<{ events: number; status: grpc.StatusObject }>((resolve) => {
        let events = 0;
        const call = client.Subscribe({ stream, params: toStruct(params) });
        call.on('data', () => events++);
        call.on('error', () => undefined);
        call.on('status', (status) => resolve({ events, status }));
      });
    expect((await within(run('demo/counter', { count: 2, intervalMs: 0 }), 5000, 'grpc counter')).events).toBe(2);
    expect((await within(run('demo/secure', {}), 5000, 'grpc secure')).status.code).toBe(grpc.status.UNAUTHENTICATED);

    // Hub: one publish (in memory).
    const posted = await fetch(`${sample.baseUrl}/demo/chat/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'test', text: 'hi' }),
    });
    expect(posted.status).toBe(201);

    const m = await scrape();
    const sse = { longlink_transport: 'sse', longlink_stream: 'demo/counter' };
    expect(m('longlink_events_delivered_total', sse)).toBe(15);
    expect(m('longlink_bytes_written_total', sse)).toBe(sseBytes);
    expect(m('longlink_events_delivered_total', { longlink_transport: 'ws', longlink_stream: 'demo/counter' })).toBe(4);
    expect(m('longlink_events_delivered_total', { longlink_transport: 'grpc', longlink_stream: 'demo/counter' })).toBe(2);
    // Live now: the WebSocket connection and its clock subscription; nothing else.
    expect(m('longlink_subscriptions', { longlink_transport: 'ws', longlink_stream: 'demo/clock' })).toBe(1);
    expect(m('longlink_subscriptions', sse)).toBe(0);
    expect(m('longlink_connections', { longlink_transport: 'ws' })).toBe(1);
    expect(m('longlink_connections', { longlink_transport: 'sse' })).toBe(0);
    expect(m('longlink_connections', { longlink_transport: 'grpc' })).toBe(0);
    // Refusals by code; an unknown stream name is not a label value.
    expect(m('longlink_subscribe_refusals_total', { longlink_transport: 'sse', longlink_stream: 'demo/secure', error_type: 'UNAUTHENTICATED' })).toBe(
      1,
    );
    expect(
      m('longlink_subscribe_refusals_total', { longlink_transport: 'grpc', longlink_stream: 'demo/secure', error_type: 'UNAUTHENTICATED' }),
    ).toBe(1);
    expect(m('longlink_subscribe_refusals_total', { longlink_transport: 'ws', longlink_stream: '', error_type: 'NOT_FOUND' })).toBe(1);
    // Subscribe latency: one sample per started subscription (3 SSE counters, SSE secure refused).
    expect(m('longlink_subscribe_duration_count', sse)).toBe(3);
    expect(m('longlink_subscribe_duration_count', { longlink_transport: 'sse', longlink_stream: 'demo/secure' })).toBe(1);
    expect(m('longlink_hub_publishes_total', { longlink_hub_adapter: 'memory' })).toBe(1);
    expect(m('longlink_events_dropped_total', sse)).toBe(0);
    expect(m('longlink_slow_consumer_disconnects_total', sse)).toBe(0);

    // The WebSocket goes: its connection and subscription are released.
    ws.close();
    let after = await scrape();
    await until(async () => (after = await scrape())('longlink_connections', { longlink_transport: 'ws' }) === 0, 2500, 'ws connection released');
    expect(after('longlink_subscriptions', { longlink_transport: 'ws', longlink_stream: 'demo/clock' })).toBe(0);
    client.close();
  }, 60_000);

  it('the sample serves /health, and /admin/subscriptions (StreamTracker) behind its demo guard', async () => {
    const health = await fetch(`${sample.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      details: { longlink: { status: 'up', transports: { sse: 'serving', ws: 'serving', grpc: 'serving' }, hub: { adapter: 'memory' } } },
    });
    expect((await fetch(`${sample.baseUrl}/admin/subscriptions`)).status).toBe(401);
    const before = Date.now();
    const clock = await rawGet(`${sample.baseUrl}/demo/clock`);
    await clock.waitFor((t) => t.includes('data: {"now":'), 3000);
    const response = await fetch(`${sample.baseUrl}/admin/subscriptions`, { headers: { authorization: 'Bearer demo-token' } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      count: number;
      subscriptions: { stream: string; transport: string; startedAt: string; queuedBytes: number }[];
    };
    expect(body.count).toBe(1);
    expect(body.subscriptions[0]).toMatchObject({ stream: 'demo/clock', transport: 'sse', queuedBytes: 0 });
    expect(Date.parse(body.subscriptions[0]!.startedAt)).toBeGreaterThanOrEqual(before - 1000);
    clock.destroy();
  });
});
