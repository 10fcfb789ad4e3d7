import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  HttpException,
  NotFoundException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { TimeoutError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS_BY_CODE } from '../protocol/http.protocol.js';
import { STREAM_ERROR_CODES, StreamErrorCode } from '../protocol/stream-error-code.js';
import { GENERIC_INTERNAL_MESSAGE, StreamException, toStreamException } from './stream-exception.js';

describe('toStreamException', () => {
  it.each([
    [new BadRequestException(['a must be an integer', 'b is missing']), 'BAD_REQUEST', 'a must be an integer; b is missing'],
    [new UnauthorizedException('no token'), 'UNAUTHENTICATED', 'no token'],
    [new ForbiddenException(), 'PERMISSION_DENIED', 'Forbidden'],
    [new NotFoundException('gone'), 'NOT_FOUND', 'gone'],
    [new ConflictException('dup'), 'CONFLICT', 'dup'],
    [new HttpException('slow down', 429), 'RESOURCE_EXHAUSTED', 'slow down'],
    [new ServiceUnavailableException('later'), 'UNAVAILABLE', 'later'],
    [new HttpException('teapot', 418), 'BAD_REQUEST', 'teapot'],
    [new TimeoutError(), 'DEADLINE_EXCEEDED', 'Stream timed out'],
  ])('maps %s', (error, code, message) => {
    const e = toStreamException(error);
    expect(e.code).toBe(code);
    expect(e.message).toBe(message);
  });

  it('keeps StreamException as is, with details', () => {
    const original = new StreamException(StreamErrorCode.BAD_REQUEST, 'bad', { field: 'x' });
    expect(toStreamException(original)).toBe(original);
    expect(original.toJSON()).toEqual({ code: 'BAD_REQUEST', message: 'bad', details: { field: 'x' } });
  });

  it.each([new Error('db password is hunter2'), new TypeError('x is undefined'), 'a string', { code: 'BAD_REQUEST' }, null])(
    'turns %s into INTERNAL with the generic message',
    (error) => {
      const e = toStreamException(error);
      expect(e.code).toBe('INTERNAL');
      expect(e.message).toBe(GENERIC_INTERNAL_MESSAGE);
      expect(JSON.stringify(e.toJSON())).not.toContain('hunter2');
    },
  );

  it('the HTTP table covers every code', () => {
    for (const code of STREAM_ERROR_CODES) expect(HTTP_STATUS_BY_CODE[code]).toBeGreaterThanOrEqual(400);
  });
});
