import { readFileSync } from 'node:fs';
import { credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';

/**
 * How a service proves who it is to NATS. At most one of user/password, token or a creds file;
 * TLS is independent of them. Each service gets its own user (see `npm run nats:config`), so the
 * server's permissions decide what it may publish and subscribe to.
 */
export interface NatsAuth {
  user?: string;
  pass?: string;
  token?: string;
  /** Path of a NATS `.creds` file (JWT + nkey seed), read at connect. */
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /**
   * Prefix of this connection's reply subjects (`_INBOX` by default). A per-service prefix lets
   * the server config give each service only its own replies to subscribe to.
   */
  inboxPrefix?: string;
}

/**
 * `nats://user:pass@host:4222` and `nats://token@host` as NATS_URL: the credentials are taken out
 * of the URL (the client does not use them there) and the servers are returned without them.
 * Several servers are separated by commas.
 */
export function splitNatsUrl(url: string): { servers: string[]; user?: string; pass?: string; token?: string } {
  const servers: string[] = [];
  let found: { user?: string; pass?: string; token?: string } = {};
  for (const raw of url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = /^([a-z]+:\/\/)([^@/]*)@(.*)$/i.exec(raw);
    if (!match) {
      servers.push(raw);
      continue;
    }
    const [, scheme, userinfo = '', rest] = match;
    servers.push(`${scheme}${rest}`);
    const colon = userinfo.indexOf(':');
    found =
      colon >= 0
        ? { user: decodeURIComponent(userinfo.slice(0, colon)), pass: decodeURIComponent(userinfo.slice(colon + 1)) }
        : { token: decodeURIComponent(userinfo) };
  }
  return { servers, ...found };
}

/** A NATS URL (or list) with any credentials in it replaced by `***`: safe to print. */
export function redactNatsUrl(url: string): string {
  return url.replace(/(^|,)(\s*[a-z]+:\/\/)[^@/,]*@/gi, '$1$2***@');
}

/** Removes every secret of `auth` (and of the URL) from a message, e.g. a client error. */
export function redactSecrets(message: string, url: string, auth: NatsAuth = {}): string {
  const fromUrl = splitNatsUrl(url);
  let out = message;
  for (const secret of [auth.pass, auth.token, fromUrl.pass, fromUrl.token]) {
    if (secret && secret.length >= 3) out = out.split(secret).join('***');
  }
  return redactNatsUrl(out);
}

/** The nats.js connection options for a URL and credentials (explicit ones win over the URL's). */
export function connectionOptions(url: string, auth: NatsAuth = {}): ConnectionOptions {
  const fromUrl = splitNatsUrl(url);
  const user = auth.user ?? fromUrl.user;
  const pass = auth.pass ?? fromUrl.pass;
  const token = auth.token ?? fromUrl.token;
  const options: ConnectionOptions = { servers: fromUrl.servers };
  if (auth.credsFile) {
    const path = auth.credsFile;
    options.authenticator = credsAuthenticator(() => readFileSync(path));
  } else if (user !== undefined) {
    options.user = user;
    if (pass !== undefined) options.pass = pass;
  } else if (token !== undefined) {
    options.token = token;
  }
  if (auth.tls && Object.values(auth.tls).some(Boolean)) options.tls = { ...auth.tls };
  else if (fromUrl.servers.some((s) => s.startsWith('tls://'))) options.tls = {};
  if (auth.inboxPrefix) options.inboxPrefix = auth.inboxPrefix;
  return options;
}
