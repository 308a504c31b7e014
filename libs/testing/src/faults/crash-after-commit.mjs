// Test-only fault injector, loaded into a service process with `node --import` (see
// `ServiceProcess.start(entry, env, { imports: [faultInjectors.crashAfterCommit] })`). It is never
// part of a service: production code carries no fault hook.
//
// It wraps pg's Client#query. When one of patch-status's transition write statements (named
// prepared statements in services/patch-status/src/transition-store.ts) has committed — pg calls
// back on ReadyForQuery, after the implicit transaction of the single statement committed — and
// wrote a row, the process kills itself with SIGKILL before anyone sees the result: the
// transition is in Postgres, its work is not yet published. Exactly the crash the outbox relay
// must recover from.
import { writeSync } from 'node:fs';
import pg from 'pg';

/** The statements that commit a transition and its outbox row (single and batched). */
const statements = new Set(['transition-commit', 'transition-commit-many']);

function crash(name) {
  // Synchronous, so the line is out before the signal lands.
  writeSync(2, `fault point crash-after-commit: "${name}" committed, SIGKILL before publish\n`);
  process.kill(process.pid, 'SIGKILL');
}

const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, values, callback) {
  const name = config && typeof config === 'object' ? config.name : undefined;
  if (!statements.has(name)) return query.call(this, config, values, callback);
  const afterCommit = (res) => {
    if (res && res.rowCount > 0) crash(name);
  };
  const cb = typeof values === 'function' ? values : callback;
  if (typeof cb === 'function') {
    const wrapped = (err, res) => {
      if (!err) afterCommit(res);
      cb(err, res);
    };
    return typeof values === 'function' ? query.call(this, config, wrapped) : query.call(this, config, values, wrapped);
  }
  return query.call(this, config, values).then((res) => {
    afterCommit(res);
    return res;
  });
};
