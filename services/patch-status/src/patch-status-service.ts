import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException, type MikroORM } from '@mikro-orm/postgresql';
import {
  ContractError,
  CreatePatchRequest,
  lifecycle,
  nextPatchName,
  workflowsFor,
  type CreatePatchResult,
  type GetPatchResult,
  type ListPatchesRequest,
  type ListPatchesResult,
  type PatchHistoryResult,
  type TransitionRequest,
  type TransitionResult,
  type WorkItem,
} from '@patchflow/contracts';
import { counter, durationBuckets, histogram } from '@patchflow/config';
import type { z } from 'zod';
import { currentTrace, formatTraceparent, startSpan, withTrace, type Logger } from '@patchflow/log';
import { PatchEntity, type Patch } from './entities/patch.js';
import { PatchTransitionEntity } from './entities/patch-transition.js';
import { PatchTransitionWorkEntity } from './entities/patch-transition-work.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { createFingerprint, transitionFingerprint } from './request-fingerprint.js';
import type { Loaded, TransitionStore } from './transition-store.js';
import { toPatchView, toTransitionView } from './views.js';

type ListPatchesRequestParsed = z.output<typeof ListPatchesRequest>;

export interface PatchStatusPorts {
  orm: MikroORM;
  transitions: TransitionStore;
  /** Called once a transition committed; publishes its work (at-least-once, never throws). */
  onCommitted(work: WorkItem): void;
  logger: Logger;
}

/**
 * Transition requests by action and outcome: committed, replayed (an idempotent repeat), rejected
 * (a ContractError; `code` says which) or failed (anything else, e.g. Postgres down).
 */
const transitionsTotal = counter({
  name: 'transitions_total',
  help: 'Transition requests handled by patch-status, by action, outcome (committed, replayed, rejected, failed) and error code',
  labelNames: ['action', 'outcome', 'code'],
});
const transitionSeconds = histogram({
  name: 'transition_duration_seconds',
  help: 'Time patch-status took to answer a transition request (checks, commit), by action and outcome',
  labelNames: ['action', 'outcome'],
  buckets: durationBuckets,
});

/**
 * The patch lifecycle's rules and state. Reads and creates go through MikroORM, each in a fresh
 * fork; the transition goes through `TransitionStore`'s two statements.
 */
export class PatchStatusService {
  constructor(private readonly ports: PatchStatusPorts) {}

  /**
   * Creates a draft patch. An idempotency key belongs to the caller who first sent it and is
   * bound to that request: the same caller repeating it gets the first patch back; another
   * caller, or another request, is refused (`idempotency_key_reused`).
   */
  async create(req: CreatePatchRequest): Promise<CreatePatchResult> {
    refuseNameWithoutSuccessor(req.name);
    const fingerprint = req.idempotencyKey ? createFingerprint(req) : null;
    // Most creates conflict with nothing: one statement. Otherwise (a repeat, a taken name, a
    // second successor, an unknown predecessor) nothing was written and the reads below answer.
    const fields = {
      id: randomUUID(),
      name: req.name,
      product: req.product,
      status: lifecycle.initialStatus,
      version: 1,
      jiraKey: req.jiraKey ?? null,
      gitRef: req.gitRef ?? null,
      predecessorId: req.predecessorId ?? null,
      idempotencyKey: req.idempotencyKey ?? null,
      idempotencyFingerprint: fingerprint,
      createdBy: req.actor,
    };
    const inserted = await this.ports.transitions.insertPatch(fields);
    if (inserted) {
      this.ports.logger.info({ patchId: inserted.id, name: inserted.name, product: inserted.product }, 'patch created');
      return { patch: toPatchView(inserted), replayed: false };
    }
    const em = this.ports.orm.em.fork();
    if (req.idempotencyKey) {
      const earlier = await em.findOne(PatchEntity, { idempotencyKey: req.idempotencyKey });
      if (earlier) return replayCreate(earlier, req.actor, fingerprint);
    }
    if (req.predecessorId) {
      const predecessor = await em.findOne(PatchEntity, { id: req.predecessorId });
      if (!predecessor) {
        throw new ContractError('not_found', `predecessor patch ${req.predecessorId} does not exist`, {
          field: 'predecessorId',
        });
      }
      // One successor per patch, whoever asks and with whatever key.
      const existing = await em.findOne(PatchEntity, { predecessorId: req.predecessorId });
      if (existing) return { patch: toPatchView(existing), replayed: true };
    }
    const sameName = await em.findOne(PatchEntity, { product: req.product, name: req.name });
    if (sameName) return this.onNameTaken(sameName, req);
    const patch = em.create(PatchEntity, fields);
    try {
      await em.flush();
    } catch (err) {
      if (!(err instanceof UniqueConstraintViolationException)) throw err;
      // A concurrent request with the same key, predecessor or name won: answer as if it came first.
      const fresh = this.ports.orm.em.fork();
      const byKey = req.idempotencyKey ? await fresh.findOne(PatchEntity, { idempotencyKey: req.idempotencyKey }) : null;
      if (byKey) return replayCreate(byKey, req.actor, fingerprint);
      const successor = req.predecessorId ? await fresh.findOne(PatchEntity, { predecessorId: req.predecessorId }) : null;
      if (successor) return { patch: toPatchView(successor), replayed: true };
      const named = await fresh.findOne(PatchEntity, { product: req.product, name: req.name });
      if (named) return this.onNameTaken(named, req);
      throw err;
    }
    this.ports.logger.info({ patchId: patch.id, name: patch.name, product: patch.product }, 'patch created');
    return { patch: toPatchView(patch), replayed: false };
  }

