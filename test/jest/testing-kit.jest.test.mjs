// The testing kit under jest (ESM, `node --experimental-vm-modules`, as `nest new` sets jest up
// for Nest 12), against the built package: `npm run test:jest` after `npm run build`. Plain
// JavaScript: the app's decorated classes come from the build of the sample.
import { jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { of } from 'rxjs';
import { LonglinkModule, StreamHub, tracked } from '../../dist/lib/index.js';
import { StreamTester } from '../../dist/lib/testing/index.js';
import { DemoAuthGuard } from '../../dist/sample/demo/demo-auth.guard.js';
import { DemoModule } from '../../dist/sample/demo/demo.module.js';

jest.setTimeout(20_000);

async function createApp(configure) {
  const builder = Test.createTestingModule({ imports: [LonglinkModule.forRoot({ isGlobal: true }), DemoModule] });
  configure?.(builder);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ logger: false, forceCloseConnections: true });
  await app.init();
  return app;
}

describe.each(['in-process', 'sse'])('nestjs-longlink/testing under jest (%s)', (transport) => {
  const open = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  test('the full pipeline: validated params, values, completion', async () => {
    const app = await createApp();
    const tester = await StreamTester.create(app, { transport });
    open.push(tester, app);
    const sub = await tester.subscribe('demo/counter', { count: 3, intervalMs: 0 });
    expect(await sub.take(3)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    await sub.complete();
    await (await tester.subscribe('demo/counter', { count: 'many' })).expectError('BAD_REQUEST');
  });

  test('overrideGuard applies; subscribe() waits until a publish cannot be missed', async () => {
    const app = await createApp((b) => b.overrideGuard(DemoAuthGuard).useValue({ canActivate: () => true }));
    const tester = await StreamTester.create(app, { transport });
    open.push(tester, app);
    expect(await (await tester.subscribe('demo/secure')).next()).toBeTruthy();
    const chat = await tester.subscribe('demo/chat', { room: 'jest' });
    await app.get(StreamHub).publish('chat:jest', { from: 'j', text: 'hi' });
    expect(await chat.next()).toMatchObject({ from: 'j', text: 'hi' });
  });

  test('overrideProvider applies: the handler gets the stand-in', async () => {
    const fakeHub = { stream: () => of(tracked('1', { from: 'fake', text: 'stand-in' })), publish: async () => '1' };
    const app = await createApp((b) => b.overrideProvider(StreamHub).useValue(fakeHub));
    const tester = await StreamTester.create(app, { transport });
    open.push(tester, app);
    const chat = await tester.subscribe('demo/chat', { room: 'any' });
    expect(await chat.next()).toEqual({ from: 'fake', text: 'stand-in' });
  });
});
