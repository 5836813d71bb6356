function deeplyNested(depth: number): unknown { return JSON.parse('['.repeat(depth) + ']'.repeat(depth)); }
for (const d of [2000, 5000, 20000]) {
  let t0 = performance.now(); let v: unknown; for (let i = 0; i < 100; i++) v = deeplyNested(d); const p = (performance.now() - t0) / 100;
  t0 = performance.now(); for (let i = 0; i < 100; i++) { try { JSON.stringify(v); } catch { /* */ } } const s = (performance.now() - t0) / 100;
  console.log(d, 'parse ms', p.toFixed(3), 'stringify ms', s.toFixed(3));
}
