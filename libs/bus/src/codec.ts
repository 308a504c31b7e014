import type { z } from 'zod';
import { ContractError, fieldProblems } from '@patchflow/contracts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/**
 * Decodes a message body and validates it with a contract schema. Throws a `validation_failed`
 * ContractError naming the fields (or `(message)` when the body is not JSON at all).
 */
export function decodeWith<S extends z.ZodType>(schema: S, data: Uint8Array, what: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch {
    throw ContractError.validation([{ path: '(message)', message: 'body is not valid JSON' }], what);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw ContractError.validation(fieldProblems(parsed.error), what);
  return parsed.data;
}
