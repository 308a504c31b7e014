import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { PrivateNatsServer } from './processes.js';

/** One node of a `PrivateNatsCluster`: its `server_name` and the nats-server running it. */
export interface ClusterNode {
  name: string;
  port: number;
  server: PrivateNatsServer;
}

/**
 * A JetStream cluster of private `nats-server` processes on this machine (docs/FIELD-NOTES.md: three form
 * a cluster in ~4 s), one per config file — e.g. the n1.conf … n3.conf that
 * `npm run nats:config -- --cluster-nodes 3` writes. Nodes can be crashed and restarted alone.
 */
export class PrivateNatsCluster {
  private constructor(readonly nodes: ClusterNode[]) {}

  /** Every node's client URL, comma-separated, as NATS_URL takes them. */
  get url(): string {
    return this.nodes.map((n) => n.server.url).join(',');
  }

  /** Starts one server per config file (each must have `server_name` and `listen: "HOST:PORT"`). */
  static async start(configFiles: string[]): Promise<PrivateNatsCluster> {
    const nodes = configFiles.map((configFile) => {
      const text = readFileSync(configFile, 'utf8');
      const name = /^server_name:\s*"([^"]+)"/m.exec(text)?.[1];
      const port = Number(/^listen:\s*"[^"]*:(\d+)"/m.exec(text)?.[1]);
      if (!name || !port) throw new Error(`${configFile} has no server_name or listen "HOST:PORT"`);
      return { name, port, configFile };
    });
    // Started together: each waits for its peers' routes before JetStream elects a meta leader.
    const servers = await Promise.all(nodes.map((n) => PrivateNatsServer.start({ port: n.port, configFile: n.configFile })));
    return new PrivateNatsCluster(nodes.map((n, i) => ({ name: n.name, port: n.port, server: servers[i]! })));
  }

  node(name: string): ClusterNode {
    const found = this.nodes.find((n) => n.name === name);
    if (!found) throw new Error(`no cluster node named ${name} (have ${this.nodes.map((n) => n.name).join(', ')})`);
    return found;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.server.dispose()));
  }
}

/**
 * The first of `count` consecutive free TCP ports on 127.0.0.1 (a cluster's client and route
 * ports, for `nats:config --cluster-base-port`; npm start's health ports). Tries random bases below
 * the kernel's ephemeral range, where no outgoing connection (to Postgres, NATS, …) can take one
 * of them between this check and the bind; each port is bound to check.
 */
export async function freePortRange(count: number): Promise<number> {
  const ephemeralLow = ephemeralRangeStart();
  const lowest = 10_000;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = lowest + Math.floor(Math.random() * (ephemeralLow - lowest - count));
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found below ${ephemeralLow}`);
}

/** Where the kernel starts handing out local ports to outgoing connections (Linux; 32768 elsewhere). */
function ephemeralRangeStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => ok(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
  });
}
