import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ERROR_MESSAGE_BYTES } from '../../lib/errors/error-bounds.js';
import { DEFAULT_MAX_PARAMS_DEPTH } from '../../lib/longlink.defaults.js';
import { HOSTILE_USERS, hostileModule, nested, nestedArrays, refusalMessage } from '../fixtures/hostile.js';
import { collect, type HarnessFactory, type TransportHarness } from '../harness/harness.js';

/** Whether `text` is well-formed UTF-16 (no lone surrogate: nothing was cut mid-character). */
function wellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/**
 * Hostile input every transport must survive: guards that echo long non-ASCII and
 * injection strings into their refusal, and params nested past the depth limit.
 */
export function runHostileInputConformance(factory: HarnessFactory): void {
  describe(`hostile input: ${factory().label}`, () => {
    let h: TransportHarness;

    beforeAll(async () => {
      h = factory();
      await h.start(hostileModule(h.moduleOptions));
    });
    afterAll(() => h.stop());

    it.each(HOSTILE_USERS)('a guard refusing with an echoed %s: UNAUTHENTICATED, message cut by bytes, server alive', async (_, user) => {
      const { events, end } = await collect(h.subscribe('hostile/refuse', { params: { user } }));
      expect(events).toEqual([]);
      expect(end).toMatchObject({ kind: 'error', code: 'UNAUTHENTICATED' });
      const message = end.kind === 'error' ? end.message : '';
      expect(message).toBe(refusalMessage(user));
      expect(Buffer.byteLength(message, 'utf8')).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
      expect(wellFormed(message)).toBe(true);
      // The process and the transport still serve.
      const ok = await collect(h.subscribe('hostile/depth', { params: { x: 1 } }));
      expect(ok.end).toEqual({ kind: 'complete' });
    });

    // The generic gRPC client (protobuf.js) encodes at most 50 levels: the e2e spec sends 64 as raw bytes.
    const served = factory().transport === 'grpc' ? 50 : DEFAULT_MAX_PARAMS_DEPTH;
    it(`params nested ${served} levels deep are served`, async () => {
      const { events, end } = await collect(h.subscribe('hostile/depth', { params: nested(served) }));
      expect(end).toEqual({ kind: 'complete' });
      expect(events.map((e) => e.data)).toEqual([{ depth: served }]);
    });

    // gRPC's generic client cannot encode more than 50 levels (protobuf.js): test/e2e/hostile-input.spec.ts
    // sends those as raw bytes.
    const deep = factory().transport === 'grpc' ? [] : [DEFAULT_MAX_PARAMS_DEPTH + 1, 2_000];
    for (const depth of deep) {
      it(`params nested ${depth} levels deep are BAD_REQUEST before any pipe (no class-transformer overflow)`, async () => {
        const { events, end } = await collect(h.subscribe('hostile/depth', { params: nestedArrays(depth) }));
        expect(events).toEqual([]);
        expect(end).toMatchObject({ kind: 'error', code: 'BAD_REQUEST' });
        expect(end.kind === 'error' && end.message).toContain('nested too deeply');
      });
    }
  });
}
