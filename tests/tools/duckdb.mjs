// duckdb.mjs — runs SQL statements in an in-memory DuckDB and prints the
// rows of the last one as JSON arrays, one per line, so tests written in
// any language can compare DuckDB's view of a Parquet file with ours.
//
//   node tests/tools/duckdb.mjs "SQL" ["SQL" ...]
//
// DuckDB comes from @duckdb/node-api installed by tests/tools/duckdb-setup.sh
// into tests/.tools (or the folder in OAST_NODE_TOOLS). Value forms:
// integers of any width as exact JSON numbers, floats as the shortest
// decimal that reads back the same ("-0.0" keeps its sign; "NaN",
// "Infinity", "-Infinity" are strings), strings and booleans as JSON,
// anything else as its DuckDB text form in a JSON string.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tools = process.env.OAST_NODE_TOOLS || path.resolve(here, '..', '.tools');
const require = createRequire(path.join(tools, 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

function value(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '"NaN"';
    if (v === Infinity) return '"Infinity"';
    if (v === -Infinity) return '"-Infinity"';
    if (Object.is(v, -0)) return '-0.0';
    return String(v);
  }
  if (typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  return JSON.stringify(String(v));
}

const statements = process.argv.slice(2);
if (statements.length === 0) {
  process.stderr.write('usage: node duckdb.mjs SQL [SQL ...]\n');
  process.exit(2);
}
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
let reader = null;
for (const sql of statements) reader = await con.runAndReadAll(sql);
const out = [];
for (const row of reader.getRows()) out.push('[' + row.map(value).join(', ') + ']');
process.stdout.write(out.length ? out.join('\n') + '\n' : '');
