/**
 * `nestjs-longlink/testing`: drive an app's streams from a test, through the full Nest
 * pipeline, in process or over a real transport.
 */
export { StreamTester } from './stream-tester.js';
export type { StreamSubscription, StreamTesterOptions, TestSubscribeOptions } from './stream-tester.js';
export type { RecordedError, RecordedEvent } from './stream-recorder.js';
