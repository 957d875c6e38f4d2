// pitjoin_duckdb.mjs — the peer of bench/pitjoin.sh: loads the Parquet
// files pitjoin_bench wrote into in-memory DuckDB tables (not timed), then
// times the same point-in-time join as DuckDB's ASOF LEFT JOIN of the
// labels against both feature groups, materialized into a table, RUNS
// times, and prints one JSON line with the times and the same checksum
// as pitjoin_bench (matched rows and sums of f1 and g1).
//
//   node bench/pitjoin_duckdb.mjs DIR RUNS
//
// DuckDB comes from @duckdb/node-api in tests/.tools (tests/tools/duckdb-setup.sh).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tools = process.env.OAST_NODE_TOOLS || path.resolve(here, '..', 'tests', '.tools');
const require = createRequire(path.join(tools, 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

const [dir, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 1);
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
for (const t of ['labels', 'fg1', 'fg2'])
  await con.run(`CREATE TABLE ${t} AS SELECT * FROM read_parquet('${path.join(dir, t + '.parquet')}')`);
const threads = (await con.runAndReadAll("SELECT current_setting('threads')")).getRows()[0][0];
const times = [];
for (let r = 0; r < runs; r++) {
  await con.run('DROP TABLE IF EXISTS joined');
  const t0 = process.hrtime.bigint();
  await con.run(`CREATE TABLE joined AS
    SELECT l.id, l.ts, l.label1, a.f1, a.f2, a.f3, a.f4, a.f5, b.g1, b.g2, b.g3, b.g4, b.g5
    FROM labels l
    ASOF LEFT JOIN fg1 a ON l.id = a.id AND l.ts >= a.ts
    ASOF LEFT JOIN fg2 b ON l.id = b.id AND l.ts >= b.ts`);
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
const sums = (await con.runAndReadAll(
  'SELECT count(f1), count(g1), coalesce(sum(f1), 0), coalesce(sum(g1), 0), count(*) FROM joined')).getRows()[0];
process.stdout.write(JSON.stringify({
  threads: Number(threads), times_s: times, rows: Number(sums[4]), matched_fg1: Number(sums[0]),
  matched_fg2: Number(sums[1]), sum_f1: Number(sums[2]), sum_g1: Number(sums[3]),
}) + '\n');
