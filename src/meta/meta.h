/*
 * meta.h — the metadata store: one SQLite database in WAL mode.
 *
 * Each thread gets its own connection (created on first use and closed
 * when the thread ends or the store is freed), so HTTP pool threads read
 * in parallel while SQLite serializes the single writer; a busy timeout
 * absorbs short write contention. Statements are prepared once per
 * connection and cached by their SQL text's address, so the hot routes
 * do no parsing.
 *
 * Schema changes are an ordered table of migrations (migrations.c); the
 * database's user_version records how many have run, and each runs in its
 * own transaction, so a crash mid-upgrade leaves a consistent database
 * that the next start upgrades further.
 *
 * Writes that belong together use meta_begin/meta_commit (BEGIN
 * IMMEDIATE), so no operation is half-applied.
 */
#ifndef META_META_H
#define META_META_H

#include <sqlite3.h>
#include <stdint.h>

#include "oast/error.h"

struct meta;

int meta_open(struct meta **out, const char *path, oast_err *e);
void meta_free(struct meta *m);

/* This thread's connection. */
sqlite3 *meta_db(struct meta *m);
/*
 * A cached prepared statement for sql (which must be a string literal or
 * otherwise live forever: the cache keys on its address), reset and with
 * bindings cleared. NULL on a prepare error (logged; a programming error).
 */
sqlite3_stmt *meta_stmt(struct meta *m, const char *sql);
/*
 * Binds values by a type string: 'i' int64, 's' text (NULL → SQL NULL),
 * 'd' double, 'n' SQL NULL (no argument consumed). Returns the statement.
 */
sqlite3_stmt *meta_bind(sqlite3_stmt *st, const char *types, ...);
/* Prepares, binds and steps a statement that returns no rows. */
int meta_exec(struct meta *m, oast_err *e, const char *sql, const char *types, ...);
/* Changes made by the last statement on this thread's connection. */
int meta_changes(struct meta *m);
int64_t meta_last_id(struct meta *m);

int meta_begin(struct meta *m, oast_err *e);
/* A deferred read transaction (no lock until the first read) and its end; prepared once per thread. */
int meta_begin_read(struct meta *m);
void meta_end_read(struct meta *m);
int meta_commit(struct meta *m, oast_err *e);
void meta_rollback(struct meta *m);

/* Maps a SQLite result code to an oast error (constraint → conflict, busy → unavailable). */
int meta_error(struct meta *m, int rc, oast_err *e, const char *what);

/* Seconds and the ISO-8601 UTC text of a time, for created/modified columns. */
int64_t meta_now(void);
int64_t meta_now_us(void); /* microseconds since the epoch */
void meta_time_iso(int64_t t, char out[32]);

/* The migration table, applied in order by meta_open. */
struct migration {
  const char *name;
  const char *sql;
};
extern const struct migration meta_migrations[];
extern const int meta_migrations_count;

#endif
