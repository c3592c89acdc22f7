import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSimulationOptions, simulationSpecs } from './options.js';
import { buildReport, type ReportRound } from './report.js';
import { chartPath, runChartHtml, writeRunChart } from './chart.js';

const round = (n: number, accuracy: number): ReportRound => ({
  round: n, accuracy, loss: 1 - accuracy, participants: 3, accepted: 3, rejected: 0, rejectedByReason: {}, bytesUp: 10, bytesDown: 20,
  trainMs: 1, aggregateMs: 1, evalMs: 1, wallMs: 1000, closedBy: 'complete', heapUsedMb: 1, rssMb: 1,
});

describe('the run chart beside a report', () => {
  it('is named after the report', () => {
    expect(chartPath('out/run.json')).toBe('out/run.html');
    expect(chartPath('run')).toBe('run.html');
  });

  it('is a self-contained page with one accuracy point per round, highest accuracy drawn highest', async () => {
    // Prepare
    const report = buildReport(simulationSpecs(parseSimulationOptions({ devices: 3 })), 'wasm', [round(1, 0.8), round(2, 0.9), round(3, 0.95)], 3000);
    const file = join(mkdtempSync(join(tmpdir(), 'fedmq-chart-')), 'run.json');
    // Execute
    const written = await writeRunChart(report, file);
    const html = readFileSync(written, 'utf8');
    // Assert
    expect(written).toBe(file.replace(/\.json$/, '.html'));
    expect(html).toBe(runChartHtml(report));
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    const ys = [...html.matchAll(/<circle class="accuracy" cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(ys).toHaveLength(3);
    expect(ys[0]!).toBeGreaterThan(ys[1]!);
    expect(ys[1]!).toBeGreaterThan(ys[2]!);
    expect(html).toContain('final accuracy 0.9500 after 3 rounds');
  });
});
