import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { SERVICE_NODE_FLAGS } from '@patchflow/config';
import { busPrincipals, workflowNames } from '@patchflow/contracts';
import { freePort, repoRoot, waitFor } from '@patchflow/testing';
import { parseHostEnv, workflowDefinitions } from '@patchflow/workflows';

// What can be checked without a Docker engine or a Kubernetes cluster: every manifest parses,
// every service has its container / Deployment with probes, restart policy, its own NATS
// credentials and every variable its env schema requires; the workflow host is an opt-in layout
// (a compose profile, a kustomize component) in which each workflow still gets its own NATS user;
// the NATS configs are valid for a real nats-server 2.9 and the cluster ones form a JetStream
// cluster; the image's entrypoint refuses an unknown service. (test/production-build.test.ts runs
// the services as the image does.)

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML, checked field by field */
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const services = readdirSync(join(repoRoot, 'services')).filter((s) => existsSync(join(repoRoot, 'services', s, 'src/main.ts')));
/** The workflow host (services/workflows): the workflow-* services in one process, an opt-in alternative to them. */
const workflowHost = 'workflows';
const workflowServices = services.filter((s) => s.startsWith('workflow-'));
const scaled = services.filter((s) => s === 'patch-status' || s.startsWith('workflow-') || s === workflowHost);

/** KEY=value lines of an env file (comments and blanks skipped), as a map. */
const envValues = (text: string): Record<string, string> =>
  Object.fromEntries(
    text.split('\n').flatMap((l) => (/^\s*[A-Z_][A-Z0-9_]*=/.test(l) ? [l.trim().split(/=(.*)/s).slice(0, 2)] : [])),
  );
const envKeys = (text: string) => Object.keys(envValues(text));

/**
 * Secrets as `npm run nats:config -- --out DIR` writes them (DIR/<principal>.env and the workflow
 * host's DIR/workflows.env), generated once for this file.
 */
const secretsDir = mkdtempSync(join(tmpdir(), 'pf-secrets-'));
afterAll(() => rmSync(secretsDir, { recursive: true, force: true }));
const generated = (file: string) => envValues(readFileSync(join(secretsDir, basename(file)), 'utf8'));

/** Keys of a secret file: its committed example in deploy/secrets.example/, or what the generators write. */
function secretKeys(file: string): string[] {
  const example = join(repoRoot, 'deploy/secrets.example', basename(file));
  if (existsSync(example)) return envKeys(readFileSync(example, 'utf8'));
  return existsSync(join(secretsDir, basename(file))) ? Object.keys(generated(file)) : [];
}

/** Interpolates `${NAME}` and `${NAME:-default}` in every string of a parsed compose file, as compose does after parsing. */
function interpolate(value: unknown, vars: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (_m, name: string, fallback?: string) => vars[name] || (fallback ?? ''),
    );
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, vars));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, vars)]));
  }
  return value;
}

/** docker-compose.yml as compose reads it with these variables (the shell's, or `--env-file`s). */
const composeWith = (vars: Record<string, string | undefined>) =>
  interpolate(parse(read('docker-compose.yml'), { merge: true }), vars) as { services: Record<string, any> };

/**
 * The workflow host, started with this environment, runs each workflow as that workflow's own
 * NATS user: every variable of the generated workflow-<name>.env reaches that workflow (and only
 * it) as it would reach the workflow's own process. Read by the host's own parser, so what the
 * manifests spell is checked against the one place that defines the prefix.
 */
function expectEachWorkflowItsOwnUser(env: Record<string, unknown>, where: string): void {
  const strings = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  // No one's credentials unprefixed: a workflow the prefixes missed would not borrow them.
  expect(strings.NATS_USER, `${where}: NATS_USER`).toBeUndefined();
  const { host, environments } = parseHostEnv(strings, workflowDefinitions);
  expect(host.WORKFLOWS).toEqual([...workflowNames]);
  for (const w of workflowNames) {
    const own = generated(`workflow-${w}.env`);
    expect(Object.keys(own)).toEqual(expect.arrayContaining(['NATS_USER', 'NATS_PASSWORD', 'NATS_INBOX_PREFIX']));
    for (const [key, value] of Object.entries(own))
      expect(environments.get(w)?.[key], `${where}: workflow-${w} ${key}`).toBe(value);
  }
}

