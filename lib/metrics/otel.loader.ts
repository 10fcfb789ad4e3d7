import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';

/**
 * Loads `@opentelemetry/api`, an optional peer: `undefined` when it is not installed (metrics
 * are then off). Loaded lazily so that the module never needs it.
 */
export function loadOtelApi(): typeof OtelApi | undefined {
  try {
    return createRequire(import.meta.url)('@opentelemetry/api') as typeof OtelApi;
  } catch {
    return undefined;
  }
}

/** Whether a meter is a real one: without an SDK, the API hands out its one no-op meter. */
export function isRealMeter(api: typeof OtelApi, meter: OtelApi.Meter): boolean {
  return meter !== api.createNoopMeter();
}
