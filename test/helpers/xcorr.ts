/**
 * Identity check for recordings: FFT-based normalised cross-correlation of a reference (what a
 * caller sent) against a signal (what we recorded), so a test proves the recording holds that
 * very audio and finds its delay. No dependency: a radix-2 FFT on Float64Arrays.
 *
 * For a lag L (in samples; positive = the signal is late) the raw correlation is
 *   c(L) = sum_n ref[n] * sig[n + L]
 * and the score is c(L) / sqrt(E_ref(L) * E_sig(L)), with E the energies of only the parts of
 * each input that overlap at that lag. A perfect copy, however delayed or padded, scores 1.
 */

export interface CrossCorrelation {
  /** Normalised correlation at the best lag, 0..1 (negative correlation counts as 0). */
  score: number;
  /** Best lag in ms; positive when the signal is late relative to the reference. */
  lagMs: number;
  /** Best lag in samples (same sign convention). */
  lagSamples: number;
}

export interface CrossCorrelateOptions {
  /**
   * Ignore lags whose overlap is shorter than this share of the shorter input (0..1), so a
   * few aligned samples at the edge cannot score 1 by themselves; default 0.5.
   */
  minOverlap?: number;
}

/**
 * In-place iterative radix-2 FFT (Cooley-Tukey, decimation in time) of the complex sequence
 * re + j*im. `inverse` computes the unscaled inverse (divide by n yourself).
 * Throws RangeError when the length is not a power of two or the arrays differ in length.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new RangeError(`fft: re has ${n} values, im ${im.length}`);
  if (n === 0 || (n & (n - 1)) !== 0) throw new RangeError(`fft: length ${n} is not a power of two`);
  // Bit-reversal permutation.
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i] as number;
      re[i] = re[j] as number;
      re[j] = tr;
      const ti = im[i] as number;
      im[i] = im[j] as number;
      im[j] = ti;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const angle = (sign * 2 * Math.PI) / size;
    // Twiddles for this stage computed once (exact cos/sin per index, no accumulated drift).
    const wr = new Float64Array(half);
    const wi = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      wr[k] = Math.cos(angle * k);
      wi[k] = Math.sin(angle * k);
    }
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const a = start + k;
        const b = a + half;
        const cr = wr[k] as number;
        const ci = wi[k] as number;
        const br = re[b] as number;
        const bi = im[b] as number;
        const tr = br * cr - bi * ci;
        const ti = br * ci + bi * cr;
        const ar = re[a] as number;
        const ai = im[a] as number;
        re[b] = ar - tr;
        im[b] = ai - ti;
        re[a] = ar + tr;
        im[a] = ai + ti;
      }
    }
  }
}

/** Prefix sums of squares: out[i] = sum of x[0..i-1]^2. */
function energyPrefix(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length + 1);
  let acc = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    acc += v * v;
    out[i + 1] = acc;
  }
  return out;
}

/**
 * Best normalised cross-correlation of `signal` against `reference` (same sample rate `rate`
 * in Hz) over lags -maxLagMs..+maxLagMs. Throws TypeError for empty inputs or a bad rate.
 */
export function crossCorrelate(
  reference: Int16Array | Float32Array,
  signal: Int16Array | Float32Array,
  rate: number,
  maxLagMs: number,
  options: CrossCorrelateOptions = {},
): CrossCorrelation {
  if (reference.length === 0 || signal.length === 0) throw new TypeError('crossCorrelate: empty input');
  if (!(rate > 0) || !Number.isFinite(rate)) throw new TypeError(`crossCorrelate: bad rate ${rate}`);
  if (!(maxLagMs >= 0)) throw new TypeError(`crossCorrelate: bad maxLagMs ${maxLagMs}`);
  const minOverlap = options.minOverlap ?? 0.5;
  const nr = reference.length;
  const ns = signal.length;
  const maxLag = Math.round((maxLagMs * rate) / 1000);
  // Linear (not circular) correlation needs n >= nr + ns - 1.
  let n = 1;
  while (n < nr + ns - 1) n <<= 1;

  const rRe = new Float64Array(n);
  const rIm = new Float64Array(n);
  const sRe = new Float64Array(n);
  const sIm = new Float64Array(n);
  for (let i = 0; i < nr; i++) rRe[i] = reference[i] as number;
  for (let i = 0; i < ns; i++) sRe[i] = signal[i] as number;
  fft(rRe, rIm);
  fft(sRe, sIm);
  // conj(R) * S  ->  c(L) = sum_n ref[n] sig[n+L], lag L at index L (negative L at n+L).
  for (let k = 0; k < n; k++) {
    const ar = rRe[k] as number;
    const ai = -(rIm[k] as number);
    const br = sRe[k] as number;
    const bi = sIm[k] as number;
    rRe[k] = ar * br - ai * bi;
    rIm[k] = ar * bi + ai * br;
  }
  fft(rRe, rIm, true);

  const er = energyPrefix(reference);
  const es = energyPrefix(signal);
  const shortest = Math.min(nr, ns);
  let best = 0;
  let bestLag = 0;
  let found = false;
  for (let lag = -Math.min(maxLag, nr - 1); lag <= Math.min(maxLag, ns - 1); lag++) {
    // Overlap: ref[n] with n in [lo, hi), sig[n + lag].
    const lo = Math.max(0, -lag);
    const hi = Math.min(nr, ns - lag);
    if (hi - lo < shortest * minOverlap || hi <= lo) continue;
    const eRef = (er[hi] as number) - (er[lo] as number);
    const eSig = (es[hi + lag] as number) - (es[lo + lag] as number);
    if (eRef <= 0 || eSig <= 0) continue;
    const c = (rRe[lag >= 0 ? lag : n + lag] as number) / n;
    const score = c / Math.sqrt(eRef * eSig);
    if (!found || score > best) {
      best = score;
      bestLag = lag;
      found = true;
    }
  }
  // Rounding can push a perfect match a hair over 1.
  const score = Math.min(1, Math.max(0, best));
  return { score, lagSamples: bestLag, lagMs: (bestLag * 1000) / rate };
}
