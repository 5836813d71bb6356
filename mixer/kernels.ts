/**
 * The mixer's inner loops over 16-bit PCM.
 *
 * Every input ring of a mixer lives in one shared Int16Array (the bank), at `slot * ringSamples`.
 * Reading eight legs from one array in one pass lets V8 keep a single bounds check and base
 * pointer in registers; measured here it is 2-3x faster than the same loop over eight separate
 * arrays (bench/: 8 legs reach ~95% of scalar C instead of ~40%). Plain typed-array loops, no
 * closures, no allocation; arguments are always Int16Array/Int32Array (monomorphic).
 *
 * Offsets `a`, `b`, ... are absolute indices into the bank of the first sample to read.
 * Saturation clamps to [-32768, 32767] (what a DSP's saturating add does) instead of wrapping,
 * which would turn loud overlaps into full-scale clicks.
 */

/** Clamp an int to the 16-bit range. */
export function sat16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/** out[o + i*stride] = bank[a + i] for i < n. */
export function copyStrided(bank: Int16Array, a: number, n: number, out: Int16Array, o: number, stride: number): void {
  for (let i = 0; i < n; i++) out[o + i * stride] = bank[a + i]!;
}

/** out[o + i*stride] = 0 for i < n. */
export function zeroStrided(out: Int16Array, o: number, n: number, stride: number): void {
  if (stride === 1) {
    out.fill(0, o, o + n);
    return;
  }
  for (let i = 0; i < n; i++) out[o + i * stride] = 0;
}

/** out[o + i*stride] = sat(bank[a + i] + bank[b + i]): the two-leg mix in one pass. */
export function mix2(bank: Int16Array, a: number, b: number, n: number, out: Int16Array, o: number, stride: number): void {
  for (let i = 0; i < n; i++) {
    const v = bank[a + i]! + bank[b + i]!;
    out[o + i * stride] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** out[o + i*stride] = sat(four legs): one pass, no accumulator (3 legs pad with the silent slot). */
export function mix4(
  bank: Int16Array,
  a: number,
  b: number,
  c: number,
  d: number,
  n: number,
  out: Int16Array,
  o: number,
  stride: number,
): void {
  for (let i = 0; i < n; i++) {
    const v = bank[a + i]! + bank[b + i]! + bank[c + i]! + bank[d + i]!;
    out[o + i * stride] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** out[o + i*stride] = sat(eight legs): one pass, no accumulator (5-7 legs pad with the silent slot). */
export function mix8(
  bank: Int16Array,
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
  f: number,
  g: number,
  h: number,
  n: number,
  out: Int16Array,
  o: number,
  stride: number,
): void {
  for (let i = 0; i < n; i++) {
    const v = bank[a + i]! + bank[b + i]! + bank[c + i]! + bank[d + i]! + bank[e + i]! + bank[f + i]! + bank[g + i]! + bank[h + i]!;
    out[o + i * stride] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** acc[i] += bank[a + i]. */
export function accAdd1(acc: Int32Array, bank: Int16Array, a: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = acc[i]! + bank[a + i]!;
}

/** acc[i] += two legs. */
export function accAdd2(acc: Int32Array, bank: Int16Array, a: number, b: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = acc[i]! + bank[a + i]! + bank[b + i]!;
}

/** acc[i] += four legs. */
export function accAdd4(acc: Int32Array, bank: Int16Array, a: number, b: number, c: number, d: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = acc[i]! + bank[a + i]! + bank[b + i]! + bank[c + i]! + bank[d + i]!;
}

/** acc[i] += eight legs: one pass reads eight rings, so the accumulator is touched once per eight. */
export function accAdd8(
  acc: Int32Array,
  bank: Int16Array,
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
  f: number,
  g: number,
  h: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    acc[i] =
      acc[i]! +
      bank[a + i]! +
      bank[b + i]! +
      bank[c + i]! +
      bank[d + i]! +
      bank[e + i]! +
      bank[f + i]! +
      bank[g + i]! +
      bank[h + i]!;
  }
}

/** acc[i] = bank[a + i] (first pass, one leg). */
export function accSet1(acc: Int32Array, bank: Int16Array, a: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = bank[a + i]!;
}

/** acc[i] = two legs (first pass). */
export function accSet2(acc: Int32Array, bank: Int16Array, a: number, b: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = bank[a + i]! + bank[b + i]!;
}

/** acc[i] = four legs (first pass). */
export function accSet4(acc: Int32Array, bank: Int16Array, a: number, b: number, c: number, d: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] = bank[a + i]! + bank[b + i]! + bank[c + i]! + bank[d + i]!;
}

/** acc[i] = eight legs (first pass). */
export function accSet8(
  acc: Int32Array,
  bank: Int16Array,
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
  f: number,
  g: number,
  h: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    acc[i] =
      bank[a + i]! + bank[b + i]! + bank[c + i]! + bank[d + i]! + bank[e + i]! + bank[f + i]! + bank[g + i]! + bank[h + i]!;
  }
}

/**
 * acc[0..n) = sum over k < count of bank[bases[k] + is + i]. The first pass assigns (no
 * clearing pass, one accumulator read saved); legs are taken eight, four, two, then one per
 * pass. `count` must be >= 1.
 */
export function accSum(acc: Int32Array, bank: Int16Array, bases: Int32Array, count: number, is: number, n: number): void {
  let k: number;
  if (count >= 8) {
    accSet8(
      acc,
      bank,
      bases[0]! + is,
      bases[1]! + is,
      bases[2]! + is,
      bases[3]! + is,
      bases[4]! + is,
      bases[5]! + is,
      bases[6]! + is,
      bases[7]! + is,
      n,
    );
    k = 8;
  } else if (count >= 4) {
    accSet4(acc, bank, bases[0]! + is, bases[1]! + is, bases[2]! + is, bases[3]! + is, n);
    k = 4;
  } else if (count >= 2) {
    accSet2(acc, bank, bases[0]! + is, bases[1]! + is, n);
    k = 2;
  } else {
    accSet1(acc, bank, bases[0]! + is, n);
    k = 1;
  }
  for (; k + 8 <= count; k += 8) {
    accAdd8(
      acc,
      bank,
      bases[k]! + is,
      bases[k + 1]! + is,
      bases[k + 2]! + is,
      bases[k + 3]! + is,
      bases[k + 4]! + is,
      bases[k + 5]! + is,
      bases[k + 6]! + is,
      bases[k + 7]! + is,
      n,
    );
  }
  if (k + 4 <= count) {
    accAdd4(acc, bank, bases[k]! + is, bases[k + 1]! + is, bases[k + 2]! + is, bases[k + 3]! + is, n);
    k += 4;
  }
  if (k + 2 <= count) {
    accAdd2(acc, bank, bases[k]! + is, bases[k + 1]! + is, n);
    k += 2;
  }
  if (k < count) accAdd1(acc, bank, bases[k]! + is, n);
}

/** out[o + i*stride] = sat(acc[i]). */
export function accStore(acc: Int32Array, n: number, out: Int16Array, o: number, stride: number): void {
  for (let i = 0; i < n; i++) {
    const v = acc[i]!;
    out[o + i * stride] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** out[o + i*stride] = sat(acc[i] - bank[a + i]): one N-1 mix from the total. */
export function accStoreMinus(
  acc: Int32Array,
  bank: Int16Array,
  a: number,
  n: number,
  out: Int16Array,
  o: number,
  stride: number,
): void {
  for (let i = 0; i < n; i++) {
    const v = acc[i]! - bank[a + i]!;
    out[o + i * stride] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}
