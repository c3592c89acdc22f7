import { describe, expect, it } from 'vitest';
import { coordinatorSpecs, parseCoordinatorOptions } from '../aggregator/index.js';
import { buildReport, type ReportRound } from './report.js';

const round = (n: number, accuracy: number, simMs?: number): ReportRound => ({
  round: n, accuracy, loss: 1, participants: 1, accepted: 1, rejected: 0, rejectedByReason: {}, bytesUp: 10, bytesDown: 20,
  trainMs: 5, aggregateMs: 1, evalMs: 1, wallMs: 100, closedBy: 'complete', heapUsedMb: 1, rssMb: 1, ...(simMs !== undefined && { simMs }),
});

describe('the run report', () => {
  it('gives the round that first reached the target and the wall and simulated time until then', () => {
    const config = coordinatorSpecs(parseCoordinatorOptions({ targetAccuracy: 0.9 }));
    const report = buildReport(config, 'wasm', [round(1, 0.5, 1000), round(2, 0.91, 2500), round(3, 0.95, 500)], 400);
    expect(report.final.target).toEqual({ accuracy: 0.9, reached: true, round: 2, wallMs: 200, simWallMs: 3500 });
    expect(report.final.simWallMs).toBe(4000);
    const missed = buildReport(config, 'wasm', [round(1, 0.5), round(2, 0.6)], 200);
    expect(missed.final.target).toEqual({ accuracy: 0.9, reached: false });
    expect(buildReport(coordinatorSpecs(parseCoordinatorOptions({})), 'wasm', [round(1, 0.5)], 100).final.target).toBeUndefined();
  });
});
