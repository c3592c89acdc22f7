import { describe, expect, it } from 'vitest';
import { RdpAccountant } from './accountant.js';
import { privacySpent } from './rdp.js';
import { computeRdpWithoutReplacement, fixedSizePrivacySpent } from './rdpWithoutReplacement.js';

describe('RDP of fixed-size sampling without replacement (Wang, Balle & Kasiviswanathan 2019)', () => {
  it("gives TF-Privacy's compute_rdp_sample_without_replacement values, exact orders, interpolated ones and the large-order bound", () => {
    // github.com/tensorflow/privacy @ ee35642b90e65a38f9d393aa8146380f1c35780d,
    // tensorflow_privacy/privacy/analysis/rdp_accountant_test.py lines 95-103, rtol 1e-4.
    const orders = [1.001, 1.5, 2.5, 5, 50, 100, 256, 512, 1024, Infinity];
    const want = [3.4701e-3, 3.4701e-3, 4.6386e-3, 8.7634e-3, 9.8474e-2, 1.6776e2, 7.9297e2, 1.8174e3, 3.8656e3];
    const got = computeRdpWithoutReplacement(0.01, 2.5, 50, orders);
    want.forEach((w, k) => expect(Math.abs(got[k]! / w - 1)).toBeLessThan(1e-4));
    expect(got[9]).toBe(Infinity);
  });

  it('is a larger epsilon than the Poisson number for the same z and q (replace-one neighbours: sensitivity 2C)', () => {
    // 100 rounds of 100 of 1,000 devices at z 1.5: Poisson says 3.92; the provable fixed-size bound is larger.
    const poisson = privacySpent(1.5, 0.1, 100, 1e-5).epsilon;
    const fixed = fixedSizePrivacySpent(1.5, 0.1, 100, 1e-5).epsilon;
    expect(poisson).toBeCloseTo(3.92, 2);
    expect(fixed).toBeGreaterThan(poisson);
    // ... and grows with rounds, shrinks with noise, spends nothing without rounds.
    expect(fixedSizePrivacySpent(1.5, 0.1, 200, 1e-5).epsilon).toBeGreaterThan(fixed);
    expect(fixedSizePrivacySpent(3, 0.1, 100, 1e-5).epsilon).toBeLessThan(fixed);
    expect(fixedSizePrivacySpent(1.5, 0.1, 0, 1e-5).epsilon).toBe(0);
  });

  it('backs the accountant when it is told selection is fixed-size', () => {
    const accountant = new RdpAccountant(1e-5, { sampling: 'fixed-size' });
    accountant.addRounds(1.5, 0.1, 100);
    expect(accountant.epsilon()).toBeCloseTo(fixedSizePrivacySpent(1.5, 0.1, 100, 1e-5).epsilon, 12);
    const copy = RdpAccountant.fromState(JSON.parse(JSON.stringify(accountant.state())));
    expect(copy.sampling).toBe('fixed-size');
    expect(copy.epsilon()).toBe(accountant.epsilon());
  });
});
