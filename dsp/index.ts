/** Signal processing shared by rtp/, mixer/, encoders/ and the tests: no I/O, no protocol. */
export { goertzelPower, blockEnergy, toneFraction, rms, toneFrames } from './goertzel.js';
export type { ToneFrameStats, ToneFrameOptions } from './goertzel.js';
export { ToneGenerator } from './ToneGenerator.js';
export { Resampler, RESAMPLER_RATES } from './Resampler.js';
export { DtmfDetector } from './DtmfDetector.js';
export type { DtmfDetectorOptions, DtmfDigitListener } from './DtmfDetector.js';
