import type { ClientTransport, TransportHandle, TransportRequest, TransportSink } from './client.types.js';
import { later, type ResolvedClientOptions } from './client.options.js';
import { StreamError, fromWire, lost, parseJson, violation } from './stream-error.js';
import { WS_APPLICATION_CLOSE_CODES_START, WS_SERVER_MESSAGE_TYPES, WsCloseCode, codeOfWsClose } from '../protocol/ws.protocol.js';
import { StreamErrorCode } from '../protocol/stream-error-code.js';

/** The server's message types (PROTOCOL.md §4.2); any other is a protocol violation. */
const SERVER_TYPES: readonly string[] = WS_SERVER_MESSAGE_TYPES;

/** A subscription on the connection, by client id. */
interface Entry {
  request: TransportRequest;
  sink: TransportSink;
}

/** What a close code means for the subscriptions of the connection (PROTOCOL.md §4.6). */
function closeError(code: number, reason: string, sentInit: boolean): StreamError {
  // 4408 without an init sent: the server requires one (ws.requireInit) and this client has no
  // connectionParams, so reconnecting cannot help: terminal, not a timeout to retry.
  if (code === WsCloseCode.INIT_TIMEOUT && !sentInit) {
    return new StreamError(StreamErrorCode.UNAUTHENTICATED, 'The server requires an init message: set connectionParams', { closeCode: code });
  }
  return new StreamError(codeOfWsClose(code), reason || `WebSocket closed (${code})`, { closeCode: code });
}

/**
 * The WebSocket transport of PROTOCOL.md §4: one lazily opened connection multiplexes every
 * subscription (ids made here), sends the init message with `connectionParams` on every
 * (re)connect, pings to detect a dead connection, and closes when idle.
 */
