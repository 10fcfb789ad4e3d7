// The README's usage example, as written there (imports from the source instead of the package).
import { Controller, Injectable, Module, UseGuards, ValidationPipe, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsString, Min } from 'class-validator';
import { interval, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { LastEventId, LonglinkModule, Stream, StreamParams, tracked } from '../../lib/index.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { openWs } from '../harness/ws.harness.js';
import { wsText } from '../harness/util.js';

class TickerQuery {
  @IsString() symbol!: string;
  @Type(() => Number) @IsInt() @Min(10) everyMs: number = 1000; // SSE params arrive as strings
}

@Injectable()
class AuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    // The same guard works for HTTP routes and for streams on every transport.
    return context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization === 'Bearer secret';
  }
}

@Controller('prices')
class PricesController {
  // SSE: GET /prices/ticker?symbol=ACME   WS: {"type":"subscribe","stream":"prices/ticker",...}
  @Stream('ticker')
  @UseGuards(AuthGuard)
  ticker(
    @StreamParams(new ValidationPipe({ transform: true })) q: TickerQuery,
    @LastEventId() last?: string,
  ) {
    const start = last === undefined ? 0 : Number(last) + 1;
    return interval(q.everyMs).pipe(map((i) => tracked(start + i, { symbol: q.symbol, seq: start + i })));
  }
}

@Module({ imports: [LonglinkModule.forRoot({ ws: true })], controllers: [PricesController], providers: [AuthGuard] })
export class AppModule {}

describe('README usage example', () => {
  it('works over SSE and WebSocket as described', async () => {
    const { app, baseUrl } = await createHttpApp('express', AppModule);
    try {
      const refused = await rawGet(`${baseUrl}/prices/ticker?symbol=ACME`);
      expect(refused.status).toBe(403);
      await refused.body();
      const invalid = await rawGet(`${baseUrl}/prices/ticker?everyMs=5`, { authorization: 'Bearer secret' });
      expect(invalid.status).toBe(400);
      await invalid.body();
      const sse = await rawGet(`${baseUrl}/prices/ticker?symbol=ACME&everyMs=10`, {
        authorization: 'Bearer secret',
        'last-event-id': '41',
      });
      await sse.waitFor((t) => parseSse(t).filter((e) => e.id).length >= 2);
      expect(parseSse(sse.text).filter((e) => e.id).slice(0, 2)).toEqual([
        { id: '42', data: '{"symbol":"ACME","seq":42}' },
        { id: '43', data: '{"symbol":"ACME","seq":43}' },
      ]);
      sse.destroy();
      const ws = await openWs(`${baseUrl.replace('http', 'ws')}/ws`, { headers: { authorization: 'Bearer secret' } });
      const first = new Promise<string>((resolve) => ws.once('message', (m) => resolve(wsText(m))));
      ws.send(JSON.stringify({ type: 'subscribe', id: 't', stream: 'prices/ticker', params: { symbol: 'XYZ', everyMs: 10 } }));
      expect(JSON.parse(await first)).toEqual({ type: 'next', id: 't', eventId: '0', data: { symbol: 'XYZ', seq: 0 } });
      ws.close();
    } finally {
      await app.close();
    }
  });
});
