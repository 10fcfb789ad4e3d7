import type { StreamArgMetadata } from '../../decorators/stream-params.decorator.js';
import { LonglinkConfigError } from '../../errors/longlink-config.error.js';
import type { ResolvedInputOptions, StreamInputOptions } from '../../interfaces/input-options.interface.js';
import { STREAM_ARGS_METADATA } from '../../longlink.constants.js';

/**
 * A stream's input limits (`@Stream({ input })` over the module's `input` options), checked
 * against its handler: a stream with input has exactly one `@StreamInput()` parameter, a
 * stream without has none. `undefined` for a one-way stream.
 */
export function resolveStreamInput(
  location: string,
  given: boolean | StreamInputOptions | undefined,
  controller: object,
  methodName: string,
  module: ResolvedInputOptions,
): { maxQueue: number; maxMessageBytes: number } | undefined {
  const args = (Reflect.getMetadata(STREAM_ARGS_METADATA, controller, methodName) as StreamArgMetadata[] | undefined) ?? [];
  const inputs = args.filter((a) => a.kind === 'input').length;
  const on = given !== undefined && given !== false;
  if (!on) {
    if (inputs > 0)
      throw new LonglinkConfigError(`LonglinkModule: ${location} has a @StreamInput() parameter: declare @Stream(..., { input: true })`);
    return undefined;
  }
  if (inputs !== 1) {
    throw new LonglinkConfigError(`LonglinkModule: ${location} declares input: it needs exactly one @StreamInput() parameter (found ${inputs})`);
  }
  if (given === true) return { maxQueue: module.maxQueue, maxMessageBytes: module.maxMessageBytes };
  if (typeof given !== 'object' || given === null) {
    throw new LonglinkConfigError(`LonglinkModule: ${location}: input must be true or { maxQueue?, maxMessageBytes? }`);
  }
  const pick = (key: 'maxQueue' | 'maxMessageBytes', min: number): number => {
    const value = given[key];
    if (value === undefined) return module[key];
    if (!Number.isSafeInteger(value) || value < min) {
      throw new LonglinkConfigError(`LonglinkModule: ${location}: input.${key} must be an integer >= ${min}`);
    }
    return value;
  };
  return { maxQueue: pick('maxQueue', 1), maxMessageBytes: pick('maxMessageBytes', 2) };
}
