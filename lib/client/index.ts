/**
 * `nestjs-longlink/client`: one client for SSE, WebSocket and (Node) gRPC streams. No Nest,
 * no Node built-ins; rxjs `Observable` is its only import.
 */
export { createClient } from './client.js';
export type { ChannelOptions, LonglinkChannel, LonglinkClient, SubscribeOptions } from './client.api.js';
export type { StreamEntry, StreamMap, TypedLonglinkClient } from './typed-client.types.js';
export { StreamError } from './stream-error.js';
export type {
  ClientEvent,
  ClientOptions,
  ClientState,
  EventSourceConstructor,
  RetryOptions,
  TransportChoice,
  TransportName,
  WebSocketConstructor,
} from './client.types.js';
export { defineStream } from '../contract/stream-contract.js';
export type { StreamContract, StreamParamsOf, StreamEventOf, StreamInputOf } from '../contract/stream-contract.js';