export class WsClientTransport implements ClientTransport {
  readonly name = 'ws' as const;
  private readonly entries = new Map<string, Entry>();
  private socket: WebSocket | undefined;
  /** Subscribes may be sent (the socket is open and the init, if any, was sent). */
  private ready = false;
  private generation = 0;
  private seq = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly url: string,
  ) {}

  subscribe(request: TransportRequest, sink: TransportSink): TransportHandle {
    const id = (++this.seq).toString(36);
    const entry = { request, sink };
    this.entries.set(id, entry);
    clearTimeout(this.idleTimer);
    if (!this.socket) this.connect();
    else if (this.ready) this.sendSubscribe(id, request);
    /** Client messages go only on the connection that holds this subscription. */
    const live = () => this.ready && this.entries.get(id) === entry;
    const cancel = () => {
      if (!this.entries.delete(id)) return;
      if (this.ready) this.send({ type: 'unsubscribe', id });
      this.idleSoon();
    };
    return Object.assign(cancel, {
      // The data is JSON already: framed as is (PROTOCOL.md §7.2).
      send: (messageId: string, json: string) =>
        live() && this.socket!.send(`{"type":"input","id":"${id}","messageId":"${messageId}","data":${json}}`),
      end: () => live() && this.send({ type: 'input_end', id }),
    });
  }

  /** Opens the connection now (the `auto` transport's background check); resolves once it is usable. */
  probe(): Promise<boolean> {
    return new Promise((resolve) => {
      const request = { stream: '', params: {}, lastEventId: undefined };
      const id = 'probe';
      // A pseudo entry that is never sent: it only listens for the connection's fate.
      const entry: Entry = {
        request,
        sink: { open: () => done(true), accepted() {}, next() {}, reset() {}, end: () => done(false) },
      };
      const done = (ok: boolean) => {
        if (this.entries.get(id) !== entry) return;
        this.entries.delete(id);
        this.idleSoon();
        resolve(ok);
      };
      this.entries.set(id, entry);
      if (!this.socket) this.connect();
      else if (this.ready) done(true);
    });
  }

  drop(): void {
    this.fail(lost('Connection dropped'), false);
  }

  close(): void {
    this.entries.clear();
    this.teardown(WsCloseCode.NORMAL);
  }

  private send(message: object): void {
    this.socket?.send(JSON.stringify(message));
  }

  private sendSubscribe(id: string, { stream, params, lastEventId, channel }: TransportRequest): void {
    // `ack`: the server answers `subscribed` once it holds the subscription (PROTOCOL.md §4.2).
    if (stream) this.send({ type: 'subscribe', id, stream, params, lastEventId, ack: true, channel });
  }

  private connect(): void {
    const generation = ++this.generation;
    const { options } = this;
    let opened = false;
    const current = () => generation === this.generation;
    const timer = later(() => current() && this.fail(lost('WebSocket did not open in time'), true), options.ws.connectTimeoutMs);
    void (async () => {
      const Ctor = options.WebSocket ?? globalThis.WebSocket ?? (await loadWs());
      if (!current()) return;
      // The third argument is `ws`'s (Node): upgrade headers, and the frame cap (browsers ignore it).
      const extra = { maxPayload: options.maxMessageBytes, ...(options.headers && { headers: options.headers }) };
      const socket = new Ctor(this.url, undefined, extra) as WebSocket;
      this.socket = socket;
      let sentInit = false;
      /** A frame `ws` refused (over maxPayload, invalid UTF-8, ...): the close that follows is a violation. */
      let refused: StreamError | undefined;
      // A 4xxx close (init refused 4401/4403, init timeout 4408, ...) comes from a server that
      // speaks the protocol: WebSocket works here, so `auto` must not fall back to SSE for it.
      socket.onclose = (e) =>
        current() && this.fail(refused ?? closeError(e.code, e.reason, sentInit), !opened && e.code < WS_APPLICATION_CLOSE_CODES_START);
      socket.onerror = (e: Event) => {
        // A close event follows; `ws` says why here (its error codes are WS_ERR_*).
        const error = (e as { error?: { code?: unknown; message?: unknown } }).error;
        if (typeof error?.code === 'string' && error.code.startsWith('WS_ERR_')) refused = violation(String(error.message));
      };
      socket.onmessage = (e) => current() && this.onMessage(e.data, () => (opened = true));
      socket.onopen = () => void opening().catch((error: unknown) => current() && this.fail(lost(`WebSocket failed: ${String(error)}`), false));
      const opening = async () => {
        let params: unknown;
        try {
          params = await options.connectionParams();
        } catch (error) {
          clearTimeout(timer);
          return current() && this.fail(new StreamError(StreamErrorCode.UNAUTHENTICATED, `connectionParams failed: ${String(error)}`), false);
        }
        if (!current()) return;
        clearTimeout(timer);
        if (params !== undefined) {
          this.send({ type: 'init', payload: params });
          sentInit = true;
        }
        this.ready = true;
        for (const [id, { request }] of this.entries) this.sendSubscribe(id, request);
        this.startPing();
        if (params === undefined) {
          opened = true;
          for (const { sink } of [...this.entries.values()]) sink.open();
        }
        this.idleSoon();
      };
    })().catch((error: unknown) => {
      clearTimeout(timer);
      if (current())
        this.fail(
          error instanceof StreamError ? error : new StreamError(StreamErrorCode.UNAVAILABLE, `WebSocket unavailable: ${String(error)}`),
          true,
        );
    });
  }

  /** One message from the server; anything PROTOCOL.md §4.2 does not allow drops the connection as a violation. */
  private onMessage(data: unknown, acked: () => void): void {
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
    let m: { type: string; id?: string; eventId?: string; messageId?: string; data?: { reason?: string } | null; error?: unknown };
    try {
      m = this.check(data);
    } catch (error) {
      return this.fail(error as StreamError, false);
    }
    if (m.type === 'init_ack') {
      acked();
      for (const { sink } of [...this.entries.values()]) sink.open();
      return;
    }
    const entry = m.id === undefined ? undefined : this.entries.get(m.id);
    if (!entry) return; // pong, an id-less error (the close that follows says more), or an ended subscription
    const { sink } = entry;
    if (m.type === 'subscribed') sink.accepted();
    else if (m.type === 'next') sink.next(m.eventId, m.data);
    else if (m.type === 'reset') sink.reset(m.eventId, String(m.data?.reason));
    else if (m.type === 'input_ack' || m.type === 'input_error') sink.answer?.(m.messageId, m.type === 'input_error' ? fromWire(m.error) : undefined);
    else if (m.type === 'complete' || m.type === 'error') {
      this.entries.delete(m.id!);
      sink.end(m.type === 'error' ? fromWire(m.error) : undefined);
      this.idleSoon();
    }
  }

  /** A server message, checked: a text frame within maxMessageBytes, a JSON object of a known type, string ids. */
  private check(data: unknown): { type: string; id?: string; eventId?: string } {
    const max = this.options.maxMessageBytes;
    if (typeof data !== 'string') throw violation('a binary frame');
    if (data.length > max) throw violation(`a WebSocket message larger than maxMessageBytes (${max})`);
    const m = parseJson(data, 'a WebSocket message') as { type?: unknown; id?: unknown; eventId?: unknown; messageId?: unknown } | null;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw violation('a WebSocket message that is not a JSON object');
    if (!SERVER_TYPES.includes(m.type as string)) throw violation(`unknown type ${JSON.stringify(m.type)?.slice(0, 64)}`);
    if (String(m.type).startsWith('input') && typeof m.messageId !== 'string') throw violation('no messageId');
    for (const key of ['id', 'eventId'] as const) {
      if (m[key] !== undefined && typeof m[key] !== 'string') throw violation(`${key} is not a string`);
    }
    return m as { type: string };
  }
  private startPing(): void {
    const { pingMs, pongTimeoutMs } = this.options.ws;
    if (!(pingMs > 0)) return;
    this.pingTimer = setInterval(
      () => {
        if (this.pongTimer) return;
        this.send({ type: 'ping' });
        this.pongTimer = later(() => this.fail(lost('WebSocket ping not answered'), false), pongTimeoutMs);
      },
      Math.min(pingMs, 2 ** 31 - 1),
    );
  }

  /** Closes the connection `idleMs` after its last subscription ended. */
  private idleSoon(): void {
    clearTimeout(this.idleTimer);
    if (this.entries.size === 0 && this.socket) {
      this.idleTimer = later(() => this.entries.size === 0 && this.teardown(WsCloseCode.NORMAL), this.options.ws.idleMs);
    }
  }

  /** The connection is gone: every subscription on it ends with `error`. */
  private fail(error: StreamError, neverOpened: boolean): void {
    this.teardown(WsCloseCode.CLIENT_DROPPED);
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const { sink } of entries) sink.end(error, undefined, neverOpened);
  }

  private teardown(code: number): void {
    this.generation++;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.idleTimer);
    this.pongTimer = undefined;
    this.ready = false;
    const socket = this.socket;
    this.socket = undefined;
    try {
      socket?.close(code);
    } catch {
      // already closing
    }
  }
}

/** A module import bundlers cannot follow (a parameter, not a literal): Node-only peers stay out of browser builds. */
const importOpaque = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

/** Node without a global WebSocket: the optional peer `ws`. */
async function loadWs(): Promise<typeof WebSocket> {
  let mod: { default: typeof WebSocket; WebSocket?: typeof WebSocket };
  try {
    mod = (await importOpaque('ws')) as typeof mod;
  } catch (error) {
    // Not transient: retrying cannot install a package (`auto` still falls back to SSE).
    throw new StreamError(StreamErrorCode.BAD_REQUEST, `No WebSocket: npm install ws or pass options.WebSocket (${String(error)})`);
  }
  return mod.WebSocket ?? mod.default;
}
