import { UnauthorizedException } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { describe, expect, it } from 'vitest';
import { LONGLINK_CONTEXT_TYPE, StreamTicketService } from '../../lib/index.js';
import { resolveLonglinkOptions } from '../../lib/core/longlink-options.js';
import { StreamCallImpl } from '../../lib/core/stream-call.js';
import { DemoAuthGuard } from '../../sample/demo/demo-auth.guard.js';

/** The demo guard alone: the three credentials it accepts, as every transport presents them. */
describe('DemoAuthGuard', () => {
  const tickets = new StreamTicketService(resolveLonglinkOptions({}));
  const guard = new DemoAuthGuard(tickets);
  const context = (init: Partial<ConstructorParameters<typeof StreamCallImpl>[0]>, connectionParams?: unknown) => {
    const call = new StreamCallImpl({
      stream: 'demo/secure',
      transport: 'ws',
      params: {},
      lastEventId: undefined,
      headers: {},
      raw: undefined,
      connectionParams,
      ...init,
    });
    const host = new ExecutionContextHost([call]);
    host.setType(LONGLINK_CONTEXT_TYPE);
    return host;
  };

  it('accepts the bearer header, the init payload token or a ticket; refuses anything else with 401', async () => {
    await expect(guard.canActivate(context({ headers: { authorization: 'Bearer demo-token' } }))).resolves.toBe(true);
    await expect(guard.canActivate(context({}, { token: 'demo-token' }))).resolves.toBe(true);
    const ticket = tickets.issue('demo/secure');
    await expect(guard.canActivate(context({ transport: 'sse', ticket }))).resolves.toBe(true);
    await expect(guard.canActivate(context({ transport: 'sse', ticket }))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(guard.canActivate(context({}, { token: 'wrong' }))).rejects.toBeInstanceOf(UnauthorizedException);
    await expect(guard.canActivate(context({}, 'demo-token'))).rejects.toBeInstanceOf(UnauthorizedException);
  });
});
