// node-postgres through a node: a parameterized query, a transaction that
// commits and one that rolls back.  Prints one "ok NAME" line per check.
const { Client } = require('./node/node_modules/pg');

async function main() {
  const c = new Client({ host: '127.0.0.1', port: +process.argv[2], user: 'postgres', database: 'postgres' });
  await c.connect();
  const r = await c.query('SELECT $1::int + $2::int AS s, $3::text AS t', [40, 2, 'héllo']);
  if (r.rows[0].s === 42 && r.rows[0].t === 'héllo') console.log('ok parameterized');
  await c.query('CREATE TEMP TABLE nt (id int)');
  await c.query('BEGIN');
  await c.query('INSERT INTO nt VALUES ($1)', [1]);
  await c.query('COMMIT');
  await c.query('BEGIN');
  await c.query('INSERT INTO nt VALUES ($1)', [2]);
  await c.query('ROLLBACK');
  const n = await c.query('SELECT array_agg(id) AS a FROM nt');
  if (JSON.stringify(n.rows[0].a) === '[1]') console.log('ok transaction');
  try { await c.query('SELECT $1::int', ['x']); } catch (e) { if (e.code === '22P02') console.log('ok error code'); }
  const again = await c.query('SELECT 1 AS one');
  if (again.rows[0].one === 1) console.log('ok after error');
  await c.end();
}
main().catch((e) => { console.log('error ' + e.message); process.exit(1); });
