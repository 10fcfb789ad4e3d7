import WebSocket from 'ws';
import { wsText } from '../harness/util.js';
import { percentile } from './stress.util.js';

/** Healthy subscribers a scenario measures beside its misbehaving clients. */
export const HEALTHY = 10;

/**
 * Healthy subscribers (WebSocket, one connection each) of a timestamped stream: their delivery
 * latencies, from `start()` until `stop()`.
 */
export async function healthyClients(baseUrl: string) {
  const sockets: WebSocket[] = [];
  let latencies: number[] = [];
  for (let i = 0; i < HEALTHY; i++) {
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.on('message', (raw) => {
      const message = JSON.parse(wsText(raw)) as { type: string; data?: { at: number } };
      if (message.type === 'next') latencies.push(performance.timeOrigin + performance.now() - message.data!.at);
    });
    ws.send(JSON.stringify({ type: 'subscribe', id: 't', stream: 'stress/timed', params: { ms: 5 } }));
    sockets.push(ws);
  }
  return {
    reset: () => (latencies = []),
    /** The latencies recorded since the last reset. */
    samples: () => [...latencies],
    p99: () => percentile(latencies, 99),
    count: () => latencies.length,
    close: () => sockets.forEach((ws) => ws.terminate()),
  };
}
