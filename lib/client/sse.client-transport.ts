import type { ClientTransport, TransportRequest, TransportSink } from './client.types.js';
import type { ResolvedClientOptions } from './client.options.js';
import { StreamError, codeOfStatus, fromWire, lost } from './stream-error.js';

/** One parsed SSE event (PROTOCOL.md §3.3). */
interface SseMessage {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * The SSE transport of PROTOCOL.md §3: one request per subscription, params as `params=<JSON>`,
 * the last event id and a fresh `ticket=` on every (re)connect. `EventSource` when the runtime
 * has one and no headers are set; `fetch` streaming otherwise (it can send headers, see the
 * status of a refusal, and watch heartbeats).
 */
export class SseClientTransport implements ClientTransport {
  readonly name = 'sse' as const;
  private readonly live = new Set<() => void>();

  constructor(private readonly options: ResolvedClientOptions) {}

  subscribe(request: TransportRequest, sink: TransportSink): () => void {
    const controller = new AbortController();
    let done = false;
    let retryHint: number | undefined;
    let source: EventSource | undefined;
    const cancel = () => {
      done = true;
      controller.abort();
      source?.close();
      this.live.delete(drop);
    };
    const drop = () => end(lost('Connection dropped'));
    const end = (error?: StreamError, neverOpened?: boolean) => {
      if (done) return;
      cancel();
      sink.end(error, retryHint, neverOpened);
    };
    /** One SSE event, from either path. */
    const dispatch = ({ event, data, id }: SseMessage) => {
      if (event === 'message') return sink.next(id || undefined, JSON.parse(data));
      if (event === 'reset') return sink.reset(id || undefined, String((JSON.parse(data) as { reason?: string }).reason));
      if (event === 'complete') return end();
      if (event === 'error') return end(fromWire(JSON.parse(data)));
    };
    this.live.add(drop);
    const { options } = this;
    const ES = options.EventSource ?? (globalThis as { EventSource?: typeof EventSource }).EventSource;
    const start = async (withFetch: boolean) => {
      let url: string;
      try {
        url = await this.urlOf(request, withFetch);
      } catch (error) {
        return end(new StreamError('UNAUTHENTICATED', `ticket failed: ${String(error)}`));
      }
      if (done) return;
      if (!withFetch) {
        // EventSource: reconnects are ours (it is closed on any error), so resume ids are exact.
        let opened = false;
        const es: EventSource = new ES!(url, { withCredentials: !!options.withCredentials });
        source = es;
        es.onopen = () => ((opened = true), sink.open());
        es.onmessage = (e) => dispatch({ event: 'message', data: e.data as string, id: e.lastEventId });
        for (const event of ['reset', 'complete', 'error']) {
          es.addEventListener(event, (e) => {
            const { data, lastEventId } = e as MessageEvent;
            if (typeof data === 'string') return dispatch({ event, data, id: lastEventId });
            if (event !== 'error' || done) return;
            es.close();
            // A refusal or a 204 closes an EventSource without telling why: ask once with fetch.
            if (!opened && es.readyState === 2) void start(true).catch((err: unknown) => end(lost(String(err))));
            else end(lost('Connection lost'));
          });
        }
        return;
      }
      await this.viaFetch(url, request, controller.signal, sink, dispatch, end, (ms) => (retryHint = ms));
    };
    const post = options.sse.post.includes(request.stream);
    void start(!ES || !!options.headers || options.sse.fetch || post).catch((error: unknown) => end(lost(String(error)), true));
    return cancel;
  }

  private async urlOf({ stream, params, lastEventId }: TransportRequest, withFetch: boolean): Promise<string> {
    const url = new URL(`${this.options.url}/${stream}`);
    if (Object.keys(params).length && !this.options.sse.post.includes(stream)) url.searchParams.set('params', JSON.stringify(params));
    if (lastEventId !== undefined && !withFetch) url.searchParams.set('lastEventId', lastEventId);
    // An empty ticket is none: one provider can serve every stream, answering '' where none is needed.
    const ticket = this.options.ticket && (await this.options.ticket(stream, params));
    if (ticket) url.searchParams.set('ticket', ticket);
    return url.href;
  }

  private async viaFetch(
    url: string,
    { stream, params, lastEventId }: TransportRequest,
    signal: AbortSignal,
    sink: TransportSink,
    dispatch: (m: SseMessage) => void,
    end: (error?: StreamError, neverOpened?: boolean) => void,
    retry: (ms: number) => void,
  ): Promise<void> {
    const headers: Record<string, string> = { ...this.options.headers, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    let response: Response;
    try {
      const init: RequestInit = { headers, signal, cache: 'no-store' };
      if (this.options.withCredentials) init.credentials = 'include';
      if (this.options.sse.post.includes(stream)) {
        // A POST stream: params are the JSON body (PROTOCOL.md §3.9), resume by Last-Event-ID as for GET.
        Object.assign(init, { method: 'POST', body: JSON.stringify(params) });
        headers['content-type'] = 'application/json';
      }
      response = await (this.options.fetch ?? fetch)(url, init);
    } catch {
      return end(lost('Connection failed'), true);
    }
    if (response.status === 204) return end();
    if (!response.ok || !response.body) {
      const body = (await response.json().catch(() => undefined)) as { code?: string } | undefined;
      const error = fromWire(body, codeOfStatus(response.status));
      if (!body?.code) Object.assign(error, { code: codeOfStatus(response.status) });
      return end(error);
    }
    sink.open();
    // Heartbeats are `:` lines: any bytes count. None for 2 x heartbeat → the connection is dead.
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const alive = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        // After a stall of this thread, due timers run before the reads that waited meanwhile:
        // look once more on the next turn, when bytes already received have called alive().
        watchdog = setTimeout(() => end(lost('SSE heartbeat missed')), 0);
      }, 2 * this.options.sse.heartbeatMs);
    };
    alive();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let message: SseMessage = { event: 'message', data: '', id: undefined };
    let hasData = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        alive();
        buffer += value;
        // A CR at the very end may be the first half of a CRLF split across chunks: it waits for the next one.
        const lines = buffer.split(/\r\n|\r(?!$)|\n/);
        buffer = lines.pop()!;
        for (const line of lines) {
          if (line === '') {
            if (hasData) dispatch(message);
            message = { event: 'message', data: '', id: undefined };
            hasData = false;
            continue;
          }
          const colon = line.indexOf(':');
          if (colon === 0) continue; // heartbeat
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
          if (field === 'data') (message.data += (hasData ? '\n' : '') + value), (hasData = true);
          else if (field === 'event') message.event = value;
          else if (field === 'id') message.id = value;
          else if (field === 'retry' && /^\d+$/.test(value)) retry(Number(value));
        }
      }
    } catch {
      // aborted or network error: ends below
    } finally {
      clearTimeout(watchdog);
    }
    end(lost('Connection lost'));
  }

  drop(): void {
    for (const drop of [...this.live]) drop();
  }

  close(): void {
    for (const drop of [...this.live]) drop();
  }
}
