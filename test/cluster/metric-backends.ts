// Real metric backends from Debian's packages, each on free loopback ports with its data in a temp
// directory, for the metric-provider integration test:
//   VictoriaMetrics (victoria-metrics): single node, Basic auth (-httpAuth.*), data imported in
//     Prometheus text format and flushed so the next query sees it.
//   InfluxDB 1.x (influxdb): auth enabled, an admin user and one database, points written with the
//     line protocol.
//   Graphite: carbon-cache (graphite-carbon) receiving the plaintext protocol, and graphite-web
//     (graphite-web) served by Django's development server, reading carbon's cache through carbonlink
//     so a point is visible before it is flushed to whisper.
// Each start waits until the server answers; stop() kills the process and removes the directory.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axios from 'axios';
import { freePort } from './ports.ts';
import { startProcess, waitFor, type Managed } from './proc.ts';

export interface Backend {
  url: string;
  stop(): Promise<void>;
  tail(): string;
}

const http = axios.create({ validateStatus: () => true, timeout: 5000 });

function backend(url: string, dir: string, procs: Managed[]): Backend {
  return {
    url,
    tail: () => procs.map((p) => `--- ${p.name}\n${p.tail(30)}`).join('\n'),
    async stop() {
      await Promise.all(procs.map((p) => p.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startVictoriaMetrics(auth: { username: string; password: string }): Promise<
  Backend & {
    importProm(text: string): Promise<void>;
  }
> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-vm-'));
  const port = await freePort();
  const proc = startProcess(
    'victoria-metrics',
    'victoria-metrics',
    [
      `-storageDataPath=${dir}/data`,
      `-httpListenAddr=127.0.0.1:${port}`,
      `-httpAuth.username=${auth.username}`,
      `-httpAuth.password=${auth.password}`,
      // Answer with the newest samples at once, not 30 s behind "now".
      '-search.latencyOffset=0s',
    ],
    { logDir: dir },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor('victoria-metrics /health', async () => (await http.get(`${url}/health`)).status === 200);
  const b = backend(url, dir, [proc]);
  return {
    ...b,
    async importProm(text) {
      const res = await http.post(`${url}/api/v1/import/prometheus`, text, { auth });
      if (res.status !== 204) throw new Error(`import: HTTP ${res.status} ${String(res.data)}`);
      await http.get(`${url}/internal/force_flush`, { auth });
    },
  };
}

export async function startInfluxDB(
  admin: { username: string; password: string },
  database: string,
): Promise<
  Backend & {
    write(lines: string): Promise<void>;
  }
> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-influx-'));
  const [port, rpc] = [await freePort(), await freePort()];
  const conf = [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpc}"`,
    `[meta]\n  dir = "${dir}/meta"`,
    `[data]\n  dir = "${dir}/data"\n  wal-dir = "${dir}/wal"`,
    `[http]\n  bind-address = "127.0.0.1:${port}"\n  auth-enabled = true\n  log-enabled = false`,
  ].join('\n');
  await writeFile(join(dir, 'influxdb.conf'), conf);
  const proc = startProcess('influxd', 'influxd', ['-config', join(dir, 'influxdb.conf')], { logDir: dir });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('influxd /ping', async () => (await http.get(`${url}/ping`)).status === 204);
  // With auth enabled and no user yet, InfluxDB accepts exactly this: creating the first admin.
  const q = (query: string, auth?: typeof admin) =>
    http.post(`${url}/query`, new URLSearchParams({ q: query }), auth ? { auth } : {});
  await q(`CREATE USER ${admin.username} WITH PASSWORD '${admin.password}' WITH ALL PRIVILEGES`);
  const created = await q(`CREATE DATABASE ${database}`, admin);
  if (created.status !== 200) throw new Error(`CREATE DATABASE: HTTP ${created.status}`);
  const b = backend(url, dir, [proc]);
  return {
    ...b,
    async write(lines) {
      const res = await http.post(`${url}/write?db=${database}&precision=s`, lines, { auth: admin });
      if (res.status !== 204) throw new Error(`write: HTTP ${res.status} ${JSON.stringify(res.data)}`);
    },
  };
}

export async function startGraphite(): Promise<Backend & { send(lines: string): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-graphite-'));
  const whisper = join(dir, 'storage', 'whisper');
  await mkdir(whisper, { recursive: true });
  const [line, pickle, cacheQuery, web] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  await writeFile(join(dir, 'carbon.conf'), carbonConf(dir, line, pickle, cacheQuery));
  await writeFile(join(dir, 'storage-schemas.conf'), '[default]\npattern = .*\nretentions = 10s:1d\n');
  await writeFile(join(dir, 'weir_graphite_settings.py'), webSettings(dir, whisper, cacheQuery));
  const carbon = startProcess(
    'carbon-cache',
    'carbon-cache',
    [`--config=${join(dir, 'carbon.conf')}`, '--nodaemon', 'start'],
    {
      logDir: dir,
    },
  );
  const django = startProcess(
    'graphite-web',
    'django-admin',
    ['runserver', '--noreload', `127.0.0.1:${web}`],
    {
      logDir: dir,
      cwd: dir,
      env: { ...process.env, PYTHONPATH: dir, DJANGO_SETTINGS_MODULE: 'weir_graphite_settings' },
    },
  );
  const url = `http://127.0.0.1:${web}`;
  const b = backend(url, dir, [carbon, django]);
  await waitFor('carbon line receiver', () => canConnect(line), 30_000);
  await waitFor(
    'graphite-web /render',
    async () => (await http.get(`${url}/render?target=x&format=json`)).status === 200,
    60_000,
  );
  return {
    ...b,
    send: (lines) => sendLines(line, lines),
  };
}

function carbonConf(dir: string, line: number, pickle: number, cacheQuery: number): string {
  return `[cache]
STORAGE_DIR = ${dir}/storage
LOCAL_DATA_DIR = ${dir}/storage/whisper
WHITELISTS_DIR = ${dir}/storage/lists
CONF_DIR = ${dir}
LOG_DIR = ${dir}/log
PID_DIR = ${dir}
ENABLE_LOGROTATION = False
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = ${line}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = ${pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = ${cacheQuery}
MAX_CACHE_SIZE = inf
MAX_CREATES_PER_MINUTE = inf
`;
}

// graphite.settings reads /etc/graphite/local_settings.py; these overrides come after it, so the
// system's configuration is used but never changed.
function webSettings(dir: string, whisper: string, cacheQuery: number): string {
  return `from graphite.settings import *  # noqa
STORAGE_DIR = '${dir}/storage'
WHISPER_DIR = '${whisper}'
STANDARD_DIRS = [WHISPER_DIR]
CARBONLINK_HOSTS = ['127.0.0.1:${cacheQuery}']
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': '${dir}/graphite.db'}}
TAGDB = ''
SECRET_KEY = 'weir-test'
LOG_DIR = '${dir}'
INDEX_FILE = '${dir}/index'
`;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

function sendLines(port: number, lines: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(lines.endsWith('\n') ? lines : `${lines}\n`));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}
