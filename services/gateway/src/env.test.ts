import { describe, expect, it } from 'vitest';
import { parseEnv } from '@patchflow/config';
import { gatewayEnv, httpLimitsOf } from './env.js';
import { defaultHttpLimits, serverTimeouts } from './http-limits.js';

const base = { GATEWAY_TOKENS: 'ada:admin:admin-token-0123456789' };

describe('gateway environment: HTTP limits', () => {
  it('defaults to limits that cut a slow body within 30 s and keep streams alive', () => {
    const limits = httpLimitsOf(parseEnv(gatewayEnv, base));
    expect(limits).toEqual(defaultHttpLimits);
    const timeouts = serverTimeouts(limits);
    // Node checks incomplete requests every connectionsCheckingInterval: timeout + interval is the worst case.
    expect(timeouts.http.requestTimeout + timeouts.http.connectionsCheckingInterval).toBeLessThanOrEqual(30_000);
    expect(timeouts.connectionTimeout).toBeGreaterThan(15_000 * 2);
  });

  it('reads each variable, and names the wrong one without printing values', () => {
    const limits = httpLimitsOf(
      parseEnv(gatewayEnv, {
        ...base,
        GATEWAY_HTTP_REQUEST_TIMEOUT_MS: '8000',
        GATEWAY_HTTP_HEADERS_TIMEOUT_MS: '4000',
        GATEWAY_RATE_LIMIT_MAX: '0',
        GATEWAY_SSE_MAX_PER_TOKEN: '3',
      }),
    );
    expect(limits).toMatchObject({ requestTimeoutMs: 8000, headersTimeoutMs: 4000, rateLimitMax: 0, liveStreamsPerToken: 3 });
    expect(() =>
      parseEnv(gatewayEnv, { ...base, GATEWAY_HTTP_REQUEST_TIMEOUT_MS: '5000', GATEWAY_HTTP_HEADERS_TIMEOUT_MS: '9000' }),
    ).toThrow(/GATEWAY_HTTP_HEADERS_TIMEOUT_MS: must not exceed GATEWAY_HTTP_REQUEST_TIMEOUT_MS/);
    expect(() => parseEnv(gatewayEnv, { ...base, GATEWAY_SSE_MAX_TOTAL: 'lots' })).toThrow(/GATEWAY_SSE_MAX_TOTAL/);
    expect(() => parseEnv(gatewayEnv, { ...base, GATEWAY_HTTP_IDLE_TIMEOUT_MS: '10' })).toThrow(/GATEWAY_HTTP_IDLE_TIMEOUT_MS/);
  });
});
