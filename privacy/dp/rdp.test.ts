import { describe, expect, it } from 'vitest';
import { logErfc } from './logMath.js';
import { DEFAULT_ORDERS, computeRdp, epsilon, noiseMultiplierFor, privacySpent, rdpToEpsilon } from './rdp.js';

/**
 * Published values. Sources (read at these commits):
 * - Opacus, github.com/pytorch/opacus @ 4d0ebc84613d214fbfd37fbfd1390e3747a625ce
 * - TF-Privacy, github.com/tensorflow/privacy @ 03035d5d4a271ac795dab80f5bc1cef82fc3d462 (HEAD),
 *   and @ ee35642b90e65a38f9d393aa8146380f1c35780d for rdp_accountant_test.py (since removed
 *   in favour of dp_accounting, which computes the same RDP).
 */

/** Within 1% (the acceptance), and far closer where the source prints more digits. */
const within = (got: number, want: number, rel = 0.01): void => {
  expect(Math.abs(got - want) / want).toBeLessThan(rel);
};

/** TF-Privacy's compute_dp_sgd_privacy orders: compute_dp_sgd_privacy_lib.py lines 579-583. */
const TFP_ORDERS = [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, ...Array.from({ length: 59 }, (_, k) => 5 + k), 128, 256, 512];

describe('the RDP accountant reproduces published values', () => {
  it("gives Opacus's RDP test case: noise 1.5, q 0.04, 2,250 steps, delta 1e-5 -> epsilon 7.3291", () => {
    // opacus/tests/accountants_test.py lines 94-104 (test_rdp_accountant): assertAlmostEqual(epsilon, 7.32911117143).
    // Opacus's own orders (opacus/accountants/rdp.py line 22) and ours give the same optimum (alpha 3.9).
    const opacusOrders = [...Array.from({ length: 99 }, (_, k) => 1 + (k + 1) / 10), ...Array.from({ length: 52 }, (_, k) => 12 + k)];
    within(epsilon(1.5, 0.04, 2250, 1e-5, opacusOrders), 7.32911117143, 1e-9);
    within(epsilon(1.5, 0.04, 2250, 1e-5), 7.32911117143, 1e-9);
  });

  it("gives TF-Privacy's compute_dp_sgd_privacy cases (MNIST-sized and larger)", () => {
    // tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py lines 42-44:
    // (n, batch, noise, epochs, delta) -> (epsilon, order); q = batch / n, steps = ceil(epochs n / batch) (lib line 584).
    const cases: [number, number, number, number, number, number, number][] = [
      [60000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 19],
      [100000, 100, 1.0, 30, 1e-7, 1.4154988495444842, 13],
      [100000000, 1024, 0.1, 10, 1e-7, 5907982.3113984, 1.25],
    ];
    for (const [n, batch, z, epochs, delta, want, order] of cases) {
      const spent = privacySpent(z, batch / n, Math.ceil((epochs * n) / batch), delta, TFP_ORDERS);
      within(spent.epsilon, want, 1e-6);
      expect(spent.order).toBe(order);
    }
  });

  it("gives TF-Privacy's compute_rdp values at integer and fractional orders", () => {
    // rdp_accountant_test.py (@ee35642b) lines 91-93: compute_rdp(q=0.1, z=2, steps=10, order 5) = 0.07737 (places=5).
    expect(computeRdp(0.1, 2, 10, [5])[0]).toBeCloseTo(0.07737, 5);
    // Lines 105-111: compute_rdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, inf]), rtol 1e-4. 1.5 and 2.5 take the fractional series.
    const got = computeRdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, Infinity]);
    const want = [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2];
    want.forEach((w, k) => within(got[k]!, w, 1e-4));
    expect(got[5]).toBe(Infinity);
  });

  it("converts RDP to (epsilon, delta) as TF-Privacy's tests do", () => {
    // Lines 164-172: constant RDP 1.1 over orders 2..32 (pure DP) at delta 1e-5 -> epsilon 1.32783806176 at order 32.
    const orders = Array.from({ length: 31 }, (_, k) => k + 2);
    const pure = rdpToEpsilon(orders, orders.map(() => 1.1), 1e-5);
    within(pure.epsilon, 1.32783806176, 1e-9);
    expect(pure.order).toBe(32);
    // Lines 174-180: the unsampled Gaussian with z = 4.530877117 is exactly (1, 1e-6)-DP; a fine grid of orders finds epsilon 1.
    const fine = Array.from({ length: 99000 }, (_, k) => 0.001 * (k + 1000));
    within(rdpToEpsilon(fine, computeRdp(1, 4.530877117, 1, fine), 1e-6).epsilon, 1, 1e-6);
  });

  it("composes different mechanisms as Opacus's documented example: [(1e-5, 1.0, 10), (1e-4, 3.0, 4)] -> 0.336 at order 23", () => {
    // opacus/accountants/analysis/rdp.py lines 32-43 (module docstring), orders 2..32, delta 1e-5.
    const orders = Array.from({ length: 31 }, (_, k) => k + 2);
    const a = computeRdp(1e-5, 1.0, 10, orders);
    const b = computeRdp(1e-4, 3.0, 4, orders);
    const spent = rdpToEpsilon(orders, a.map((r, k) => r + b[k]!), 1e-5);
    expect(spent.epsilon).toBeCloseTo(0.336, 3);
    expect(spent.order).toBe(23);
  });

  it("finds the noise multiplier for a target epsilon as Opacus's get_noise_multiplier does", () => {
    // opacus/tests/accountants_test.py lines 148-161 (2,000 steps -> 1.3562) and 132-146 (90 epochs at q 0.04 -> 1.416), places=4.
    expect(noiseMultiplierFor(8, 0.04, 2000, 1e-5)).toBeCloseTo(1.3562, 4);
    expect(noiseMultiplierFor(8, 0.04, Math.floor(90 / 0.04), 1e-5)).toBeCloseTo(1.416, 4);
  });
});

