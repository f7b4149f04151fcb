/**
 * Smooth weighted round robin (the scheme nginx uses): with weights 9/1 every run of ten picks holds exactly
 * nine of the first target and one of the second, spread out rather than bunched.
 */
export class WeightedPicker<T> {
  private readonly current: number[];
  private readonly total: number;

  constructor(
    private readonly targets: readonly T[],
    private readonly weights: readonly number[],
  ) {
    if (targets.length === 0 || targets.length !== weights.length) {
      throw new Error('WeightedPicker needs one weight per target and at least one target');
    }
    if (weights.some((w) => !(w > 0))) throw new Error('weights must be positive');
    this.current = weights.map(() => 0);
    this.total = weights.reduce((a, b) => a + b, 0);
  }

  pick(): T {
    let best = 0;
    for (let i = 0; i < this.weights.length; i++) {
      this.current[i] = (this.current[i] ?? 0) + (this.weights[i] ?? 0);
      if ((this.current[i] ?? 0) > (this.current[best] ?? 0)) best = i;
    }
    this.current[best] = (this.current[best] ?? 0) - this.total;
    return this.targets[best] as T;
  }
}
