/**
 * The dashboard page: connects to the broker itself over MQTT-over-WebSocket (mqtt.js), feeds
 * the same FleetState the terminal view uses, and redraws once a second.
 */
import { fleetTopics } from '../../../protocol/index.js';
import { watchFleet } from '../../source.js';
import { webCryptoTrust, type MonitorTrust } from '../../signatures.js';
import { TopicLog } from '../../topicLog.js';
import { RoundCharts } from './charts.js';
import { TopicExplorer } from './explorer.js';
import { renderSummary } from './views.js';

interface PageConfig {
  wsUrl: string;
  fleet: string;
  /** The aggregator's raw Ed25519 public key, base64 (`fedmq monitor --web --trust FILE`). */
  trustKey?: string;
}

/** A WebCrypto check of the fleet's signatures, or why there is none (the view then says `unverified`). */
async function pageTrust(config: PageConfig): Promise<{ trust: MonitorTrust | null; trustNote?: string }> {
  if (config.trustKey === undefined) return { trust: null, trustNote: 'no key given to the dashboard (fedmq monitor --web --trust FILE)' };
  const trust = await webCryptoTrust(Uint8Array.from(atob(config.trustKey), (c) => c.charCodeAt(0)));
  return trust ? { trust } : { trust: null, trustNote: 'this browser has no Ed25519 in WebCrypto' };
}

/** The login typed into the page, kept for the tab's life only (sessionStorage), never in the address. */
const LOGIN_KEY = 'fedmq-login';

function savedLogin(): { username: string; password: string } | undefined {
  try {
    return (JSON.parse(sessionStorage.getItem(LOGIN_KEY) ?? 'null') as { username: string; password: string } | null) ?? undefined;
  } catch {
    return undefined;
  }
}

/** A broker run with --auth refuses the page (CONNACK 4 or 5) until it logs in: show the form, reconnect with its answer. */
function askForLogin(form: HTMLFormElement): void {
  form.hidden = false;
  form.onsubmit = (event) => {
    event.preventDefault();
    const data = new FormData(form);
    sessionStorage.setItem(LOGIN_KEY, JSON.stringify({ username: String(data.get('username')), password: String(data.get('password')) }));
    location.reload();
  };
}

async function main(): Promise<void> {
  const config = (await (await fetch('config.json')).json()) as PageConfig;
  // ?ws=...&fleet=... point the page elsewhere without restarting the server.
  const params = new URLSearchParams(location.search);
  const url = params.get('ws') ?? config.wsUrl;
  const fleet = params.get('fleet') ?? config.fleet;
  const log = new TopicLog(`${fleetTopics(fleet).prefix}/`);
  const watch = watchFleet({ url, fleet, ...savedLogin(), ...(await pageTrust(config)), onMessage: (m) => log.record(m.topic, m.payload, m.retained, m.at) });
  const form = document.getElementById('login') as HTMLFormElement;
  const charts = new RoundCharts(document);
  const explorer = new TopicExplorer(document, log);
  const tick = (): void => {
    const now = Date.now();
    const snapshot = watch.state.snapshot(now);
    if (form.hidden && snapshot.connection.state !== 'connected' && /bad username or password|not authorized/i.test(snapshot.connection.error ?? '')) askForLogin(form);
    renderSummary(document, snapshot);
    charts.update(snapshot.history);
    explorer.render(now, snapshot.task?.paramCount);
  };
  tick();
  setInterval(tick, 1000);
  window.addEventListener('pagehide', () => void watch.close());
}

main().catch((error: unknown) => {
  const el = document.getElementById('connection');
  if (el) {
    el.className = 'badge closed';
    el.textContent = `failed: ${error instanceof Error ? error.message : String(error)}`;
  }
});
