/** Characters an event id may never contain: they would break SSE framing. */
const FORBIDDEN_ID_CHARS = /[\r\n\0]/;

/** Longest event id accepted, in UTF-16 code units. */
export const MAX_EVENT_ID_LENGTH = 1024;

/** Stands for `data` not parsed yet out of the event's JSON (see {@link eventFromJson}). */
const UNPARSED: unique symbol = Symbol('unparsed');

/**
 * One value as it leaves the core: the data plus an optional event id.
 *
 * The JSON form of `data` is computed once, on first use, and cached on the event, so a
 * value broadcast to many subscribers (and over several transports) is serialised once.
 *
 * @publicApi
 */
export class StreamEvent<T = unknown> {
  readonly id: string | undefined;
  /**
   * `'reset'`: not a value but a notice that the client missed events it cannot get back
   * (its last event id is too old, unknown, or from a lost history). Transports frame it as
   * their own reset message (PROTOCOL.md); `data` holds `{ reason }`.
   */
  readonly kind: 'data' | 'reset';
  private encoded: string | undefined;
  /** The value, or {@link UNPARSED} until `data` is first read on an event made from JSON. */
  private value: T | typeof UNPARSED;
  /**
   * Encodings transports made of this event, as `[key, frame, key, frame, ...]`: allocated
   * on first use, usually one or two entries (a flat array: cheaper to reach and to collect
   * than a Map or WeakMaps). The core keeps them without knowing which transports exist.
   */
  private frames: unknown[] | undefined = undefined;

  /**
   * @param data The value.
   * @param id Event id, for resume.
   * @param options `json`: the value's JSON when it is already known (it is then not
   *   serialised again); `kind`: see {@link StreamEvent.kind}.
   */
  constructor(data: T, id?: string | number, options?: { json?: string; kind?: 'data' | 'reset' }) {
    this.value = data;
    this.kind = options?.kind ?? 'data';
    this.encoded = options?.json;
    if (id !== undefined) {
      const text = String(id);
      if (text === '') {
        // An empty `id:` line resets a browser's last event id: leave the id out instead.
        throw new TypeError('A stream event id may not be empty; omit it for events without an id');
      }
      if (FORBIDDEN_ID_CHARS.test(text)) {
        throw new TypeError('A stream event id may not contain CR, LF or NUL');
      }
      if (text.length > MAX_EVENT_ID_LENGTH) {
        throw new TypeError(`A stream event id may not be longer than ${MAX_EVENT_ID_LENGTH} characters`);
      }
      this.id = text;
    } else {
      this.id = undefined;
    }
  }

  /** @internal See {@link eventFromJson}. */
  static fromOwnJson(json: string, id: string): StreamEvent {
    const event = new StreamEvent<unknown>(UNPARSED);
    event.encoded = json;
    (event as { id: string }).id = id;
    return event;
  }

  /**
   * The value. On an event the hub made from JSON it serialised itself, parsed on first read
   * (a subscriber that only forwards events never parses them).
   */
  get data(): T {
    const value = this.value;
    if (value !== UNPARSED) return value;
    return (this.value = JSON.parse(this.encoded!) as T);
  }

  /**
   * @internal The frame `build` makes of this event for `key`, made once per event and shared
   * by every subscriber (and every call of any transport that uses the same key).
   */
  cached<F>(key: FrameKey<F>, build: (event: StreamEvent) => F): F {
    const frames = this.frames;
    if (frames !== undefined) {
      for (let i = 0; i < frames.length; i += 2) if (frames[i] === key) return frames[i + 1] as F;
    }
    const frame = build(this);
    (this.frames ??= []).push(key, frame);
    return frame;
  }

  /**
   * The UTF-8 JSON text of `data` (`undefined` becomes `null`). Computed once per event.
   * Throws if `data` cannot be serialised (a `BigInt`, a cycle).
   */
  get json(): string {
    if (this.encoded === undefined) {
      this.encoded = JSON.stringify(this.data) ?? 'null';
    }
    return this.encoded;
  }
}

/**
 * @internal A transport's key for one encoding of events ({@link StreamEvent.cached}); the type
 * parameter is the frame's type.
 */
export class FrameKey<F> {
  /** Only carries `F` for type checking. */
  declare readonly frameType?: F;
  constructor(readonly name: string) {}
}

/**
 * Wraps a value with an event id, so clients can resume after it (`Last-Event-ID`).
 * Ids are opaque strings; they may not contain CR, LF or NUL.
 *
 * ```ts
 * return interval(1000).pipe(map((n) => tracked(String(n), { n })));
 * ```
 *
 * @publicApi
 */
export function tracked<T>(id: string | number, data: T): StreamEvent<T> {
  return new StreamEvent(data, id);
}

/**
 * @internal An event whose data is `json`, parsed only when `data` is read, with an id that is
 * not checked. Only for the hub's own records: `json` is what this process's `JSON.stringify`
 * made (the framings embed it as it is) and `id` is `<epoch>.<position>` of its own making.
 */
export function eventFromJson(json: string, id: string): StreamEvent {
  return StreamEvent.fromOwnJson(json, id);
}

/** Turns a handler's emitted value into a {@link StreamEvent} (values already wrapped pass through). */
export function toStreamEvent(value: unknown): StreamEvent {
  return value instanceof StreamEvent ? value : new StreamEvent(value);
}
