// A waveform under an <audio> element, in the spirit of wavesurfer.js but ~150 lines: the file
// is fetched and decoded with WebAudio (decodeAudioData on an OfflineAudioContext at 8 kHz
// whatever the file's rate, which is plenty for a picture and keeps an hour of mono at ~115 MB
// of floats), reduced to min/max peaks per bucket, and drawn on a <canvas> per channel (stereo:
// caller above, callee below). The played part is drawn in the accent colour; a click seeks.

const BUCKETS = 2000;
const DECODE_RATE = 8000;
/** Larger files are not fetched for a waveform. */
export const MAX_WAVEFORM_BYTES = 128 * 1024 * 1024;
/** Nor are longer recordings decoded: channel-seconds (two hours of mono, one of stereo). */
export const MAX_WAVEFORM_CHANNEL_SECONDS = 2 * 3600;

/** Why a recording gets no waveform ('' when it can have one). */
export function waveformTooLarge(recording) {
  const channels = recording.channels === 'stereo' ? 2 : 1;
  if (recording.file_size > MAX_WAVEFORM_BYTES) return `the file is larger than ${MAX_WAVEFORM_BYTES / 1024 / 1024} MB`;
  if ((recording.duration_ms / 1000) * channels > MAX_WAVEFORM_CHANNEL_SECONDS) return 'the recording is too long to decode in the browser';
  return '';
}

/** Fetches and decodes `url`; resolves to {peaks: [{min, max}] per channel, duration}. */
export async function loadPeaks(url, { headers = {}, signal } = {}) {
  const init = { headers };
  if (signal) init.signal = signal;
  const res = await fetch(url, init);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      if (body?.error?.message) message = `${body.error.message} (${body.error.code}, HTTP ${res.status})`;
    } catch {
      // not JSON: keep the status line
    }
    throw new Error(`cannot fetch the audio for the waveform: ${message}`);
  }
  const bytes = await res.arrayBuffer();
  const ctx = new OfflineAudioContext(1, 1, DECODE_RATE);
  let buffer;
  try {
    buffer = await ctx.decodeAudioData(bytes);
  } catch (err) {
    throw new Error(`the browser cannot decode this audio for the waveform (${err?.message ?? err})`);
  }
  const channels = Math.min(2, buffer.numberOfChannels);
  const peaks = [];
  for (let c = 0; c < channels; c++) {
    const data = buffer.getChannelData(c);
    const n = Math.max(1, Math.min(BUCKETS, data.length));
    const min = new Float32Array(n);
    const max = new Float32Array(n);
    const step = data.length / n;
    for (let b = 0; b < n; b++) {
      const start = Math.floor(b * step);
      const end = Math.max(start + 1, Math.floor((b + 1) * step));
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end && i < data.length; i++) {
        const v = data[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      min[b] = lo;
      max[b] = hi;
    }
    peaks.push({ min, max });
  }
  return { peaks, duration: buffer.duration };
}

/** Draws `peaks` on `canvas` with `progress` (0..1) of it played. */
export function drawWaveform(canvas, peaks, progress = 0) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const g = canvas.getContext('2d');
  const css = getComputedStyle(canvas);
  const played = css.getPropertyValue('--wave-played').trim() || '#0b5cad';
  const rest = css.getPropertyValue('--wave').trim() || '#9aa4b1';
  g.clearRect(0, 0, w, h);
  const lanes = Math.max(1, peaks.length);
  const laneH = h / lanes;
  const playedX = Math.round(Math.min(1, Math.max(0, progress)) * w);
  for (let c = 0; c < peaks.length; c++) {
    const { min, max } = peaks[c];
    const mid = laneH * c + laneH / 2;
    const half = laneH / 2 - 2 * dpr;
    for (let x = 0; x < w; x++) {
      const b0 = Math.floor((x / w) * min.length);
      const b1 = Math.max(b0 + 1, Math.floor(((x + 1) / w) * min.length));
      let lo = 0;
      let hi = 0;
      for (let b = b0; b < b1 && b < min.length; b++) {
        if (min[b] < lo) lo = min[b];
        if (max[b] > hi) hi = max[b];
      }
      const top = mid - hi * half;
      const bottom = mid - lo * half;
      g.fillStyle = x < playedX ? played : rest;
      g.fillRect(x, Math.floor(top), 1, Math.max(1, Math.ceil(bottom - top)));
    }
  }
  if (progress > 0 && progress < 1) {
    g.fillStyle = played;
    g.fillRect(Math.max(0, playedX - dpr), 0, Math.max(1, Math.round(dpr * 2)), h);
  }
}

/**
 * Ties a canvas to an audio element: redraws while playing and on resize, seeks on click.
 * Returns a function that detaches it.
 */
export function attachWaveform(canvas, audio, peaks, duration) {
  let frame = 0;
  const total = () => (Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : duration);
  const draw = () => drawWaveform(canvas, peaks, total() > 0 ? audio.currentTime / total() : 0);
  const loop = () => {
    draw();
    frame = audio.paused || audio.ended ? 0 : requestAnimationFrame(loop);
  };
  const onPlay = () => {
    if (frame === 0) frame = requestAnimationFrame(loop);
  };
  const onClick = (e) => {
    const rect = canvas.getBoundingClientRect();
    const t = ((e.clientX - rect.left) / rect.width) * total();
    if (Number.isFinite(t)) audio.currentTime = Math.max(0, t);
    draw();
  };
  const resize = new ResizeObserver(draw);
  audio.addEventListener('play', onPlay);
  audio.addEventListener('timeupdate', draw);
  audio.addEventListener('seeked', draw);
  canvas.addEventListener('click', onClick);
  resize.observe(canvas);
  draw();
  if (!audio.paused) onPlay();
  return () => {
    cancelAnimationFrame(frame);
    resize.disconnect();
    audio.removeEventListener('play', onPlay);
    audio.removeEventListener('timeupdate', draw);
    audio.removeEventListener('seeked', draw);
    canvas.removeEventListener('click', onClick);
  };
}
