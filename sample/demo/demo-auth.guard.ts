import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';

/** The token `demo/secure` accepts. */
export const DEMO_TOKEN = 'demo-token';

/**
 * An ordinary Nest guard: it reads `request.headers.authorization`, which works for plain
 * HTTP routes and for streams on every transport alike.
 */
@Injectable()
export class DemoAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    if (request.headers.authorization !== `Bearer ${DEMO_TOKEN}`) {
      throw new UnauthorizedException('A valid bearer token is required');
    }
    return true;
  }
}
