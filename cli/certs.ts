import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import {
  DEFAULT_CA_DAYS, DEFAULT_LEAF_DAYS, DEFAULT_TLS_PORT, LOCAL_HOSTS, ROLES, addBroker, addClient, authorityFiles, initAuthority, type Role,
} from '../broker/index.js';
import { isValidId } from '../protocol/index.js';
import { UsageError, str, type Command } from './args.js';

/** A DNS name as a certificate holds one: labels of letters, digits and inner hyphens (a leading `*.` is not offered). */
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function hosts(spec: string | undefined): string[] {
  if (spec === undefined) return [];
  const list = spec.split(',').map((h) => h.trim()).filter((h) => h !== '');
  for (const host of list) {
    if (isIP(host) === 0 && !DNS_NAME.test(host)) throw new UsageError(`--host "${host}" is neither an IP address nor a DNS name`);
  }
  return list;
}

function days(spec: string | undefined): number | undefined {
  if (spec === undefined) return undefined;
  const n = Number(spec);
  if (!/^\d+$/.test(spec) || n < 1 || n > 36_500) throw new UsageError(`--days expects an integer in [1, 36500], got "${spec}"`);
  return n;
}

/** `a (0600)` for a key: what was written, and who may read it. */
function listed(files: string[]): string {
  return files.map((f) => (f.endsWith('.key') ? `${f} (0600)` : f)).join(', ');
}

export const certsCommand: Command = {
  name: 'certs',
  summary: 'make a small CA, the broker’s certificate and per-client certificates (device, aggregator, monitor) for TLS and mutual TLS',
  examples: [
    'npx fedmq certs --init --dir ./certs --host hub.local,192.168.1.10',
    'npx fedmq certs --dir ./certs --role device --name pi-01,pi-02,pi-03',
    'npx fedmq certs --dir ./certs --role aggregator --name hub',
    'npx fedmq certs --dir ./certs --role monitor --name laptop',
    'npx fedmq certs --dir ./certs --role broker --host hub.local,192.168.1.11 --force',
  ],
  flags: {
    dir: { type: 'string', placeholder: 'DIR', description: 'the fleet\'s certificate folder: ca.crt/.key, broker.crt/.key, ROLE/NAME.crt/.key (required)' },
    init: { type: 'boolean', description: 'make the CA and the broker\'s certificate in DIR (created mode 700)' },
    host: { type: 'string', placeholder: 'A,B', description: `with --init or --role broker: the names and addresses clients reach the broker by; ${LOCAL_HOSTS.join(', ')} are always added` },
    role: { type: 'string', placeholder: 'ROLE', description: `${ROLES.join(' | ')}: a client certificate for each --name; broker: the broker's again` },
    name: { type: 'string', placeholder: 'NAME[,NAME]', description: "the client's name (its CN); a device's is its --id" },
    days: { type: 'string', placeholder: 'N', description: 'validity', default: `${DEFAULT_CA_DAYS} for the CA, ${DEFAULT_LEAF_DAYS} for the others` },
    force: { type: 'boolean', description: 'replace certificates and keys that exist' },
  },

  async run(flags) {
    const dir = str(flags, 'dir');
    if (dir === undefined) throw new UsageError('--dir DIR is required: the folder that holds (or will hold) the CA');
    const role = str(flags, 'role');
    const nameSpec = str(flags, 'name');
    const options = { days: days(str(flags, 'days')), force: flags.force === true };
    const hostList = hosts(str(flags, 'host'));
    const files = authorityFiles(dir);
    if (flags.init === true) {
      if (role !== undefined || nameSpec !== undefined) throw new UsageError('--init makes the CA and the broker\'s certificate; add clients afterwards with --role and --name');
      const written = await initAuthority(dir, hostList, options);
      console.log(`wrote ${listed(written)}`);
      console.log(`the broker answers to ${[...hostList, ...LOCAL_HOSTS].join(', ')}`);
      console.log(`broker: fedmq broker --tls-cert ${files.brokerCert} --tls-key ${files.brokerKey} --tls-ca ${files.caCert} --require-client-cert`);
      console.log(`clients: fedmq certs --dir ${dir} --role device --name pi-01 (keep ${files.caKey} on this machine only)`);
      return 0;
    }
    if (role === undefined) throw new UsageError('give --init (a new CA) or --role ROLE (a certificate from the CA in --dir)');
    if (!existsSync(files.caCert)) throw new UsageError(`no CA in ${dir} (${files.caCert} is missing): make one with fedmq certs --init --dir ${dir}`);
    if (role === 'broker') {
      if (nameSpec !== undefined) throw new UsageError('--role broker takes --host, not --name');
      console.log(`wrote ${listed(await addBroker(dir, hostList, options))}`);
      return 0;
    }
    if (!ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${[...ROLES, 'broker'].join(', ')}, got "${role}"`);
    if (hostList.length > 0) throw new UsageError('--host goes with --init or --role broker');
    if (nameSpec === undefined) throw new UsageError(`--role ${role} needs --name NAME (a device's is its --id)`);
    const names = nameSpec.split(',').map((n) => n.trim());
    const bad = names.find((n) => !isValidId(n));
    if (bad !== undefined) throw new UsageError(`--name "${bad}": 1-64 letters, digits, '_', '.', ':' or '-'`);
    for (const name of names) {
      const written = await addClient(dir, { role: role as Role, name }, options);
      console.log(`${role} ${name}: wrote ${listed(written)}`);
    }
    const [cert, key] = [path.join(dir, role, `${names[0]}.crt`), path.join(dir, role, `${names[0]}.key`)];
    const how = role === 'device' ? `fedmq agent --broker mqtts://HOST:${DEFAULT_TLS_PORT} --id ${names[0]}` : `fedmq ${role} --broker mqtts://HOST:${DEFAULT_TLS_PORT}`;
    console.log(`use: ${how} --ca ${files.caCert} --cert ${cert} --key ${key}`);
    return 0;
  },
};
