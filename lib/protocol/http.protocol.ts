import { StreamErrorCode } from './stream-error-code.js';

/**
 * Each error code's HTTP status: the one table every HTTP-shaped answer uses (an SSE refusal
 * before the first event, a refused WebSocket upgrade, a `StreamException` reaching an ordinary
 * HTTP route). See PROTOCOL.md §2.
 *
 * @publicApi
 */
export const HTTP_STATUS_BY_CODE: Readonly<Record<StreamErrorCode, number>> = {
  [StreamErrorCode.BAD_REQUEST]: 400,
  [StreamErrorCode.UNAUTHENTICATED]: 401,
  [StreamErrorCode.PERMISSION_DENIED]: 403,
  [StreamErrorCode.NOT_FOUND]: 404,
  [StreamErrorCode.CONFLICT]: 409,
  [StreamErrorCode.RESOURCE_EXHAUSTED]: 429,
  [StreamErrorCode.DEADLINE_EXCEEDED]: 504,
  [StreamErrorCode.INTERNAL]: 500,
  [StreamErrorCode.UNAVAILABLE]: 503,
};

/** Statuses the server never sends but proxies do, with the code a client reads them as. */
const PROXY_STATUSES: Readonly<Record<number, StreamErrorCode>> = {
  408: StreamErrorCode.DEADLINE_EXCEEDED,
};

/** {@link HTTP_STATUS_BY_CODE} read backwards, plus {@link PROXY_STATUSES}. */
const CODE_BY_HTTP_STATUS: Readonly<Record<number, StreamErrorCode>> = {
  ...PROXY_STATUSES,
  ...Object.fromEntries(Object.entries(HTTP_STATUS_BY_CODE).map(([code, status]) => [status, code as StreamErrorCode])),
};

/**
 * The code of an HTTP refusal that carries no `{code}` body (a proxy's 502, ...): the table read
 * backwards, then any other 5xx is `INTERNAL` and any other status `BAD_REQUEST`.
 */
export function codeOfHttpStatus(status: number): StreamErrorCode {
  return CODE_BY_HTTP_STATUS[status] ?? (status >= 500 ? StreamErrorCode.INTERNAL : StreamErrorCode.BAD_REQUEST);
}

/**
 * Header names of the HTTP transports, lower-case as Node and `fetch` `Headers` give them (HTTP
 * header names are case-insensitive; PROTOCOL.md writes them `Last-Event-ID`, `Retry-After`).
 */
export const HttpHeader = {
  /** The id of the last event the client saw: resume after it (§3.1). Also gRPC request metadata (§5.1). */
  LAST_EVENT_ID: 'last-event-id',
  /** Whole seconds to wait before retrying a refusal (§2). */
  RETRY_AFTER: 'retry-after',
} as const;

/** Query parameters of an SSE request (PROTOCOL.md §3.1, §3.8). */
export const SseQuery = {
  /** The stream params as one JSON object. */
  PARAMS: 'params',
  /** The last event id, for clients that cannot send the header (`EventSource`'s first request). */
  LAST_EVENT_ID: 'lastEventId',
  /** A stream ticket (§3.8). */
  TICKET: 'ticket',
} as const;

/** SSE event names besides the default `message` (PROTOCOL.md §3.3). */
export const SseEventName = {
  RESET: 'reset',
  COMPLETE: 'complete',
  ERROR: 'error',
} as const;