/** The variables a service's env schema requires: no default, not optional (read from src/env.ts). */
const required = new Map<string, string[]>();
beforeAll(async () => {
  const gen = spawnSync(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'scripts/nats-config.ts', '--out', secretsDir, '--listen', '0.0.0.0:4222'],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  expect(gen.status, gen.stderr).toBe(0);

  for (const s of services) {
    const module = (await import(join(repoRoot, 'services', s, 'src/env.ts'))) as Record<string, unknown>;
    const schemas = Object.values(module).filter(
      (v): v is z.ZodObject => typeof v === 'object' && v !== null && 'shape' in v && 'safeParse' in v,
    );
    expect(schemas.length, `services/${s}/src/env.ts exports its env schema`).toBeGreaterThan(0);
    const keys = schemas.flatMap((schema) =>
      Object.entries(schema.shape as Record<string, z.ZodType>)
        .filter(([, field]) => !field.safeParse(undefined).success)
        .map(([key]) => key),
    );
    required.set(s, [...new Set(keys)]);
  }
  // The host needs what each workflow it runs needs.
  required.set(workflowHost, [...new Set([workflowHost, ...workflowServices].flatMap((s) => required.get(s)!))]);
  // The detection works: the gateway admits nobody without tokens.
  expect(required.get('gateway')).toContain('GATEWAY_TOKENS');
});

