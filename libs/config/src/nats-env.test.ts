import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonEnv, EnvError, natsConnection, parseEnv } from './index.js';

const schema = z.object(commonEnv);
const parse = (env: Record<string, string>) => parseEnv(schema, env);
const dir = mkdtempSync(join(tmpdir(), 'pf-natsenv-'));
const readable = join(dir, 'present.pem');
writeFileSync(readable, 'not really a certificate');

function problem(env: Record<string, string>): string {
  try {
    parse(env);
  } catch (err) {
    expect(err).toBeInstanceOf(EnvError);
    return (err as Error).message;
  }
  throw new Error('expected an EnvError');
}

describe('NATS connection variables, checked together at start', () => {
  it('a user needs its password and the reverse; the values are never in the message', () => {
    const m = problem({ NATS_USER: 'gateway' });
    expect(m).toContain('NATS_USER is set but NATS_PASSWORD is missing');
    const p = problem({ NATS_PASSWORD: 's3cret-value' });
    expect(p).toContain('NATS_PASSWORD is set but NATS_USER is missing');
    expect(p).not.toContain('s3cret-value');
  });

  it('only one way to authenticate', () => {
    expect(problem({ NATS_USER: 'a', NATS_PASSWORD: 'b', NATS_TOKEN: 'tok-123' })).toContain(
      'set only one of NATS_USER, NATS_TOKEN',
    );
    expect(problem({ NATS_TOKEN: 'tok-123', NATS_CREDS: readable })).toContain('set only one of NATS_TOKEN, NATS_CREDS');
  });

  it('a TLS certificate needs its key, and every file named must be readable', () => {
    expect(problem({ NATS_TLS_CERT: readable })).toContain('NATS_TLS_CERT is set but NATS_TLS_KEY is missing');
    const missing = join(dir, 'nope.creds');
    const m = problem({ NATS_CREDS: missing, NATS_TLS_CA: missing });
    expect(m).toContain('NATS_CREDS: cannot read the file it names');
    expect(m).toContain('NATS_TLS_CA: cannot read the file it names');
  });

  it('a malformed URL or inbox prefix is named', () => {
    expect(problem({ NATS_URL: 'http://x' })).toContain('NATS_URL');
    expect(problem({ NATS_INBOX_PREFIX: '_INBOX.>' })).toContain('NATS_INBOX_PREFIX');
  });

  it('a complete set becomes the bus settings; several servers are allowed', () => {
    const env = parse({
      NATS_URL: 'nats://a:4222,nats://b:4222',
      NATS_USER: 'workflow-jira',
      NATS_PASSWORD: 'pw',
      NATS_TLS_CA: readable,
      NATS_INBOX_PREFIX: '_INBOX_workflow-jira',
    });
    const settings = natsConnection(env);
    expect(settings.url).toBe('nats://a:4222,nats://b:4222');
    expect(settings.auth).toEqual({
      user: 'workflow-jira',
      pass: 'pw',
      tls: { caFile: readable },
      inboxPrefix: '_INBOX_workflow-jira',
    });
    const defaults = natsConnection(parse({}));
    expect(defaults.url).toBe('nats://127.0.0.1:4222');
    expect(defaults.auth).toEqual({ inboxPrefix: '_INBOX' });
  });
});
