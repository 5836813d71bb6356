/**
 * The short run of the SIP message fuzz targets (fuzz/sip.ts) inside `npm test`: parseMessage on
 * bytes, line soup and mutated messages, StreamFramer in any chunking, the header value parsers
 * and generated messages round-tripped; a fixed seed each, so a failure replays. The long run is
 * `npm run fuzz` (10^6 cases per target). RECGATE_FUZZ_RUNS=<n> sets every target to n runs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SIP_TARGETS } from '../fuzz/index.js';
import { fuzzTests } from './helpers/fuzzPlan.js';
import type { FuzzPlan } from './helpers/fuzzPlan.js';

/**
 * Cases per target and the least share of them that must be accepted (so the round-trip checks
 * on accepted results really ran; a generator that drifts into producing only garbage fails here).
 */
const PLAN: Record<string, FuzzPlan> = {
  'sip-bytes': { runs: 20000, seed: 3261, accepted: 0 },
  'sip-soup': { runs: 10000, seed: 3262, accepted: 0.02 },
  'sip-mutated': { runs: 20000, seed: 3263, accepted: 0.1 },
  'sip-framer': { runs: 3000, seed: 3264, accepted: 0.5 },
  'sip-framer-bytes': { runs: 3000, seed: 3265, accepted: 0.1 },
  'sip-uri': { runs: 8000, seed: 3986, accepted: 0.1 },
  'sip-name-addr': { runs: 8000, seed: 3266, accepted: 0.1 },
  'sip-via': { runs: 8000, seed: 3267, accepted: 0.1 },
  'sip-auth': { runs: 8000, seed: 7616, accepted: 0.1 },
  'sip-roundtrip': { runs: 3000, seed: 3268, accepted: 1 },
};

const done: string[] = [];
fuzzTests(SIP_TARGETS, PLAN, done);

test('report fuzz runs', () => {
  console.log(`\n  sip fuzz runs: ${done.join('; ')}`);
  assert.is(done.length, SIP_TARGETS.length);
});

test.run();