describe('the RDP accountant behaves as privacy should', () => {
  const base = { z: 1.1, q: 0.01, steps: 1000, delta: 1e-5 };
  const eps = (o: Partial<typeof base>): number => {
    const p = { ...base, ...o };
    return epsilon(p.z, p.q, p.steps, p.delta);
  };

  it('spends more with more rounds, less noise, a higher sampling rate, and a smaller delta', () => {
    const steps = [1, 10, 100, 1000, 10000].map((s) => eps({ steps: s }));
    const noise = [0.6, 0.8, 1, 1.5, 3, 10].map((z) => eps({ z }));
    const rate = [0.001, 0.01, 0.05, 0.2, 1].map((q) => eps({ q }));
    const delta = [1e-3, 1e-5, 1e-7, 1e-9].map((d) => eps({ delta: d }));
    for (let k = 1; k < steps.length; k++) expect(steps[k]).toBeGreaterThan(steps[k - 1]!);
    for (let k = 1; k < noise.length; k++) expect(noise[k]).toBeLessThan(noise[k - 1]!);
    for (let k = 1; k < rate.length; k++) expect(rate[k]).toBeGreaterThan(rate[k - 1]!);
    for (let k = 1; k < delta.length; k++) expect(delta[k]).toBeGreaterThan(delta[k - 1]!);
  });

  it('spends nothing without rounds or without sampling anyone, and everything without noise', () => {
    expect(eps({ steps: 0 })).toBe(0);
    expect(eps({ q: 0 })).toBe(0);
    expect(eps({ z: 0 })).toBe(Infinity);
  });

  it('is never looser than no subsampling, and is much tighter at small q (amplification by sampling)', () => {
    const unsampled = eps({ q: 1 });
    expect(eps({ q: 0.01 })).toBeLessThan(unsampled / 10);
  });

  it('agrees at integer orders with a direct sum over the binomial expansion in float64 (small, exactly representable case)', () => {
    // A_alpha = sum_i C(alpha, i) (1-q)^(alpha-i) q^i exp((i^2 - i) / (2 z^2)) (Mironov et al. 2019, section 3.3).
    const q = 0.3;
    const z = 2;
    for (const alpha of [2, 3, 7, 12]) {
      let a = 0;
      let binom = 1;
      for (let i = 0; i <= alpha; i++) {
        if (i > 0) binom = (binom * (alpha - i + 1)) / i;
        a += binom * (1 - q) ** (alpha - i) * q ** i * Math.exp((i * i - i) / (2 * z * z));
      }
      within(computeRdp(q, z, 1, [alpha])[0]!, Math.log(a) / (alpha - 1), 1e-12);
    }
  });

  it('moves continuously between integer and fractional orders (the two formulas meet)', () => {
    const [below, at, above] = computeRdp(0.02, 1.2, 1, [4.999999, 5, 5.000001]);
    within(below!, at!, 1e-5);
    within(above!, at!, 1e-5);
  });

  it('uses Opacus\'s orders plus 128, 256 and 512', () => {
    expect(DEFAULT_ORDERS.length).toBe(99 + 52 + 3);
    expect(DEFAULT_ORDERS[0]).toBeCloseTo(1.1, 12);
    expect(DEFAULT_ORDERS.slice(-4)).toEqual([63, 128, 256, 512]);
  });

  it('rejects a sampling rate outside [0, 1] and a delta outside (0, 1)', () => {
    expect(() => epsilon(1, 1.5, 10, 1e-5)).toThrow(/sampling rate/);
    expect(() => epsilon(1, 0.1, 10, 0)).toThrow(/delta/);
    expect(() => epsilon(1, 0.1, 10, 1)).toThrow(/delta/);
  });
});

describe('log(erfc)', () => {
  it('matches 50-digit values from the tail (where erfc underflows) to the left half-line', () => {
    // Reference: mpmath.log(mpmath.erfc(x)) at 50 digits.
    const reference: [number, number][] = [
      [-5, 0.6931471805591766],
      [-1, 0.6112323176780705],
      [0.5, -0.7350111298370844],
      [1, -1.8496055099332482],
      [5, -27.200889545537436],
      [30, -903.9741171106439],
      [100, -10005.177585122665],
    ];
    for (const [x, want] of reference) expect(Math.abs(logErfc(x) - want)).toBeLessThan(1e-13 * Math.max(1, Math.abs(want)));
    expect(logErfc(0)).toBeCloseTo(0, 15);
  });
});
