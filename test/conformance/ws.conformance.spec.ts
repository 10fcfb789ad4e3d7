import { WsHarness } from '../harness/ws.harness.js';
import { runHostileInputConformance } from './hostile.cases.js';
import { runStreamConformance } from './streams.cases.js';

runStreamConformance(() => new WsHarness('express'));
runStreamConformance(() => new WsHarness('fastify'), { globalGuard: false });
runHostileInputConformance(() => new WsHarness('express'));
