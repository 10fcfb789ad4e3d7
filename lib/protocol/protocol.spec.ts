import { describe, expect, it } from 'vitest';
import {
  GRPC_STATUS_BY_CODE,
  GrpcStatus,
  HTTP_STATUS_BY_CODE,
  STREAM_ERROR_CODES,
  StreamErrorCode,
  TRANSIENT_CODES,
  WsCloseCode,
  codeOfGrpcStatus,
  codeOfHttpStatus,
  codeOfWsClose,
  isTransientCode,
  wsInitRefusalCloseCode,
} from './index.js';

describe('lib/protocol: the wire contract', () => {
  it('every table covers every code, and each table read backwards gives the code again', () => {
    for (const code of STREAM_ERROR_CODES) {
      expect(codeOfHttpStatus(HTTP_STATUS_BY_CODE[code])).toBe(code);
      expect(codeOfGrpcStatus(GRPC_STATUS_BY_CODE[code])).toBe(code);
    }
  });

  it('transient codes: the four a client reconnects after', () => {
    expect([...TRANSIENT_CODES].sort()).toEqual(['DEADLINE_EXCEEDED', 'INTERNAL', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE']);
    expect(isTransientCode('UNAVAILABLE')).toBe(true);
    expect(isTransientCode('NOT_FOUND')).toBe(false);
    expect(isTransientCode('SOMETHING_ELSE')).toBe(false);
  });

  it('HTTP statuses without a body (a proxy): 408 and 504 time out, other 5xx are INTERNAL, the rest BAD_REQUEST', () => {
    const got = Object.fromEntries([400, 401, 403, 404, 405, 408, 409, 413, 429, 500, 502, 503, 504].map((s) => [s, codeOfHttpStatus(s)]));
    expect(got).toEqual({
      400: 'BAD_REQUEST',
      401: 'UNAUTHENTICATED',
      403: 'PERMISSION_DENIED',
      404: 'NOT_FOUND',
      405: 'BAD_REQUEST',
      408: 'DEADLINE_EXCEEDED',
      409: 'CONFLICT',
      413: 'BAD_REQUEST',
      429: 'RESOURCE_EXHAUSTED',
      500: 'INTERNAL',
      502: 'INTERNAL',
      503: 'UNAVAILABLE',
      504: 'DEADLINE_EXCEEDED',
    });
  });

  it('gRPC statuses without the code trailer: foreign ones are terminal, dropped calls UNAVAILABLE', () => {
    const got = Object.fromEntries(Array.from({ length: 17 }, (_, s): [number, string] => [s, codeOfGrpcStatus(s)]).slice(1));
    expect(got).toEqual({
      1: 'UNAVAILABLE', // CANCELLED
      2: 'INTERNAL', // UNKNOWN
      3: 'BAD_REQUEST',
      4: 'DEADLINE_EXCEEDED',
      5: 'NOT_FOUND',
      6: 'UNAVAILABLE', // ALREADY_EXISTS
      7: 'PERMISSION_DENIED',
      8: 'RESOURCE_EXHAUSTED',
      9: 'BAD_REQUEST', // FAILED_PRECONDITION
      10: 'CONFLICT',
      11: 'BAD_REQUEST', // OUT_OF_RANGE
      12: 'NOT_FOUND', // UNIMPLEMENTED
      13: 'INTERNAL',
      14: 'UNAVAILABLE',
      15: 'UNAVAILABLE', // DATA_LOSS
      16: 'UNAUTHENTICATED',
    });
  });

  it('gRPC status numbers are the specification values grpc-js uses', async () => {
    const { status } = await import('@grpc/grpc-js');
    for (const [name, value] of Object.entries(GrpcStatus)) expect(status[name as keyof typeof status], name).toBe(value);
  });

  it('WebSocket close codes: refusals have their code, any other close is UNAVAILABLE', () => {
    expect(codeOfWsClose(WsCloseCode.UNAUTHENTICATED)).toBe('UNAUTHENTICATED');
    expect(codeOfWsClose(WsCloseCode.FORBIDDEN)).toBe('PERMISSION_DENIED');
    expect(codeOfWsClose(WsCloseCode.TOO_MANY_INVALID_MESSAGES)).toBe('BAD_REQUEST');
    expect(codeOfWsClose(WsCloseCode.MESSAGE_TOO_BIG)).toBe('BAD_REQUEST');
    expect(codeOfWsClose(WsCloseCode.SLOW_CONSUMER)).toBe('RESOURCE_EXHAUSTED');
    expect(codeOfWsClose(WsCloseCode.INIT_TIMEOUT)).toBe('DEADLINE_EXCEEDED');
    for (const close of [1000, 1001, 1006, 1011, 4000, 4999]) expect(codeOfWsClose(close), String(close)).toBe('UNAVAILABLE');
    expect(wsInitRefusalCloseCode(StreamErrorCode.UNAUTHENTICATED)).toBe(4401);
    expect(wsInitRefusalCloseCode(StreamErrorCode.INTERNAL)).toBe(1011);
    expect(wsInitRefusalCloseCode(StreamErrorCode.CONFLICT)).toBe(4403);
  });
});
