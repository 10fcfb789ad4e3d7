import { GrpcHarness } from '../harness/grpc.harness.js';
import { runHostileInputConformance } from './hostile.cases.js';
import { runStreamConformance } from './streams.cases.js';

runStreamConformance(() => new GrpcHarness('express'));
runStreamConformance(() => new GrpcHarness('fastify'), { globalGuard: false });
runHostileInputConformance(() => new GrpcHarness('express'));
