import type { ClientTransport, TransportHandle, TransportRequest, TransportSink } from './client.types.js';
import { later, type ResolvedClientOptions } from './client.options.js';
import { sseParser, type SseMessage } from './sse.parser.js';
import { StreamError, fromWire, lost, parseJson, violation } from './stream-error.js';
import { HttpHeader, SseEventName, SseQuery, codeOfHttpStatus } from '../protocol/http.protocol.js';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { SSE_CHANNEL_QUERY_KEY } from '../protocol/input.protocol.js';

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

  subscribe(request: TransportRequest, sink: TransportSink): TransportHandle {
    const controller = new AbortController();
    let done = false;
    let retryHint: number | undefined;
    let source: EventSource | undefined;
    /** The fetch path's heartbeat watchdog: cleared with everything else, whatever ends the subscription. */
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const cancel = () => {
      done = true;
      clearTimeout(watchdog);
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
    /** One SSE event, from either path; data that is not JSON throws a protocol violation. Other event names are ignored, as `EventSource` does. */
    const dispatch = ({ event, data, id }: SseMessage) => {
      if (event === 'message') return sink.next(id || undefined, parseJson(data, 'SSE data'));
      if (event === SseEventName.RESET)
        return sink.reset(id || undefined, String((parseJson(data, 'SSE data') as { reason?: string } | null)?.reason));
      if (event === SseEventName.COMPLETE) return end();
      if (event === SseEventName.ERROR) return end(fromWire(parseJson(data, 'SSE data')));
    };
    /** The EventSource path: a violation drops the connection instead of throwing out of a listener. */
    const deliver = (m: SseMessage) => {
      try {
        if (m.data.length > this.options.maxMessageBytes)
          throw violation(`an SSE event larger than maxMessageBytes (${this.options.maxMessageBytes})`);
        dispatch(m);
      } catch (error) {
        end(error instanceof StreamError ? error : violation(String(error)));
      }
    };
    this.live.add(drop);
    const { options } = this;
    const ES = options.EventSource ?? (globalThis as { EventSource?: typeof EventSource }).EventSource;
    const start = async (withFetch: boolean) => {
      let url: string;
      try {
        url = await this.urlOf(request, withFetch);
      } catch (error) {
        return end(new StreamError(StreamErrorCode.UNAUTHENTICATED, `ticket failed: ${String(error)}`));
      }
      if (done) return;
      if (!withFetch) {
        // EventSource: reconnects are ours (it is closed on any error), so resume ids are exact.
        let opened = false;
        const es = new ES!(url, { withCredentials: !!options.withCredentials }) as EventSource;
        source = es;
        es.onopen = () => ((opened = true), sink.open(), sink.accepted());
        es.onmessage = (e) => deliver({ event: 'message', data: String(e.data), id: e.lastEventId });
        for (const event of Object.values(SseEventName)) {
          es.addEventListener(event, (e) => {
            const { data, lastEventId } = e as MessageEvent<unknown>;
            if (typeof data === 'string') return deliver({ event, data, id: lastEventId });
            if (event !== SseEventName.ERROR || done) return;
            es.close();
            // A refusal or a 204 closes an EventSource without telling why: ask once with fetch.
            if (!opened && es.readyState === 2) void start(true).catch((err: unknown) => end(lost(String(err))));
            else end(lost('Connection lost'));
          });
        }
        return;
      }
      const alive = () => {
        clearTimeout(watchdog);
        // After a stall of this thread, due timers run before the reads that waited meanwhile:
        // look once more on the next turn, when bytes already received have called alive().
        if (!done) watchdog = later(() => (watchdog = setTimeout(() => end(lost('SSE heartbeat missed')), 0)), 2 * options.sse.heartbeatMs);
      };
      await this.viaFetch(url, request, controller.signal, sink, dispatch, end, alive, (ms) => (retryHint = ms));
    };
    const post = options.sse.post.includes(request.stream);
    void start(!ES || !!options.headers || options.sse.fetch || post).catch((error: unknown) => end(lost(String(error)), true));
    /** A channel's message or half-close: one POST (PROTOCOL.md §7.4), answered through the sink unless the subscription ended. */
    const send = async (body: string, id?: string) => {
      let error: StreamError | undefined;
      try {
        const init: RequestInit = {
          method: 'POST',
          headers: { ...options.headers, 'content-type': 'application/json' },
          body,
          signal: controller.signal,
        };
        if (options.withCredentials) init.credentials = 'include';
        const response = await (options.fetch ?? fetch)(`${options.url}/${options.sse.inputPath.replace(/^\/+/, '')}/${request.channel}`, init);
        if (!response.ok)
          error = fromWire(await readAtMost(response, options.maxMessageBytes).then(JSON.parse, () => undefined), codeOfHttpStatus(response.status));
        else void response.body?.cancel().catch(() => undefined);
      } catch {
        error = lost('POST failed');
      }
      if (!done) sink.answer?.(id, error);
    };
    return Object.assign(cancel, {
      send: (id: string, json: string) => void send(`{"id":"${id}","data":${json}}`, id),
      end: () => void send('{"end":true}'),
    });
  }

  private async urlOf({ stream, params, lastEventId, channel }: TransportRequest, withFetch: boolean): Promise<string> {
    const url = new URL(`${this.options.url}/${stream}`);
    if (channel) url.searchParams.set(SSE_CHANNEL_QUERY_KEY, channel);
    if (Object.keys(params).length && !this.options.sse.post.includes(stream)) url.searchParams.set(SseQuery.PARAMS, JSON.stringify(params));
    if (lastEventId !== undefined && !withFetch) url.searchParams.set(SseQuery.LAST_EVENT_ID, lastEventId);
    // An empty ticket is none: one provider can serve every stream, answering '' where none is needed.
    const ticket = this.options.ticket && (await this.options.ticket(stream, params));
    if (ticket) url.searchParams.set(SseQuery.TICKET, ticket);
    return url.href;
  }

  private async viaFetch(
    url: string,
    { stream, params, lastEventId }: TransportRequest,
    signal: AbortSignal,
    sink: TransportSink,
    dispatch: (m: SseMessage) => void,
    end: (error?: StreamError, neverOpened?: boolean) => void,
    alive: () => void,
    retry: (ms: number) => void,
  ): Promise<void> {
    const headers: Record<string, string> = { ...this.options.headers, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers[HttpHeader.LAST_EVENT_ID] = lastEventId;
    const max = this.options.maxMessageBytes;
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
    const type = response.headers.get('content-type');
    if (!response.ok || !response.body || (type && !/^text\/event-stream/i.test(type))) {
      if (response.ok) {
        void response.body?.cancel().catch(() => undefined);
        return end(violation(`a 200 answer of type ${type ?? 'none'}, not text/event-stream`));
      }
      // A refusal's JSON body, read up to maxMessageBytes (a proxy's page or an endless body is no JSON).
      let body: { code?: string } | undefined;
      try {
        body = JSON.parse(await readAtMost(response, max)) as typeof body;
      } catch {
        body = undefined;
      }
      const error = fromWire(body, codeOfHttpStatus(response.status));
      if (!body?.code) Object.assign(error, { code: codeOfHttpStatus(response.status) });
      return end(error);
    }
    sink.open();
    sink.accepted();
    // Heartbeats are `:` lines: any bytes count. None for 2 x heartbeat → the connection is dead.
    alive();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    // Ending the subscription releases the read as well, even from a body that ignores the abort.
    const release = () => void reader.cancel().catch(() => undefined);
    if (signal.aborted) release();
    else signal.addEventListener('abort', release, { once: true });
    const push = sseParser(max, dispatch, retry);
    let failure: StreamError | undefined;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        alive();
        push(value);
      }
    } catch (error) {
      // A protocol violation from the parser; anything else is the abort or a network error.
      if (error instanceof StreamError) failure = error;
    }
    release();
    end(failure ?? lost('Connection lost'));
  }

  drop(): void {
    for (const drop of [...this.live]) drop();
  }

  close(): void {
    for (const drop of [...this.live]) drop();
  }
}

/** A body as text, up to `max` characters (a longer one throws). */
async function readAtMost(response: Response, max: number): Promise<string> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      text += r.value;
      if (text.length > max) throw new RangeError('body too large');
    }
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  return text;
}
