/** The ring-buffer mixer: per-leg rings, the frame clock, mono/stereo/track/N-1 outputs. */
export { Mixer, MixOutput } from './Mixer.js';
export type { MixerOptions, MixerRate, OutputSpec, FrameConsumer, MixerStats } from './Mixer.js';
export { MixerInput } from './MixerInput.js';
export type { InputFeeder, InputClock, MixerInputOptions, MixerInputStats } from './MixerInput.js';
export { FrameScheduler, sharedScheduler, mediaClock } from './FrameScheduler.js';
export type { FrameSchedulerOptions } from './FrameScheduler.js';
export { sat16, mix2, mix4, mix8, accSum, accStore, accStoreMinus, copyStrided } from './kernels.js';