  /**
   * `product name` exists already. A plain create is refused (`duplicate_patch`, 409). The
   * successor workflow's create (with `predecessorId`) must not fail forever because someone
   * opened the successor by hand: that patch becomes the successor — linked, answered as
   * `replayed` — when it has no predecessor yet and is not an ancestor of the predecessor (no
   * cycle). Otherwise it is `duplicate_patch` too, a permanent error the workflow dead-letters
   * with this message.
   */
  private async onNameTaken(existing: Patch, req: CreatePatchRequest): Promise<CreatePatchResult> {
    const predecessorId = req.predecessorId;
    if (predecessorId && existing.predecessorId === predecessorId) return { patch: toPatchView(existing), replayed: true };
    if (predecessorId && existing.predecessorId === null) {
      const linked = await this.linkSuccessor(predecessorId, existing.id);
      if (linked) {
        this.ports.logger.info(
          { patchId: existing.id, predecessorId, name: existing.name, product: existing.product },
          'existing patch linked as successor',
        );
        return { patch: toPatchView(linked), replayed: true };
      }
    }
    throw new ContractError(
      'duplicate_patch',
      `product ${existing.product} already has a patch named "${existing.name}" (${existing.id})` +
        (predecessorId ? '; it cannot become the successor: it already has a predecessor or precedes this patch' : ''),
      { field: 'name', product: existing.product, name: existing.name, existingId: existing.id, existingName: existing.name },
    );
  }

  /**
   * Sets `predecessor_id` of a patch that has none, unless it is an ancestor of the predecessor.
   * Returns the patch as linked, or null (it got a predecessor meanwhile, or would close a cycle).
   * A race with another successor of the same predecessor ends in `patch_one_successor`: the
   * winner is answered.
   */
  private async linkSuccessor(predecessorId: string, successorId: string): Promise<Patch | null> {
    const linked = await this.ports.transitions.linkSuccessor(predecessorId, successorId);
    if (linked === 'refused') return null;
    return this.ports.orm.em.fork().findOne(PatchEntity, { predecessorId });
  }

  async get(id: string): Promise<GetPatchResult> {
    const em = this.ports.orm.em.fork();
    const patch = await em.findOne(PatchEntity, { id });
    if (!patch) throw notFound(id);
    const successor = await em.findOne(PatchEntity, { predecessorId: id }, { fields: ['id', 'name'] });
    const predecessor = patch.predecessorId
      ? await em.findOne(PatchEntity, { id: patch.predecessorId }, { fields: ['id', 'name'] })
      : null;
    return {
      patch: toPatchView(patch),
      allowedActions: lifecycle.allowedActions(patch.status),
      successorId: successor?.id ?? null,
      predecessor: predecessor ? { id: predecessor.id, name: predecessor.name } : null,
      successor: successor ? { id: successor.id, name: successor.name } : null,
    };
  }

