import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartDataset,
} from 'chart.js';
import { formatBytes } from '../../format.js';
import type { RoundHistoryEntry } from '../../state.js';

// Only what the four charts use, so the bundle stays small.
Chart.register(BarController, BarElement, CategoryScale, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip);
Chart.defaults.color = '#8593a3';
Chart.defaults.borderColor = '#2a3440';

const COLORS = { accent: '#4cc2ff', green: '#3fb950', yellow: '#d29922', red: '#f85149', violet: '#a371f7' };

type Series = { label: string; color: string; value: (e: RoundHistoryEntry) => number };

/** One per-round chart; `data-points` on its canvas says how many rounds it shows (tests read it). */
class RoundChart {
  private readonly chart: Chart;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    kind: 'line' | 'bar',
    private readonly series: Series[],
    yTick?: (value: number) => string,
  ) {
    const datasets: ChartDataset<'line' | 'bar'>[] = series.map((s) => ({
      label: s.label, data: [], borderColor: s.color, backgroundColor: kind === 'bar' ? `${s.color}b0` : s.color,
      pointRadius: 2, borderWidth: kind === 'line' ? 2 : 0, tension: 0.2,
    }));
    const config: ChartConfiguration<'line' | 'bar'> = {
      type: kind,
      data: { labels: [], datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { display: series.length > 1, labels: { boxWidth: 10 } } },
        scales: {
          x: { title: { display: true, text: 'round' } },
          y: { beginAtZero: kind === 'bar', ticks: yTick ? { callback: (v) => yTick(Number(v)) } : {} },
        },
      },
    };
    this.chart = new Chart(canvas, config);
  }

  update(history: RoundHistoryEntry[]): void {
    this.chart.data.labels = history.map((e) => String(e.round));
    this.series.forEach((s, i) => {
      this.chart.data.datasets[i]!.data = history.map(s.value);
    });
    this.chart.update('none');
    this.canvas.dataset.points = String(history.length);
  }
}

/** Accuracy, loss, bytes and participants per round, redrawn when a round closes. */
export class RoundCharts {
  private readonly charts: RoundChart[];
  private shown = '';

  constructor(doc: Document) {
    const canvas = (id: string): HTMLCanvasElement => doc.getElementById(id) as HTMLCanvasElement;
    this.charts = [
      new RoundChart(canvas('accuracy-chart'), 'line', [{ label: 'accuracy', color: COLORS.accent, value: (e) => e.accuracy }], (v) => v.toFixed(3)),
      new RoundChart(canvas('loss-chart'), 'line', [{ label: 'loss', color: COLORS.yellow, value: (e) => e.loss }], (v) => v.toFixed(3)),
      new RoundChart(canvas('bytes-chart'), 'bar', [
        { label: 'up (updates)', color: COLORS.green, value: (e) => e.bytesUp },
        { label: 'down (global, round)', color: COLORS.violet, value: (e) => e.bytesDown },
      ], formatBytes),
      new RoundChart(canvas('participants-chart'), 'bar', [
        { label: 'selected', color: COLORS.accent, value: (e) => e.participants },
        { label: 'accepted', color: COLORS.green, value: (e) => e.accepted },
        { label: 'rejected', color: COLORS.red, value: (e) => e.rejected },
      ], (v) => (Number.isInteger(v) ? String(v) : '')),
    ];
  }

  update(history: RoundHistoryEntry[]): void {
    const key = history.map((e) => `${e.round}:${e.at}`).join(',');
    if (key === this.shown) return;
    this.shown = key;
    for (const chart of this.charts) chart.update(history);
  }
}
