/**
 * The mixer's inner loops over 16-bit PCM. Plain typed-array loops that V8 compiles to
 * tight machine code: no closures, no allocation, monomorphic arguments (Int16Array and
 * Int32Array only). Every ring in one mixer has the same size and is read at the same
 * position, so one index `is` addresses the same instant in every leg.
 *
 * Saturation clamps to [-32768, 32767] (what a DSP's saturating add does) instead of
 * wrapping, which would turn loud overlaps into full-scale clicks.
 */

/** Clamp an int to the 16-bit range. */
export function sat16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/** out[o + i*stride] = src[is + i] for i < n. */
export function copyStrided(src: Int16Array, is: number, n: number, out: Int16Array, o: number, stride: number): void {
  for (let i = 0; i < n; i++) out[o + i * stride] = src[is + i]!;
}

/** out[o + i*stride] = 0 for i < n. */
export function zeroStrided(out: Int16Array, o: number, n: number, stride: number): void {
  if (stride === 1) {
    out.fill(0, o, o + n);
    return;
  }
  for (let i = 0; i < n; i++) out[o + i * stride] = 0;
}

/** out[o + i*stride] = sat(a[is + i] + b[is + i]): the two-leg mix in one pass. */
export function mix2(a: Int16Array, b: Int16Array, is: number, n: number, out: Int16Array, o: number, stride: number): void {
  for (let i = 0; i < n; i++) {
    const v = a[is + i]! + b[is + i]!;
    out[o + i * stride] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** acc[i] = src[is + i]. */
export function accStart(acc: Int32Array, src: Int16Array, is: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = src[is + i]!;
}

/** acc[i] += src[is + i]. */
export function accAdd1(acc: Int32Array, src: Int16Array, is: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = acc[i]! + src[is + i]!;
}

/** acc[i] += a[is+i] + b[is+i]: two legs per pass halves the accumulator traffic. */
export function accAdd2(acc: Int32Array, a: Int16Array, b: Int16Array, is: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = acc[i]! + a[is + i]! + b[is + i]!;
}

/** acc[i] += a[is+i] + b[is+i] + c[is+i] + d[is+i]: four legs per pass. */
export function accAdd4(
  acc: Int32Array,
  a: Int16Array,
  b: Int16Array,
  c: Int16Array,
  d: Int16Array,
  is: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const k = is + i;
    acc[i] = acc[i]! + a[k]! + b[k]! + c[k]! + d[k]!;
  }
}

/** out[o + i*stride] = sat(acc[i]). */
export function accStore(acc: Int32Array, n: number, out: Int16Array, o: number, stride: number): void {
  for (let i = 0; i < n; i++) {
    const v = acc[i]!;
    out[o + i * stride] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** out[o + i*stride] = sat(acc[i] - src[is + i]): one N-1 mix from the total. */
export function accStoreMinus(
  acc: Int32Array,
  src: Int16Array,
  is: number,
  n: number,
  out: Int16Array,
  o: number,
  stride: number,
): void {
  for (let i = 0; i < n; i++) {
    const v = acc[i]! - src[is + i]!;
    out[o + i * stride] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/**
 * acc[0..n) = sum of rings[list[0..count)] at [is, is+n). Legs are taken four, then two,
 * then one per pass. `count` must be >= 1.
 */
export function accSum(acc: Int32Array, rings: Int16Array[], count: number, is: number, n: number): void {
  accStart(acc, rings[0]!, is, n);
  let k = 1;
  for (; k + 4 <= count; k += 4) accAdd4(acc, rings[k]!, rings[k + 1]!, rings[k + 2]!, rings[k + 3]!, is, n);
  for (; k + 2 <= count; k += 2) accAdd2(acc, rings[k]!, rings[k + 1]!, is, n);
  if (k < count) accAdd1(acc, rings[k]!, is, n);
}
