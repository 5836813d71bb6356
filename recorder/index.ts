/** Recordings: a mixer output encoded to a crash-safe file through a bounded write queue. */
export { Recording, hashFile } from './Recording.js';
export type {
  RecordingOptions,
  RecordingStartOptions,
  RecordingResult,
  RecordingState,
  RecordingEvents,
  PauseBehavior,
  PauseInterval,
  StopReason,
} from './Recording.js';
export { FileSink } from './FileSink.js';
export type { FileSinkOptions } from './FileSink.js';
