import type { z } from 'zod';
import {
  CreatePatchRequest,
  CreatePatchResult,
  GetPatchRequest,
  GetPatchResult,
  ListPatchesRequest,
  ListPatchesResult,
  PatchHistoryRequest,
  PatchHistoryResult,
  TransitionRequest,
  TransitionResult,
} from './patch-messages.js';
import type { Topology } from './topology.js';

/** A request-reply endpoint: where it listens and what goes in and out. */
export interface Endpoint<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  subject: (t: Topology) => string;
  request: Req;
  result: Res;
}

/** An endpoint with its request and result schemas typed together (every catalog builds on it). */
export function endpoint<Req extends z.ZodType, Res extends z.ZodType>(e: Endpoint<Req, Res>): Endpoint<Req, Res> {
  return e;
}

/** patch-status's request-reply API. */
export const patchEndpoints = {
  create: endpoint({ subject: (t) => t.subjects.patchCreate, request: CreatePatchRequest, result: CreatePatchResult }),
  get: endpoint({ subject: (t) => t.subjects.patchGet, request: GetPatchRequest, result: GetPatchResult }),
  list: endpoint({ subject: (t) => t.subjects.patchList, request: ListPatchesRequest, result: ListPatchesResult }),
  transition: endpoint({
    subject: (t) => t.subjects.patchTransition,
    request: TransitionRequest,
    result: TransitionResult,
  }),
  history: endpoint({ subject: (t) => t.subjects.patchHistory, request: PatchHistoryRequest, result: PatchHistoryResult }),
} as const;

export type RequestOf<E extends Endpoint> = z.input<E['request']>;
export type ResultOf<E extends Endpoint> = z.infer<E['result']>;
