import { SseHarness } from '../harness/sse.harness.js';
import { runHostileInputConformance } from './hostile.cases.js';
import { runStreamConformance } from './streams.cases.js';

runStreamConformance(() => new SseHarness('express'));
runStreamConformance(() => new SseHarness('fastify'), { globalGuard: false });
runHostileInputConformance(() => new SseHarness('express'));
