import { createRequire } from 'node:module';
import type * as WsModule from 'ws';

/**
 * Loads the `ws` library that `@nestjs/platform-ws` uses (the same copy, so both agree on
 * its classes). The WebSocket transport is optional: without the package, enabling it fails
 * at startup with an install hint.
 */
export function loadWs(): typeof WsModule {
  const require = createRequire(import.meta.url);
  let platformWs: string;
  try {
    platformWs = require.resolve('@nestjs/platform-ws');
  } catch {
    throw new Error(
      'LonglinkModule: the WebSocket transport (option "ws") needs @nestjs/platform-ws. Install it with: npm install @nestjs/platform-ws @nestjs/websockets',
    );
  }
  return createRequire(platformWs)('ws') as typeof WsModule;
}
