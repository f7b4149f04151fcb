/** Clamps a recommendation to [minScale, maxScale], naming the bound that decided it. */
export function applyBounds(desired: number, reason: string, s: { minScale: number; maxScale: number }): { desired: number; reason: string } {
  if (desired < s.minScale) return { desired: s.minScale, reason: 'min-scale' };
  if (desired > s.maxScale) return { desired: s.maxScale, reason: 'max-scale' };
  return { desired, reason };
}
