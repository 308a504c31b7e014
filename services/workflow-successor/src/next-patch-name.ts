// The naming rule lives in contracts (patch-status checks at create that a name's successor is
// valid); re-exported here so the workflow's imports stay as they were.
export { nextPatchName } from '@patchflow/contracts';