describe('docker-compose.yml', () => {
  // The default layout: nothing set but what the file itself defaults.
  const compose = composeWith({});

  it('runs every service in a container of its own, with a health check, a restart policy and its own NATS user', () => {
    for (const s of services) {
      const svc = compose.services[s];
      expect(svc, `compose service ${s}`).toBeDefined();
      expect(svc.environment.SERVICE).toBe(s);
      expect(svc.build?.dockerfile ?? '').toBe('deploy/Dockerfile');
      expect(svc.restart).toBe('unless-stopped');
      expect(svc.healthcheck.test.join(' ')).toMatch(/fetch\('http:\/\/127\.0\.0\.1:\d+\/readyz'\)/);
      expect(svc.environment.HEALTH_PORT).toBe('9000');
      // Its own credentials, the file `npm run nats:config` writes for it, and no one else's (the
      // workflow host has none of these files: each workflow's own under its prefix, below).
      const envFiles: string[] = svc.env_file ?? [];
      expect(envFiles.filter((f) => busPrincipals.includes(basename(f, '.env') as never))).toEqual(
        s === workflowHost ? [] : [`./deploy/secrets/${s}.env`],
      );
      expect(svc.depends_on.setup.condition).toBe('service_completed_successfully');
      const provided = [...Object.keys(svc.environment), ...envFiles.flatMap(secretKeys)];
      for (const key of required.get(s)!) expect(provided, `${s} gets ${key}`).toContain(key);
    }
    // Compose casts the interpolated string, as Number does.
    for (const s of scaled) expect(Number(compose.services[s].deploy?.replicas), `${s} replicas`).toBe(2);
  });

  it('runs the workflow host only when chosen: its own profile, in place of the workflow-* services, each workflow as its own NATS user', () => {
    // Off in the default layout (`--profile app`), on with the workflow-host profile alone.
    expect(compose.services[workflowHost].profiles).toEqual(['workflow-host']);
    expect(workflowServices.map((s) => s.slice('workflow-'.length)).sort()).toEqual([...workflowNames].sort());
    // deploy/compose-workflow-host.env chooses the host's layout: the profile on, the workflow-* services at 0.
    const layout = envValues(read('deploy/compose-workflow-host.env'));
    expect(layout.COMPOSE_PROFILES?.split(',').sort()).toEqual(['app', 'workflow-host']);
    const hosted = composeWith({ ...layout, ...generated('workflows.env') });
    for (const s of workflowServices) expect(Number(hosted.services[s].deploy.replicas), `${s} replicas`).toBe(0);
    expect(Number(hosted.services[workflowHost].deploy.replicas)).toBe(2);
    // The credentials, passed with `--env-file` (the workflows.env nats:config writes): each workflow its own.
    expectEachWorkflowItsOwnUser(hosted.services[workflowHost].environment, 'compose');
    // Without that file (any other layout), the variables are empty, which the host reads as unset.
    for (const [key, value] of Object.entries(compose.services[workflowHost].environment as Record<string, string>)) {
      if (/__/.test(key)) expect(value, key).toBe('');
    }
  });

  it('creates the streams once, as the ops user, before any service starts', () => {
    const setup = compose.services.setup;
    expect(setup.environment.SERVICE).toBe('setup-streams');
    expect(setup.env_file).toEqual(['./deploy/secrets/ops.env']);
    expect(setup.restart).toBe('no');
  });

  it('has a cluster profile of three NATS 2.9 nodes, each with its config, and mounts the generated users into every NATS server', () => {
    const nodes = ['nats-1', 'nats-2', 'nats-3'];
    for (const [i, name] of nodes.entries()) {
      const node = compose.services[name];
      expect(node.profiles).toEqual(['cluster']);
      expect(node.image).toMatch(/^nats:2\.9/);
      expect(node.command).toEqual(['-c', `/etc/nats/n${i + 1}.conf`]);
      const conf = read(`deploy/nats/n${i + 1}.conf`);
      expect(conf).toMatch(new RegExp(`server_name: n${i + 1}\\b`));
      expect(conf).toMatch(/jetstream \{/);
      for (const other of nodes) expect(conf).toContain(`nats://${other}:6222`);
    }
    for (const name of ['nats', ...nodes]) {
      expect(compose.services[name].volumes).toContain('./deploy/secrets/nats-server.conf:/etc/nats/nats-server.conf:ro');
      for (const volume of compose.services[name].volumes as string[]) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./deploy/nats/')) expect(existsSync(join(repoRoot, source)), source).toBe(true);
      }
    }
    const clusterEnv = read('deploy/compose-cluster.env');
    expect(clusterEnv).toMatch(/^COMPOSE_PROFILES=app,cluster$/m);
    expect(clusterEnv).toMatch(/^PATCHFLOW_NATS_URL=nats:\/\/nats-1:4222,nats:\/\/nats-2:4222,nats:\/\/nats-3:4222$/m);
    expect(clusterEnv).toMatch(/^STREAM_REPLICAS=3$/m);
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.find((s) => / AS runtime\b/.test(s.split('\n')[0]!))!;

  it('installs from the manifests alone first, so source changes keep the npm ci layer', () => {
    const firstRun = dockerfile.indexOf('RUN npm ci');
    const workspaces = [
      'contracts',
      ...['libs', 'services', 'tools'].flatMap((d) => readdirSync(join(repoRoot, d)).map((n) => `${d}/${n}`)),
    ].filter((w) => existsSync(join(repoRoot, w, 'package.json')));
    for (const w of workspaces) {
      const copy = dockerfile.indexOf(`COPY ${w}/package.json ${w}/`);
      expect(copy, `${w}/package.json is copied`).toBeGreaterThan(0);
      expect(copy).toBeLessThan(firstRun);
    }
    expect(dockerfile.indexOf('COPY package.json package-lock.json ./')).toBeLessThan(firstRun);
    expect(dockerfile.indexOf('COPY services services')).toBeGreaterThan(firstRun);
  });

  it('ends in a runtime stage with production dependencies, the build output only, and a non-root user', () => {
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/^COPY (contracts|libs|services|tools|scripts) /m);
    expect(runtime).toMatch(/^COPY --from=build \/out \.\/$/m);
    expect(runtime).toMatch(/ENTRYPOINT \["\/usr\/local\/bin\/patchflow"\]/);
    for (const ignored of ['**/node_modules', '**/dist', 'deploy/secrets', 'deploy/k8s/secrets']) {
      expect(read('.dockerignore').split('\n'), ignored).toContain(ignored);
    }
  });

  it('has an entrypoint that runs only a known service', () => {
    expect(statSync(join(repoRoot, 'deploy/docker-entrypoint.sh')).mode & 0o111).not.toBe(0);
    for (const bad of ['', 'nope', '../services/gateway']) {
      const r = spawnSync('sh', [join(repoRoot, 'deploy/docker-entrypoint.sh')], {
        env: { PATH: process.env.PATH, SERVICE: bad, PATCHFLOW_HOME: repoRoot },
        encoding: 'utf8',
      });
      expect(r.status, `SERVICE=${bad}`).toBe(2);
      expect(r.stderr).toContain(`SERVICE must be one of: ${[...services].sort().join(' ')} setup-streams patchctl`);
    }
  });

  it('starts a service with the same node flags as npm start (SERVICE_NODE_FLAGS)', () => {
    // A stand-in `node` on PATH prints what it was asked to run.
    const home = mkdtempSync(join(tmpdir(), 'pf-entry-'));
    try {
      mkdirSync(join(home, 'bin'));
      writeFileSync(join(home, 'bin/node'), '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
      for (const service of ['gateway', workflowHost]) {
        mkdirSync(join(home, `services/${service}/dist`), { recursive: true });
        writeFileSync(join(home, `services/${service}/dist/main.js`), '');
        const r = spawnSync('sh', [join(repoRoot, 'deploy/docker-entrypoint.sh'), '--extra'], {
          env: { PATH: `${join(home, 'bin')}:${process.env.PATH}`, SERVICE: service, PATCHFLOW_HOME: home },
          encoding: 'utf8',
        });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout.trim()).toBe([...SERVICE_NODE_FLAGS, `services/${service}/dist/main.js`, '--extra'].join(' '));
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('runs the operator CLI with SERVICE=patchctl, its arguments after the image', () => {
    const r = spawnSync('sh', [join(repoRoot, 'deploy/docker-entrypoint.sh'), 'lifecycle', '--json'], {
      env: { PATH: process.env.PATH, SERVICE: 'patchctl', PATCHFLOW_HOME: repoRoot },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ initialStatus: 'draft' });
  });
});

describe('deploy/k8s', () => {
  const dir = join(repoRoot, 'deploy/k8s');
  const kustomization = parse(read('deploy/k8s/kustomization.yaml')) as any;
  /** The workflow host's kustomize component: its Deployment, and the workflow-* Deployments at 0. */
  const hostComponent = parse(read('deploy/k8s/workflow-host/kustomization.yaml')) as any;
  const manifests = (folder: string, files: string[]) =>
    files.flatMap((file) =>
      parseAllDocuments(readFileSync(join(folder, file), 'utf8')).map((d) => {
        expect(d.errors, file).toEqual([]);
        return d.toJS() as any;
      }),
    );
  const docs = manifests(dir, kustomization.resources as string[]);
  const hostDocs = manifests(join(dir, 'workflow-host'), hostComponent.resources as string[]);
  const generators = new Map<string, any>((kustomization.secretGenerator as any[]).map((g) => [g.name, g]));
  const configEnv = envValues(read(`deploy/k8s/${kustomization.configMapGenerator[0].envs[0]}`));
  const configKeys = Object.keys(configEnv);
  /** A generated secret's value, as the cluster would hold it (the examples stand in for the files filled in by hand). */
  const secretValue = (ref: { name: string; key: string }) =>
    (generators.get(ref.name).envs as string[])
      .map((f) => {
        const example = join(repoRoot, 'deploy/secrets.example', basename(f));
        return existsSync(example) ? envValues(readFileSync(example, 'utf8')) : generated(f);
      })
      .find((values) => ref.key in values)?.[ref.key];

  it('lists every manifest of the folder', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'nats-values.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    // The workflow host is opt-in: its component lists its folder's manifests and is off by default.
    expect(hostComponent.kind).toBe('Component');
    const hostFiles = readdirSync(join(dir, 'workflow-host')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...hostComponent.resources].sort()).toEqual(hostFiles.sort());
    expect(kustomization.components ?? []).not.toContain('workflow-host');
    expect(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === workflowHost)).toBeUndefined();
  });

  it('has a Deployment per service with probes, resources, replicas, its own NATS secret and every required variable', () => {
    expect(configKeys).toEqual(expect.arrayContaining(['NATS_URL', 'STREAM_REPLICAS', 'HEALTH_PORT']));
    // Probes come from the kubelet, to the pod's address: the health port must not be on localhost only.
    expect(read('deploy/k8s/config.env')).toMatch(/^HEALTH_HOST=0\.0\.0\.0$/m);
    const healthPort = Number(/^HEALTH_PORT=(\d+)$/m.exec(read('deploy/k8s/config.env'))![1]);
    for (const s of services) {
      const deployment = (s === workflowHost ? hostDocs : docs).find((d) => d.kind === 'Deployment' && d.metadata.name === s);
      expect(deployment, `Deployment ${s}`).toBeDefined();
      expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
      expect(deployment.spec.replicas).toBe(scaled.includes(s) || s === 'gateway' ? 2 : 1);
      const [container] = deployment.spec.template.spec.containers;
      expect(container.env).toContainEqual({ name: 'SERVICE', value: s });
      expect(container.resources.requests).toBeDefined();
      expect(container.resources.limits.memory).toBeDefined();
      expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      const port = (name: string) => container.ports.find((p: any) => p.name === name)?.containerPort;
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      for (const probe of [container.livenessProbe, container.readinessProbe])
        expect(port(probe.httpGet.port), `${s} probe port`).toBeDefined();
      if (s !== 'gateway') expect(port(container.readinessProbe.httpGet.port)).toBe(healthPort);

      // Its own NATS user, generated into secrets/<service>.env, and no other service's (the
      // workflow host reads none whole: each workflow's own, key by key, below).
      const secretRefs = (container.envFrom as any[]).filter((e) => e.secretRef).map((e) => e.secretRef.name as string);
      const natsRefs = secretRefs.filter((n) => n.startsWith('patchflow-nats-'));
      expect(natsRefs).toEqual(s === workflowHost ? [] : [`patchflow-nats-${s}`]);
      if (s !== workflowHost) expect(generators.get(`patchflow-nats-${s}`)?.envs).toEqual([`secrets/${s}.env`]);

      const provided = [
        ...(container.env as any[]).map((e) => e.name as string),
        ...configKeys,
        ...secretRefs.flatMap((n) => (generators.get(n)?.envs ?? []).flatMap(secretKeys)),
      ];
      for (const key of required.get(s)!) expect(provided, `${s} gets ${key}`).toContain(key);
      // A secretKeyRef names a generated secret and a key its file has (the example, or what the generator writes).
      for (const e of container.env as any[]) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const generator = generators.get(ref.name);
        expect(generator, `${s}: secret ${ref.name}`).toBeDefined();
        expect(generator.envs.flatMap(secretKeys), `${s}: ${ref.name} has ${ref.key}`).toContain(ref.key);
      }
    }
    for (const file of readdirSync(join(repoRoot, 'deploy/secrets.example'))) {
      expect(envKeys(read(`deploy/secrets.example/${file}`)).length, file).toBeGreaterThan(0);
    }
  });

  it('has the workflow host as a component: each workflow as its own NATS user, from the secret its own Deployment reads', () => {
    const [container] = hostDocs.find((d) => d.kind === 'Deployment' && d.metadata.name === workflowHost).spec.template.spec
      .containers;
    // The pod's environment as the kubelet builds it: the ConfigMap, then each env entry.
    const env: Record<string, unknown> = { ...configEnv };
    for (const e of container.env as any[]) env[e.name] = e.value ?? secretValue(e.valueFrom.secretKeyRef);
    expectEachWorkflowItsOwnUser(env, 'k8s');
    // Whatever third-party secret a workflow's own Deployment reads, the host reads too.
    const optional = (envFrom: any[]) => envFrom.filter((e) => e.secretRef?.optional).map((e) => e.secretRef.name as string);
    const workflowSecrets = workflowServices.flatMap((s) =>
      optional(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === s).spec.template.spec.containers[0].envFrom),
    );
    expect(optional(container.envFrom).sort()).toEqual(workflowSecrets.sort());
    // The component stops the workflow-* Deployments: every one of them, and not the host.
    expect(hostComponent.patches).toHaveLength(1);
    const [patch] = hostComponent.patches;
    const target = new RegExp(`^(?:${patch.target.name})$`);
    expect(services.filter((s) => target.test(s)).sort()).toEqual([...workflowServices].sort());
    expect(patch.target.kind).toBe('Deployment');
    expect(parse(patch.patch)).toEqual([{ op: 'replace', path: '/spec/replicas', value: 0 }]);
  });

  it("sets the streams up in a Job as the ops user, and exposes the gateway's HTTP port in a Service", () => {
    const job = docs.find((d) => d.kind === 'Job');
    const [container] = job.spec.template.spec.containers;
    expect(container.env).toContainEqual({ name: 'SERVICE', value: 'setup-streams' });
    expect(container.envFrom.map((e: any) => e.secretRef?.name).filter(Boolean)).toEqual(['patchflow-nats-ops']);
    expect(generators.get('patchflow-nats-ops')?.envs).toEqual(['secrets/ops.env']);
    const service = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'gateway');
    const gateway = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'gateway');
    expect(service.spec.selector).toEqual(gateway.spec.template.metadata.labels);
    expect(gateway.spec.template.spec.containers[0].ports.map((p: any) => p.name)).toContain(service.spec.ports[0].targetPort);
    // Every principal of the bus has its secret (the NATS users file is generated for exactly these).
    for (const p of busPrincipals) expect(generators.has(`patchflow-nats-${p}`), p).toBe(true);
  });

  it('configures the NATS Helm chart as a 3-node JetStream cluster with the generated users', () => {
    const values = parse(read('deploy/k8s/nats-values.yaml')) as any;
    expect(values.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(values.config.jetstream.enabled).toBe(true);
    expect(values.config.merge.$include).toBe('../nats-auth/nats-server.conf');
    expect(values.container.patch[0].value.mountPath).toBe('/etc/nats-auth');
    const auth = generators.get('patchflow-nats-auth');
    expect(auth).toMatchObject({ files: ['secrets/nats-server.conf'], options: { disableNameSuffixHash: true } });
    expect(values.podTemplate.patch[0].value.secret.secretName).toBe('patchflow-nats-auth');
    expect(read('deploy/k8s/config.env')).toMatch(/^STREAM_REPLICAS=3$/m);
  });

  it.skipIf(spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status !== 0)(
    'renders with kustomize once the secrets are generated (kubectl kustomize), with and without the workflow host',
    () => {
      const tmp = mkdtempSync(join(tmpdir(), 'pf-k8s-'));
      try {
        cpSync(dir, tmp, { recursive: true, filter: (src) => !src.includes('/secrets') });
        cpSync(secretsDir, join(tmp, 'secrets'), { recursive: true });
        for (const f of readdirSync(join(repoRoot, 'deploy/secrets.example')))
          cpSync(join(repoRoot, 'deploy/secrets.example', f), join(tmp, 'secrets', f));
        const render = () => {
          const out = spawnSync('kubectl', ['kustomize', tmp], { encoding: 'utf8' });
          expect(out.status, out.stderr).toBe(0);
          const rendered = parseAllDocuments(out.stdout).map((d) => d.toJS() as any);
          const secrets = rendered.filter((d) => d.kind === 'Secret').map((d) => d.metadata.name as string);
          expect(secrets).toContain('patchflow-nats-auth');
          const deployment = (name: string) => rendered.find((d) => d.kind === 'Deployment' && d.metadata.name === name);
          return { secrets, deployment };
        };

        const byDefault = render();
        for (const s of services.filter((s) => s !== workflowHost)) {
          const deployment = byDefault.deployment(s);
          expect(deployment.metadata.namespace).toBe('patchflow');
          const ref = deployment.spec.template.spec.containers[0].envFrom.find((e: any) =>
            e.secretRef?.name.startsWith(`patchflow-nats-${s}-`),
          );
          expect(byDefault.secrets, s).toContain(ref.secretRef.name);
        }
        expect(byDefault.deployment(workflowHost)).toBeUndefined();

        // With the component (one line in kustomization.yaml): the host runs, the workflow-* Deployments are at 0.
        writeFileSync(
          join(tmp, 'kustomization.yaml'),
          `${read('deploy/k8s/kustomization.yaml')}\ncomponents:\n  - workflow-host\n`,
        );
        const hosted = render();
        const host = hosted.deployment(workflowHost);
        expect(host.metadata.namespace).toBe('patchflow');
        expect(host.spec.replicas).toBe(2);
        const refs: string[] = (host.spec.template.spec.containers[0].env as any[]).flatMap(
          (e) => e.valueFrom?.secretKeyRef?.name ?? [],
        );
        for (const w of workflowNames)
          expect(
            refs.filter((n) => n.startsWith(`patchflow-nats-workflow-${w}-`)),
            w,
          ).not.toEqual([]);
        for (const name of refs) expect(hosted.secrets, name).toContain(name);
        for (const s of workflowServices) expect(hosted.deployment(s).spec.replicas, s).toBe(0);
        for (const s of ['patch-status', 'gateway']) expect(hosted.deployment(s).spec.replicas, s).toBe(2);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  );
});

describe('deploy/nats with a real nats-server', () => {
  const hasNats = spawnSync('nats-server', ['--version'], { encoding: 'utf8' }).status === 0;
  const tmp = mkdtempSync(join(tmpdir(), 'pf-natsconf-'));
  const nodes: ChildProcess[] = [];
  afterAll(async () => {
    for (const n of nodes) n.kill('SIGTERM');
    await Promise.all(nodes.map((n) => (n.exitCode !== null ? undefined : new Promise((ok) => n.once('exit', ok)))));
    rmSync(tmp, { recursive: true, force: true });
  });

  it.skipIf(!hasNats)(
    'accepts every config with the generated users, and the cluster nodes form a JetStream cluster where ops creates the streams',
    async () => {
      const gen = spawnSync(
        process.execPath,
        ['--conditions=development', '--import', 'tsx', 'scripts/nats-config.ts', '--out', tmp, '--listen', '0.0.0.0:4222'],
        {
          cwd: repoRoot,
          encoding: 'utf8',
        },
      );
      expect(gen.status, gen.stderr).toBe(0);
      for (const conf of readdirSync(join(repoRoot, 'deploy/nats'))) {
        cpSync(join(repoRoot, 'deploy/nats', conf), join(tmp, conf));
        const check = spawnSync('nats-server', ['-c', join(tmp, conf), '-t'], { encoding: 'utf8' });
        expect(check.status, `${conf}: ${check.stderr}`).toBe(0);
      }

      // The three cluster configs as compose runs them, moved to free local ports and directories.
      const ports = async () => [await freePort(), await freePort(), await freePort()];
      const [client, route, http] = [await ports(), await ports(), await ports()] as [number[], number[], number[]];
      for (const k of [0, 1, 2]) {
        const text = read(`deploy/nats/n${k + 1}.conf`)
          .replace('"0.0.0.0:4222"', `"127.0.0.1:${client[k]}"`)
          .replace('"0.0.0.0:8222"', `"127.0.0.1:${http[k]}"`)
          .replace('"0.0.0.0:6222"', `"127.0.0.1:${route[k]}"`)
          .replace(/nats:\/\/nats-(\d):6222/g, (_m, n: string) => `nats://127.0.0.1:${route[Number(n) - 1]}`)
          .replace('"/data"', JSON.stringify(join(tmp, `data${k + 1}`)));
        writeFileSync(join(tmp, `local-n${k + 1}.conf`), text);
        nodes.push(spawn('nats-server', ['-c', join(tmp, `local-n${k + 1}.conf`)], { stdio: 'ignore' }));
      }
      await waitFor(async () => (await fetch(`http://127.0.0.1:${http[0]}/healthz`).catch(() => undefined))?.ok, {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: 'the JetStream cluster to be healthy',
      });
      const ops = envValues(readFileSync(join(tmp, 'ops.env'), 'utf8'));
      const setup = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', 'scripts/setup-streams.ts'], {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH,
          ...ops,
          NATS_URL: client.map((p) => `nats://127.0.0.1:${p}`).join(','),
          STREAM_REPLICAS: '3',
          SETUP_TIMEOUT_MS: '30000',
        },
        encoding: 'utf8',
      });
      expect(setup.status, setup.stderr + setup.stdout).toBe(0);
      // Each node counts the streams it holds a copy of: the three streams are somewhere in the cluster.
      const jsz = await Promise.all(
        http.map(
          async (port) =>
            (await (await fetch(`http://127.0.0.1:${port}/jsz`)).json()) as {
              streams: number;
              meta_cluster?: { cluster_size?: number };
            },
        ),
      );
      expect(jsz.reduce((sum, node) => sum + node.streams, 0)).toBeGreaterThanOrEqual(3);
      expect(jsz.map((node) => node.meta_cluster?.cluster_size)).toEqual([3, 3, 3]);
    },
    90_000,
  );
});
