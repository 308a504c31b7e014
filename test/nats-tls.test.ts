/**
 * NATS over TLS with client certificates and a user, against a real nats-server: the bus
 * connects with NATS_TLS_CA / NATS_TLS_CERT / NATS_TLS_KEY, a client without a certificate is
 * refused, and a service started from its environment alone works over it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, BusUnreachableError } from '@patchflow/bus';
import { createLogger } from '@patchflow/log';
import {
  createTestDatabase,
  freePort,
  PrivateNatsServer,
  ServiceProcess,
  uniqueNamespace,
  type TestDatabase,
} from '@patchflow/testing';

const dir = mkdtempSync(join(tmpdir(), 'pf-tls-'));
const file = (name: string) => join(dir, name);
const PASSWORD = 'tls-user-password-0123456789';
let server: PrivateNatsServer;
let url: string;
let db: TestDatabase | undefined;
const logger = createLogger('tls', 'silent');

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, signed by it. */
function makeCertificates(): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=patchflow-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'server.ext',
    '-out',
    'server.pem',
  );
  writeFileSync(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=patch-status', '-keyout', 'client.key', '-out', 'client.csr');
  openssl(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'client.ext',
    '-out',
    'client.pem',
  );
}

beforeAll(async () => {
  makeCertificates();
  const port = await freePort();
  writeFileSync(
    file('nats.conf'),
    `listen: "127.0.0.1:${port}"
jetstream { store_dir: ${JSON.stringify(file('js'))} }
tls {
  cert_file: ${JSON.stringify(file('server.pem'))}
  key_file: ${JSON.stringify(file('server.key'))}
  ca_file: ${JSON.stringify(file('ca.pem'))}
  verify: true
}
authorization { users: [ { user: "svc", password: ${JSON.stringify(PASSWORD)} } ] }
`,
  );
  server = await PrivateNatsServer.start({ port, configFile: file('nats.conf') });
  url = `tls://127.0.0.1:${port}`;
}, 60_000);

afterAll(async () => {
  await server?.dispose();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const tls = () => ({ caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') });

describe('NATS over TLS', () => {
  it('connects with the CA, a client certificate and a user, and uses JetStream', async () => {
    const bus = await Bus.connect({
      url,
      name: 'tls-ok',
      namespace: uniqueNamespace('tls'),
      logger,
      auth: { user: 'svc', pass: PASSWORD, tls: tls() },
    });
    try {
      await bus.ensureStreams(['work']);
      expect(bus.isConnected).toBe(true);
    } finally {
      await bus.close();
    }
  });

  it('refuses a client without a certificate, and the error never carries the password', async () => {
    const error = await Bus.connect({
      url,
      name: 'tls-nocert',
      logger,
      auth: { user: 'svc', pass: PASSWORD, tls: { caFile: file('ca.pem') } },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BusUnreachableError);
    expect((error as Error).message).not.toContain(PASSWORD);
    const wrongCa = await Bus.connect({ url, name: 'tls-wrongca', logger, auth: { user: 'svc', pass: PASSWORD } }).catch(
      (e: unknown) => e,
    );
    expect(wrongCa).toBeInstanceOf(BusUnreachableError);
  });

  it('a service started from its environment alone runs over TLS', async () => {
    db = await createTestDatabase('tls_patch');
    const service = ServiceProcess.start('services/patch-status/src/main.ts', {
      DATABASE_URL: db.url,
      NATS_URL: url,
      NATS_USER: 'svc',
      NATS_PASSWORD: PASSWORD,
      NATS_TLS_CA: file('ca.pem'),
      NATS_TLS_CERT: file('client.pem'),
      NATS_TLS_KEY: file('client.key'),
      BUS_NAMESPACE: uniqueNamespace('tlsps'),
    });
    try {
      await service.waitForLog(/patch-status ready/, 40_000);
      expect(service.logs).not.toContain(PASSWORD);
    } finally {
      expect(await service.stop('SIGTERM')).toBe(0);
    }
  });

  it('a service given half the TLS settings stops at start with one line naming them', async () => {
    const service = ServiceProcess.start('services/patch-status/src/main.ts', {
      NATS_URL: url,
      NATS_TLS_CERT: file('client.pem'),
      NATS_USER: 'svc',
      NATS_PASSWORD: PASSWORD,
    });
    expect(await service.exited).toBe(2);
    expect(service.logs).toContain('NATS_TLS_CERT is set but NATS_TLS_KEY is missing');
    expect(service.logs).not.toContain(PASSWORD);
  });
});
