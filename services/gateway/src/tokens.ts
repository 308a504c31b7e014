import { createHash, timingSafeEqual } from 'node:crypto';
import { roleNames, type Role } from '@patchflow/contracts';

/** Who is calling: the token's name (recorded as the actor) and its role. */
export interface Principal {
  name: string;
  role: Role;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;
const MIN_TOKEN_LENGTH = 12;

/**
 * Parses `GATEWAY_TOKENS` (`name:role:token,name:role:token`). Problems name the entry by its
 * position and, when readable, its name — never the token, since the message reaches logs.
 */
export function parseTokens(value: string): { tokens: Map<string, Principal>; problems: string[] } {
  const problems: string[] = [];
  const tokens = new Map<string, Principal>();
  const names = new Set<string>();
  value.split(',').forEach((raw, index) => {
    const entry = raw.trim();
    const where = `entry ${index + 1}`;
    if (entry === '') return void problems.push(`${where} is empty`);
    const first = entry.indexOf(':');
    const second = entry.indexOf(':', first + 1);
    if (first < 0 || second < 0) return void problems.push(`${where} is not name:role:token`);
    const name = entry.slice(0, first);
    const role = entry.slice(first + 1, second);
    const token = entry.slice(second + 1);
    const label = NAME.test(name) ? `${where} ("${name}")` : where;
    if (!NAME.test(name)) problems.push(`${where}: the name must be 1-100 letters, digits, ".", "_", "@" or "-"`);
    if (!(roleNames as readonly string[]).includes(role)) problems.push(`${label}: role must be one of ${roleNames.join(', ')}`);
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      problems.push(`${label}: the token must be at least ${MIN_TOKEN_LENGTH} characters without spaces`);
    }
    if (names.has(name)) problems.push(`${label}: the name is used twice`);
    names.add(name);
    const key = digest(token);
    if (tokens.has(key)) problems.push(`${label}: the token is used by another entry`);
    tokens.set(key, { name, role: role as Role });
  });
  return { tokens, problems };
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Looks tokens up by their SHA-256, comparing in constant time; holds no token in clear. */
export class TokenRegistry {
  constructor(private readonly byDigest: ReadonlyMap<string, Principal>) {}

  get size(): number {
    return this.byDigest.size;
  }

  authenticate(token: string): Principal | undefined {
    const wanted = Buffer.from(digest(token), 'hex');
    for (const [key, principal] of this.byDigest) {
      if (timingSafeEqual(Buffer.from(key, 'hex'), wanted)) return principal;
    }
    return undefined;
  }
}
