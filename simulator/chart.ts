import { writeFile } from 'node:fs/promises';
import type { RunReport } from './report.js';

const W = 760;
const H = 360;
const PAD = { left: 64, right: 64, top: 24, bottom: 48 };

/** `run.json` -> `run.html`; any other name gets `.html` appended. */
export function chartPath(reportFile: string): string {
  return reportFile.endsWith('.json') ? `${reportFile.slice(0, -'.json'.length)}.html` : `${reportFile}.html`;
}

/**
 * Writes a self-contained HTML page (inline SVG, no script, no network) charting accuracy
 * and loss per round beside the run report; returns the page's path.
 */
export async function writeRunChart(report: RunReport, reportFile: string): Promise<string> {
  const file = chartPath(reportFile);
  await writeFile(file, runChartHtml(report));
  return file;
}

/** The page {@link writeRunChart} writes. */
export function runChartHtml(report: RunReport): string {
  const c = report.config;
  const title = `fedmq run: ${c.devices} devices, ${c.model}, ${c.partition}, codec ${c.codec}, seed ${c.seed}`;
  const rows = report.rounds
    .map((r) => `<tr><td>${r.round}</td><td>${r.accuracy.toFixed(4)}</td><td>${r.loss.toFixed(4)}</td><td>${r.accepted}/${r.participants}</td><td>${r.rejected}</td><td>${(r.wallMs / 1000).toFixed(1)} s</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #1f2328; }
h1 { font-size: 18px; margin: 0 0 4px; } p { color: #59636e; margin: 0 0 12px; }
table { border-collapse: collapse; margin-top: 16px; font-variant-numeric: tabular-nums; }
td, th { padding: 3px 12px; border-bottom: 1px solid #d1d9e0; text-align: right; }
svg text { font: 12px system-ui, sans-serif; fill: #59636e; }
</style></head>
<body>
<h1>${escape(title)}</h1>
<p>final accuracy ${report.final.accuracy.toFixed(4)} after ${report.final.rounds} rounds, ${(report.final.wallMs / 1000).toFixed(1)} s, backend ${escape(report.environment.backend)}</p>
${accuracySvg(report)}
<table><thead><tr><th>round</th><th>accuracy</th><th>loss</th><th>accepted</th><th>rejected</th><th>wall</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}

/** Accuracy (solid, left axis) and loss (dashed, right axis) per round. */
function accuracySvg(report: RunReport): string {
  const rounds = report.rounds;
  if (rounds.length === 0) return '<p>No round closed.</p>';
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (rounds.length === 1 ? innerW / 2 : (i / (rounds.length - 1)) * innerW);
  const acc = range(rounds.map((r) => r.accuracy));
  const loss = range(rounds.map((r) => r.loss));
  const y = (v: number, [lo, hi]: [number, number]): number => PAD.top + innerH - ((v - lo) / (hi - lo)) * innerH;
  const line = (values: number[], r: [number, number]): string => values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v, r).toFixed(1)}`).join(' ');
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const grid = ticks
    .map((t) => {
      const py = PAD.top + innerH - t * innerH;
      const a = acc[0] + t * (acc[1] - acc[0]);
      const l = loss[0] + t * (loss[1] - loss[0]);
      return `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py}" y2="${py}" stroke="#e6e9ed"/>` +
        `<text x="${PAD.left - 8}" y="${py + 4}" text-anchor="end">${a.toFixed(3)}</text>` +
        `<text x="${W - PAD.right + 8}" y="${py + 4}">${l.toFixed(3)}</text>`;
    })
    .join('');
  const every = Math.max(1, Math.ceil(rounds.length / 20));
  const xLabels = rounds
    .map((r, i) => (i % every === 0 || i === rounds.length - 1 ? `<text x="${x(i)}" y="${H - PAD.bottom + 18}" text-anchor="middle">${r.round}</text>` : ''))
    .join('');
  const points = rounds.map((r, i) => `<circle class="accuracy" cx="${x(i).toFixed(1)}" cy="${y(r.accuracy, acc).toFixed(1)}" r="3" fill="#0969da"><title>round ${r.round}: accuracy ${r.accuracy.toFixed(4)}</title></circle>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="accuracy and loss per round">
${grid}${xLabels}
<text x="${PAD.left + innerW / 2}" y="${H - 8}" text-anchor="middle">round</text>
<text x="14" y="${PAD.top + innerH / 2}" transform="rotate(-90 14 ${PAD.top + innerH / 2})" text-anchor="middle" style="fill:#0969da">accuracy</text>
<text x="${W - 14}" y="${PAD.top + innerH / 2}" transform="rotate(90 ${W - 14} ${PAD.top + innerH / 2})" text-anchor="middle" style="fill:#bc4c00">loss</text>
<path d="${line(rounds.map((r) => r.loss), loss)}" fill="none" stroke="#bc4c00" stroke-width="2" stroke-dasharray="6 4"/>
<path d="${line(rounds.map((r) => r.accuracy), acc)}" fill="none" stroke="#0969da" stroke-width="2.5"/>
${points}
</svg>`;
}

/** Min and max with a little headroom; a flat series gets a small band around its value. */
function range(values: number[]): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi - lo < 1e-9) {
    lo -= 0.01;
    hi += 0.01;
  }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
