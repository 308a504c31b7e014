import { ContractError } from '@patchflow/contracts';

/** List paging cursor: the (createdAt, id) of the last item of the previous page, opaque to callers. */
export function encodeCursor(last: { createdAt: Date; id: string }): string {
  return Buffer.from(`${last.createdAt.toISOString()}|${last.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(createdAt.getTime())) {
    throw ContractError.validation([{ path: 'cursor', message: 'not a cursor returned by this API' }]);
  }
  return { createdAt, id };
}
