import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonEnv, EnvError, parseEnv, tracingEnv } from './index.js';

const parse = (env: Record<string, string>) => parseEnv(z.object(tracingEnv), env);

describe('OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('unset (or empty) means no export; an http(s) URL is taken as is', () => {
    expect(parse({}).OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' }).OTEL_EXPORTER_OTLP_ENDPOINT).toBe(
      'http://otel-collector:4318',
    );
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com/' }).OTEL_EXPORTER_OTLP_ENDPOINT).toBe(
      'https://otel.example.com/',
    );
  });

  it.each(['grpc://otel:4317', 'otel-collector:4318', 'not a url'])('refuses %s, naming the variable', (value) => {
    expect(() => parse({ OTEL_EXPORTER_OTLP_ENDPOINT: value })).toThrow(EnvError);
    expect(() => parse({ OTEL_EXPORTER_OTLP_ENDPOINT: value })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: an http\(s\) URL/);
  });

  it('is one of the common variables', () => {
    expect(Object.keys(commonEnv)).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
  });
});