  /**
   * A page of patches, newest first by `updatedAt` (default) or `createdAt`, keyset-paged on
   * (sort key, id). `q` matches a substring of the name, case-insensitively, with `%`, `_` and `\`
   * taken literally; `ids` restricts the rows before paging, so the cursor stays exact.
   */
  async list(req: ListPatchesRequestParsed): Promise<ListPatchesResult> {
    const em = this.ports.orm.em.fork();
    const key = req.sort === 'created' ? 'createdAt' : 'updatedAt';
    const after = req.cursor ? decodeCursor(req.cursor, req.sort) : undefined;
    const rows = await em.find(
      PatchEntity,
      {
        ...(req.status ? { status: req.status } : {}),
        ...(req.product ? { product: req.product } : {}),
        ...(req.q ? { name: { $ilike: `%${req.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` } } : {}),
        ...(req.ids ? { id: { $in: req.ids } } : {}),
        ...(after ? { $or: [{ [key]: { $lt: after.key } }, { [key]: after.key, id: { $lt: after.id } }] } : {}),
      },
      { orderBy: [{ [key]: 'desc' }, { id: 'desc' }], limit: req.limit + 1 },
    );
    const page = rows.slice(0, req.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toPatchView),
      nextCursor: rows.length > req.limit && last ? encodeCursor(req.sort, last[key], last.id) : null,
    };
  }

  /** Every transition of the patch `patchId`, or of the patch the work item `workId` belongs to. */
  async history(req: { patchId?: string; workId?: string }): Promise<PatchHistoryResult> {
    const em = this.ports.orm.em.fork();
    let patchId = req.patchId;
    if (req.workId) {
      const work = await em.findOne(PatchTransitionWorkEntity, { id: req.workId }, { fields: ['patchId'] });
      if (!work) throw new ContractError('not_found', `work item ${req.workId} does not exist`, { workId: req.workId });
      patchId = work.patchId;
    }
    if (!patchId) throw ContractError.validation([{ path: 'patchId', message: 'give either patchId or workId' }]);
    const patch = await em.findOne(PatchEntity, { id: patchId });
    if (!patch) throw notFound(patchId);
    const transitions = await em.find(PatchTransitionEntity, { patchId }, { orderBy: { patchVersion: 'asc' } });
    const work = await em.find(PatchTransitionWorkEntity, { patchId }, { fields: ['id', 'transitionId'] });
    const workByTransition = new Map(work.map((w) => [w.transitionId, w.id]));
    return {
      patchId,
      patch: toPatchView(patch),
      transitions: transitions.map((t) => toTransitionView(t, workByTransition.get(t.id) ?? t.id)),
    };
  }

  /** `apply`, counted and timed (transitionsTotal, transitionSeconds). */
  async transition(req: TransitionRequest): Promise<TransitionResult> {
    const started = performance.now();
    // An unknown action is refused by `apply`; it must not become a label value of its own.
    const action = lifecycle.action(req.action) ? req.action : 'unknown';
    let outcome: 'committed' | 'replayed' | 'rejected' | 'failed' = 'failed';
    let code = '';
    // A span of the caller's trace (the gateway's request), or a new trace: its traceparent goes into the work item.
    const span = startSpan('patch-status transition', currentTrace(), { action, patchId: req.patchId }, 'server');
    try {
      const result = await withTrace(span.trace, () => this.apply(req));
      outcome = result.replayed ? 'replayed' : 'committed';
      span.setAttributes({ workId: result.transition.workId });
      return result;
    } catch (err) {
      if (err instanceof ContractError) [outcome, code] = ['rejected', err.code];
      throw err;
    } finally {
      transitionsTotal.labels(action, outcome, code).inc();
      transitionSeconds.labels(action, outcome).observe((performance.now() - started) / 1000);
      span.setAttributes({ outcome, ...(code ? { code } : {}) });
      span.end(outcome === 'failed' ? 'failed' : undefined);
    }
  }

  /**
   * Validates the request against the lifecycle and commits patch update + transition + work in
   * one statement. Checks run in this order so the error names the first real problem:
   * required fields, patch exists, idempotent replay, role, lifecycle, version.
   */
  private async apply(req: TransitionRequest): Promise<TransitionResult> {
    const action = lifecycle.action(req.action);
    if (!action) throw ContractError.validation([{ path: 'action', message: `unknown action "${req.action}"` }]);
    const missing = action.requiredFields.filter((f) => !req[f]);
    if (missing.length) {
      throw ContractError.validation(missing.map((f) => ({ path: f, message: `required for ${action.name}` })));
    }
    const key = req.idempotencyKey ?? null;
    // Only a keyed request is fingerprinted; the earlier one's fingerprint comes with the load.
    const fingerprint = key ? transitionFingerprint(req) : null;
    const loaded = await this.ports.transitions.load(req.patchId, key);
    if (!loaded) throw notFound(req.patchId);
    if (loaded.earlier) return replayTransition(loaded, req, fingerprint);
    const { patch } = loaded;
    if (!action.roles.includes(req.actor.role)) {
      throw new ContractError('forbidden', `role ${req.actor.role} may not ${action.name}`, {
        role: req.actor.role,
        allowedRoles: action.roles,
      });
    }
    if (!action.from.includes(patch.status)) {
      throw new ContractError('invalid_transition', `${action.name} is not allowed from ${patch.status}`, {
        currentStatus: patch.status,
        currentVersion: patch.version,
        allowedActions: lifecycle.allowedActions(patch.status),
      });
    }
    if (req.expectedVersion !== undefined && req.expectedVersion !== patch.version) {
      throw versionConflict(patch.version, patch.status);
    }
    const work = buildWork(patch, req, action.to);
    const committed = await this.ports.transitions.commit({
      work,
      fromVersion: patch.version,
      idempotencyKey: key,
      requestFingerprint: fingerprint,
    });
    if (!committed) return this.afterLostRace(req, fingerprint);
    this.ports.logger.info(
      { patchId: patch.id, transitionId: work.transition.id, workId: work.workId, action: action.name, to: action.to },
      'transition committed',
    );
    this.ports.onCommitted(work);
    return { patch: work.patch, transition: work.transition, replayed: false };
  }

  /** Another transition committed between our read and our write: report where the patch is now. */
  private async afterLostRace(req: TransitionRequest, fingerprint: string | null): Promise<TransitionResult> {
    const now = await this.ports.transitions.load(req.patchId, req.idempotencyKey ?? null);
    if (!now) throw notFound(req.patchId);
    // The winner may have been this very request, sent twice with one key.
    if (now.earlier) return replayTransition(now, req, fingerprint);
    throw versionConflict(now.patch.version, now.patch.status);
  }
}

