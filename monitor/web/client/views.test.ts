import { describe, expect, it } from 'vitest';
import { build, builtinTask, encodeMessage, fleetTopics, taskLayout } from '../../../protocol/index.js';
import { FleetState } from '../../state.js';
import { renderSummary } from './views.js';

/**
 * The dashboard's summary drawn on a stand-in for the page's DOM: only what views.ts touches
 * (elements by id, table bodies, text, dataset). The page itself is tested in chromium
 * (test/monitor-live.test.ts); this checks what the panels say.
 */
class FakeElement {
  textContent = '';
  className = '';
  hidden = false;
  readonly dataset: Record<string, string> = {};
  readonly style: Record<string, string> = {};
  children: FakeElement[] = [];
  private body: FakeElement | undefined;

  constructor(readonly tagName: string) {}

  get tBodies(): FakeElement[] {
    this.body ??= new FakeElement('tbody');
    return [this.body];
  }

  append(...nodes: FakeElement[]): void {
    this.children.push(...nodes);
  }

  replaceChildren(...nodes: FakeElement[]): void {
    this.children = nodes;
  }
}

function fakeDocument(): { doc: Document; el(id: string): FakeElement; rows(id: string): string[][] } {
  const byId = new Map<string, FakeElement>();
  const el = (id: string): FakeElement => {
    let e = byId.get(id);
    if (!e) byId.set(id, (e = new FakeElement('div')));
    return e;
  };
  const doc = { getElementById: el, createElement: (tag: string) => new FakeElement(tag) } as unknown as Document;
  const rows = (id: string): string[][] => el(id).tBodies[0]!.children.map((tr) => tr.children.map((td) => td.textContent));
  return { doc, el, rows };
}

const topics = fleetTopics('default');
const T0 = 1_700_000_000_000;
const mlp = builtinTask('mlp');

describe('the dashboard summary', () => {
  it('shows the evaluation phase in the round card, the fleet evaluation panel and each device\'s last evaluation', () => {
    // Prepare: round 2 trained, its global evaluated by pi-1; round 1's metrics carried a federated evaluation.
    const state = new FleetState({ fleet: 'default' });
    state.ingest(topics.task, encodeMessage(build.task({ model: 'mlp', task: mlp, paramCount: taskLayout(mlp).paramCount, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 20, lr: 0.05 } })), true, T0);
    state.ingest(topics.round, encodeMessage(build.round({ round: 2, globalVersion: 1, participants: ['pi-1', 'pi-2'], deadline: T0 + 60_000, codec: 'f32', seed: 1, epochs: 1, batchSize: 20, lr: 0.05 })), false, T0);
    state.ingest(topics.round, encodeMessage(build.round({ kind: 'evaluate', round: 2, globalVersion: 2, participants: ['pi-1', 'pi-2'], deadline: T0 + 30_000, issuedAt: T0, codec: 'f32', seed: 1, epochs: 1, batchSize: 20, lr: 0.05 })), false, T0);
    state.ingest(topics.update('pi-1'), encodeMessage(build.evaluation({ round: 2, deviceId: 'pi-1', globalVersion: 2, count: 30, loss: 0.4, metrics: { accuracy: 0.875 }, sums: {} })), false, T0 + 1_000);
    const federated = { globalVersion: 1, devices: 2, count: 60, loss: 0.5, metrics: { accuracy: 0.8 }, spread: { loss: { min: 0.4, median: 0.5, max: 0.6 }, accuracy: { min: 0.75, median: 0.8, max: 0.85 } } };
    state.ingest(topics.metrics, encodeMessage(build.metrics({
      round: 1, accuracy: NaN, loss: NaN, federated, participants: 2, accepted: 2, rejected: 0, rejectedByReason: {},
      bytesUp: 1, bytesDown: 1, trainMs: 1, aggregateMs: 1, wallMs: 1,
    })), false, T0 + 2_000);
    const { doc, el, rows } = fakeDocument();
    // Execute
    renderSummary(doc, state.snapshot(T0 + 10_000));
    // Assert
    expect(el('kpi-round').textContent).toBe('2');
    expect(el('kpi-round-detail').textContent).toContain('round 2: evaluating on 2 devices (1 / 2)');
    expect(el('kpi-deadline').textContent).toBe('20.0 s');
    expect(el('kpi-accuracy').textContent).toBe('–');
    expect(el('kpi-loss').textContent).toBe('loss – · round 1');
    expect(el('evaluation-panel').hidden).toBe(false);
    expect(el('evaluation-detail').textContent).toBe('round 1 · global v1 on 2 devices, 60 held-out examples');
    expect(rows('evaluation')).toEqual([
      ['loss', '0.5000', '0.4000', '0.5000', '0.6000', '–'],
      ['accuracy', '0.8000', '0.7500', '0.8000', '0.8500', '–'],
    ]);
    expect(el('devices-eval-metric').textContent).toBe('Eval accuracy');
    expect(rows('devices').map((r) => [r[0], ...r.slice(-2)])).toEqual([['pi-1', '0.4000', '0.8750']]);
  });

  it('hides the evaluation panel until a round reports one', () => {
    const state = new FleetState({ fleet: 'default' });
    const { doc, el } = fakeDocument();
    renderSummary(doc, state.snapshot(T0));
    expect(el('evaluation-panel').hidden).toBe(true);
    expect(el('kpi-round-detail').textContent).toBe('waiting for a round');
  });
});
