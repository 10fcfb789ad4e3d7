// The README's usage example, as written there (imports from the source instead of the package).
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Controller, Injectable, Module, UseGuards, ValidationPipe, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsString, Min } from 'class-validator';
import { interval, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { LastEventId, LonglinkModule, Stream, StreamParams, tracked } from '../../lib/index.js';
import { AppModule as SampleModule } from '../../sample/app.module.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { until } from '../harness/util.js';
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
  ticker(@StreamParams(new ValidationPipe({ transform: true })) q: TickerQuery, @LastEventId() last?: string) {
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
      expect(
        parseSse(sse.text)
          .filter((e) => e.id)
          .slice(0, 2),
      ).toEqual([
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

/** The README's curl lines for the sample's two-way chat (the block that subscribes `name=curl`), one command each. */
function chatCurlCommands(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('/demo/chat?room=lobby&name=curl'));
  if (!block) throw new Error('README: the sample chat curl block is missing');
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

describe("README: the sample's chat with curl (SSE and the input endpoint)", () => {
  it('runs as written: a line sent on the subscription, a refusal, a line from another service, both lines on the stream', async () => {
    process.env.GRPC_PORT = '0';
    const { app, baseUrl } = await createHttpApp('express', SampleModule);
    const run = promisify(execFile);
    const [setChannel, subscribe, ...posts] = chatCurlCommands().map((c) => c.replaceAll('http://127.0.0.1:3000', baseUrl));
    expect(setChannel).toMatch(/^CH=/);
    expect(subscribe).toMatch(/ &$/);
    expect(posts).toHaveLength(3);
    const CH = (await run('bash', ['-c', `${setChannel}; printf %s "$CH"`])).stdout;
    expect(CH).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const env = { ...process.env, CH };
    const sse = spawn('bash', ['-c', `exec ${subscribe!.slice(0, -1)} -s`], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    sse.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    try {
      await until(() => text.includes('retry:'), 10_000, 'the subscription head');
      const out = (cmd: string) => run('bash', ['-c', `${cmd} -s -w ' %{http_code}'`], { env }).then((r) => r.stdout);
      expect(await out(posts[0]!)).toBe('{"id":"1"} 202');
      expect(await out(posts[1]!)).toBe('{"code":"BAD_REQUEST","message":"text must be longer than or equal to 1 characters"} 400');
      expect(await out(posts[2]!)).toMatch(/^\{"id":"[^"]+"\} 201$/);
      await until(() => text.includes('deploy at five'), 5000, 'both lines on the stream');
      const lines = parseSse(text)
        .filter((e) => e.data)
        .map((e) => JSON.parse(e.data!) as { from: string; text: string });
      expect(lines.map((l) => `${l.from}: ${l.text}`)).toEqual(['curl: hi from curl', 'ops: deploy at five']);
    } finally {
      sse.kill();
      await app.close();
    }
  }, 30_000);
});
