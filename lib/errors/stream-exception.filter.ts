import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { throwError, type Observable } from 'rxjs';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { HTTP_STATUS_BY_CODE, HttpHeader } from '../protocol/http.protocol.js';
import { retryAfterSeconds } from './retry-after.js';
import { StreamException } from './stream-exception.js';
import { LONGLINK_LOGGER_CONTEXT } from '../longlink.constants.js';

/**
 * Answers a {@link StreamException} that reaches an ordinary HTTP route (e.g. `hub.publish()`
 * in a controller rejecting with `UNAVAILABLE`) with the status of the shared table
 * ({@link HTTP_STATUS_BY_CODE}), a `Retry-After` header where retrying makes sense, and the
 * JSON body `{ code, message, details? }`. `LonglinkModule` registers it globally
 * (`APP_FILTER`); it catches `StreamException` only, so every other exception is handled as
 * before, and an application's own filters for it still win (Nest tries the most specific,
 * then the most recently registered global filter first).
 *
 * Other contexts: in a microservice handler the error is answered as `{ code, message }`;
 * anywhere else (streams, GraphQL) it is rethrown untouched, as if this filter did not exist.
 *
 * @publicApi
 */
@Catch(StreamException)
export class StreamExceptionFilter implements ExceptionFilter<StreamException> {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: StreamException, host: ArgumentsHost): void | Observable<never> {
    const type = host.getType<string>();
    if (type === 'rpc') return throwError(() => exception.toJSON());
    const adapter = this.adapterHost?.httpAdapter;
    if (type !== 'http' || !adapter) throw exception;
    if (exception.code === StreamErrorCode.INTERNAL) {
      const cause = exception.cause;
      this.logger.error(cause instanceof Error ? (cause.stack ?? cause.message) : `StreamException INTERNAL: ${exception.message}`);
    }
    const response: unknown = host.switchToHttp().getResponse();
    if (adapter.isHeadersSent(response)) {
      adapter.end(response);
      return;
    }
    const retryAfter = retryAfterSeconds(exception);
    if (retryAfter !== undefined) adapter.setHeader(response, HttpHeader.RETRY_AFTER, String(retryAfter));
    adapter.reply(response, exception.toJSON(), HTTP_STATUS_BY_CODE[exception.code]);
  }
}
