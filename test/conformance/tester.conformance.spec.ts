import { TesterHarness } from '../harness/tester.harness.js';
import { runStreamConformance } from './streams.cases.js';

runStreamConformance(() => new TesterHarness());