/**
 * A transition key is unique per patch (not per caller: the patch is shared, and the key names
 * one change to it). It replays only for the caller that used it, with the same request.
 */
function replayTransition(loaded: Loaded, req: TransitionRequest, fingerprint: string | null): TransitionResult {
  const earlier = loaded.earlier!;
  const same =
    loaded.earlierFingerprint !== null
      ? loaded.earlierFingerprint === fingerprint
      : // Committed before fingerprints were stored: the caller and the action must match.
        earlier.transition.actor === req.actor.name && earlier.transition.action === req.action;
  if (!same) throw keyReused();
  return { patch: earlier.patch, transition: earlier.transition, replayed: true };
}

/** The earlier create with this key: its caller's same request replays, anything else is refused. */
function replayCreate(earlier: Patch, actor: string, fingerprint: string | null): CreatePatchResult {
  if (earlier.createdBy !== actor) throw keyReused();
  // Older rows have no fingerprint: the caller alone decides.
  if (earlier.idempotencyFingerprint !== null && earlier.idempotencyFingerprint !== fingerprint) throw keyReused();
  return { patch: toPatchView(earlier), replayed: true };
}

/**
 * The successor workflow will name this patch's successor `nextPatchName(name)`; a name whose
 * successor would not itself be a valid name (longer than the limit: `…999` of the maximum length)
 * is refused now, naming `name`, instead of failing the workflow at the next startDeployment.
 */
function refuseNameWithoutSuccessor(name: string): void {
  const successor = CreatePatchRequest.shape.name.safeParse(nextPatchName(name));
  if (successor.success) return;
  const why = successor.error.issues.map((i) => i.message).join('; ');
  throw ContractError.validation([
    { path: 'name', message: `its successor's name (the last number bumped by one) would be invalid: ${why}` },
  ]);
}

function keyReused(): ContractError {
  // Says neither who used the key nor for what: the key is the only thing the callers share.
  return new ContractError('idempotency_key_reused', 'idempotencyKey was already used for a different request', {
    field: 'idempotencyKey',
  });
}

/** The work item (transition and the patch as it leaves it) of applying `req` to `patch`. */
export function buildWork(patch: Patch, req: TransitionRequest, to: Patch['status']): WorkItem {
  const at = new Date();
  const transitionId = randomUUID();
  const workId = randomUUID();
  const after = toPatchView({ ...patch, status: to, version: patch.version + 1, updatedAt: at });
  return {
    workId,
    transition: {
      id: transitionId,
      patchId: patch.id,
      action: req.action,
      fromStatus: patch.status,
      toStatus: to,
      actor: req.actor.name,
      reason: req.reason ?? null,
      patchVersion: patch.version + 1,
      workId,
      createdAt: at.toISOString(),
    },
    patch: after,
    workflows: [...workflowsFor(req.action)],
    ...traceOfWork(),
  };
}

/** The current trace (the transition's span) as the work item carries it. */
function traceOfWork(): Pick<WorkItem, 'trace'> {
  const t = currentTrace();
  return t ? { trace: { traceparent: formatTraceparent(t), correlationId: t.correlationId } } : {};
}

function notFound(id: string): ContractError {
  return new ContractError('not_found', `patch ${id} does not exist`, { id });
}

function versionConflict(currentVersion: number, currentStatus: Patch['status']): ContractError {
  return new ContractError('version_conflict', `patch is at version ${currentVersion} (${currentStatus})`, {
    currentVersion,
    currentStatus,
  });
}
