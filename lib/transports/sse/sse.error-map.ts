import type { StreamErrorCode } from '../../errors/stream-error-code.js';
import { HTTP_STATUS_BY_CODE } from '../../errors/http.error-map.js';

/**
 * The SSE transport's complete table: each error code's HTTP status, used when the error
 * comes before the first event (after it, the code travels in an `event: error`). The shared
 * HTTP table ({@link HTTP_STATUS_BY_CODE}). See PROTOCOL.md, "SSE: errors".
 */
export const SSE_STATUS_BY_CODE: Readonly<Record<StreamErrorCode, number>> = HTTP_STATUS_BY_CODE;
