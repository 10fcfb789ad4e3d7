import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';
import { getStreamCall } from './stream-call.js';
import { StreamTicketService } from './stream-ticket.service.js';

/**
 * Accepts a stream call that carries a valid, unused stream ticket (`?ticket=` on SSE) and
 * uses the ticket up; puts its subject (if any) in `call.user`. Anything else → 401
 * `UNAUTHENTICATED`. To accept a header token OR a ticket, call
 * `StreamTicketService.verify()` from your own guard instead (see the sample's DemoAuthGuard).
 *
 * ```ts
 * @Stream('live') @UseGuards(StreamTicketGuard) live() { ... }
 * ```
 *
 * @publicApi
 */
@Injectable()
export class StreamTicketGuard implements CanActivate {
  constructor(private readonly tickets: StreamTicketService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const call = getStreamCall(context);
    if (!call) throw new StreamException(StreamErrorCode.UNAUTHENTICATED, 'A stream ticket is required');
    const claims = await this.tickets.verify(call);
    if (claims.subject !== undefined && call.user === undefined) call.user = claims.subject;
    return true;
  }
}
