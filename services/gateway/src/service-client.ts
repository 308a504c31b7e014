import type { Bus } from '@patchflow/bus';
import { ContractError, type Endpoint } from '@patchflow/contracts';
import type { z } from 'zod';

/**
 * The gateway's only way to the services: a NATS request per call with a bounded wait. It never
 * hangs: a reply that does not come in time is `timeout` (504); NATS being disconnected, or
 * nobody serving the subject, is `unavailable` (503) at once, without waiting for the timeout.
 */
export class ServiceClient {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  get isConnected(): boolean {
    return this.bus.isConnected;
  }

  /** Returns the result or throws the error reply as a ContractError. */
  async call<E extends Endpoint>(endpoint: E, request: z.input<E['request']>): Promise<z.infer<E['result']>> {
    if (!this.isConnected) throw new ContractError('unavailable', 'the message bus (NATS) is not reachable; try again shortly');
    const reply = await this.bus.request(endpoint, request, { timeoutMs: this.timeoutMs });
    if (reply.ok) return reply.result;
    const { code, message, details } = reply.error;
    // A request that timed out because the connection dropped meanwhile is an outage, not slowness.
    if (code === 'timeout' && !this.isConnected)
      throw new ContractError('unavailable', 'the message bus (NATS) is not reachable');
    throw new ContractError(code, message, details);
  }
}
