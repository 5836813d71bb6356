/** Store rows for tests and benches: every field set, the ones that matter given by `patch`. */
import type { RecordingRow } from '../../recorder/index.js';

/** 2024-05-01T00:00:00.000Z: the creation time of a row made without one. */
export const ROW_TIME = '2024-05-01T00:00:00.000Z';

/** A recording of call `call-1` in account `A`, recording mono WAV at 8 kHz. */
export function recordingRow(id: string, patch: Partial<RecordingRow> = {}): RecordingRow {
  return {
    id,
    account_id: 'A',
    reference_type: 'call',
    reference_id: 'call-1',
    status: 'recording',
    format: 'wav',
    channels: 'mono',
    sample_rate: 8000,
    bitrate: null,
    participant: 'all',
    label: '',
    duration_ms: 0,
    file_size: 0,
    checksum_sha256: '',
    pauses: [],
    recovered: false,
    reason: '',
    file_path: `recordings/${id}.wav`,
    options: {},
    tm_start: '',
    tm_end: '',
    tm_create: ROW_TIME,
    tm_update: ROW_TIME,
    tm_delete: '',
    tracks: [],
    ...patch,
  };
}
