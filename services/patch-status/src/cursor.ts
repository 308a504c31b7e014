import { ContractError, type PatchSort } from '@patchflow/contracts';

/**
 * List paging cursor: the sort it was issued for and the (sort key, id) of the last item of the
 * previous page, opaque to callers. A cursor of another sort (or a filter's page) is refused,
 * not misread: keyset pagination needs the same order on every page.
 */
export function encodeCursor(sort: PatchSort, key: Date, id: string): string {
  return Buffer.from(`${sort}|${key.toISOString()}|${id}`).toString('base64url');
}

export function decodeCursor(cursor: string, sort: PatchSort): { key: Date; id: string } {
  const [issuedFor, at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const key = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(key.getTime()) || (issuedFor !== 'updated' && issuedFor !== 'created')) {
    throw ContractError.validation([{ path: 'cursor', message: 'not a cursor returned by this API' }]);
  }
  if (issuedFor !== sort) {
    throw ContractError.validation([{ path: 'cursor', message: `issued for sort=${issuedFor}, not sort=${sort}` }]);
  }
  return { key, id };
}
