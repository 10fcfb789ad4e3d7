import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { StreamTicketService, getStreamCall } from '../../lib/index.js';

/** The token `demo/secure` accepts. */
export const DEMO_TOKEN = 'demo-token';

/**
 * An ordinary Nest guard that accepts the three ways a client can authenticate:
 * - `Authorization: Bearer demo-token` (Node clients, `fetch`; plain HTTP routes too);
 * - the WebSocket init payload `{"type":"init","payload":{"token":"demo-token"}}`, read as
 *   `call.connectionParams` (browsers' `WebSocket` cannot set headers);
 * - a stream ticket from `POST /demo/ticket`, as `?ticket=` (browsers' `EventSource`).
 */
@Injectable()
export class DemoAuthGuard implements CanActivate {
  constructor(private readonly tickets: StreamTicketService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    if (request.headers.authorization === `Bearer ${DEMO_TOKEN}`) return true;
    const call = getStreamCall(context);
    if (call) {
      const init = call.connectionParams as { token?: unknown } | undefined;
      if (init?.token === DEMO_TOKEN) return true;
      if (call.ticket !== undefined) {
        // Throws UNAUTHENTICATED (401) when the ticket is expired, reused, tampered with or for another stream.
        await this.tickets.verify(call);
        return true;
      }
    }
    throw new UnauthorizedException('A valid bearer token is required');
  }
}
