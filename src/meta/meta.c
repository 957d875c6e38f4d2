/* meta.c — SQLite connections per thread, statement cache, migrations (see meta.h). */
#include "meta/meta.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "util/log.h"

#define STMT_CACHE 64

struct conn {
  sqlite3 *db;
  struct {
    const char *sql;
    sqlite3_stmt *st;
  } cache[STMT_CACHE];
  int ncache;
  struct conn *next, *prev;
  struct meta *owner;
};

struct meta {
  char *path;
  pthread_key_t key;
  pthread_mutex_t lock;  /* guards the list of connections */
  struct conn *conns;
};

static void conn_close(struct conn *c) {
  for (int i = 0; i < c->ncache; i++) sqlite3_finalize(c->cache[i].st);
  sqlite3_close(c->db);
  free(c);
}

static void conn_unlink(struct meta *m, struct conn *c) {
  pthread_mutex_lock(&m->lock);
  if (c->prev) c->prev->next = c->next;
  else m->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  pthread_mutex_unlock(&m->lock);
}

static void thread_exit(void *p) {
  struct conn *c = p;
  conn_unlink(c->owner, c);
  conn_close(c);
}

static struct conn *conn_open(struct meta *m, oast_err *e) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(m->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    oast_err_set(e, OAST_EIO, "cannot open the metadata database %s: %s", m->path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
               "PRAGMA temp_store=MEMORY;",
               NULL, NULL, NULL);
  struct conn *c = xcalloc(1, sizeof *c);
  c->db = db;
  c->owner = m;
  pthread_mutex_lock(&m->lock);
  c->next = m->conns;
  if (m->conns) m->conns->prev = c;
  m->conns = c;
  pthread_mutex_unlock(&m->lock);
  return c;
}

static struct conn *this_conn(struct meta *m) {
  struct conn *c = pthread_getspecific(m->key);
  if (c) return c;
  oast_err e;
  c = conn_open(m, &e);
  if (!c) {
    log_error("%s", e.msg);
    abort();
  }
  pthread_setspecific(m->key, c);
  return c;
}

sqlite3 *meta_db(struct meta *m) { return this_conn(m)->db; }

sqlite3_stmt *meta_stmt(struct meta *m, const char *sql) {
  struct conn *c = this_conn(m);
  for (int i = 0; i < c->ncache; i++)
    if (c->cache[i].sql == sql) {
      sqlite3_reset(c->cache[i].st);
      sqlite3_clear_bindings(c->cache[i].st);
      return c->cache[i].st;
    }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    log_error("cannot prepare SQL: %s: %s", sqlite3_errmsg(c->db), sql);
    return NULL;
  }
  if (c->ncache < STMT_CACHE) {
    c->cache[c->ncache].sql = sql;
    c->cache[c->ncache].st = st;
    c->ncache++;
  } else {
    /* Evict the oldest entry; the cache only fills if callers pass dynamic SQL. */
    sqlite3_finalize(c->cache[0].st);
    memmove(&c->cache[0], &c->cache[1], sizeof c->cache[0] * (STMT_CACHE - 1));
    c->cache[STMT_CACHE - 1].sql = sql;
    c->cache[STMT_CACHE - 1].st = st;
  }
  return st;
}

static void vbind(sqlite3_stmt *st, const char *types, va_list ap) {
  int idx = 1;
  for (const char *t = types; t && *t; t++, idx++) {
    switch (*t) {
      case 'i': sqlite3_bind_int64(st, idx, va_arg(ap, int64_t)); break;
      case 'd': sqlite3_bind_double(st, idx, va_arg(ap, double)); break;
      case 's': {
        const char *s = va_arg(ap, const char *);
        if (s) sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(st, idx);
        break;
      }
      case 'n': sqlite3_bind_null(st, idx); break;
      default: break;
    }
  }
}

sqlite3_stmt *meta_bind(sqlite3_stmt *st, const char *types, ...) {
  if (!st) return NULL;
  va_list ap;
  va_start(ap, types);
  vbind(st, types, ap);
  va_end(ap);
  return st;
}

int meta_error(struct meta *m, int rc, oast_err *e, const char *what) {
  const char *msg = sqlite3_errmsg(meta_db(m));
  int base = rc & 0xff;
  if (base == SQLITE_CONSTRAINT) return oast_err_set(e, OAST_ECONFLICT, "%s conflicts with existing data", what);
  if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
    return oast_err_set(e, OAST_EUNAVAILABLE, "the metadata store is busy; try again (%s)", what);
  log_error("metadata error during %s: %s", what, msg);
  return oast_err_set(e, OAST_EINTERNAL, "metadata error during %s", what);
}

int meta_exec(struct meta *m, oast_err *e, const char *sql, const char *types, ...) {
  sqlite3_stmt *st = meta_stmt(m, sql);
  if (!st) return oast_err_set(e, OAST_EINTERNAL, "internal error preparing a query");
  va_list ap;
  va_start(ap, types);
  vbind(st, types, ap);
  va_end(ap);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return meta_error(m, rc, e, "an update");
  return 0;
}

int meta_changes(struct meta *m) { return sqlite3_changes(meta_db(m)); }
int64_t meta_last_id(struct meta *m) { return sqlite3_last_insert_rowid(meta_db(m)); }

int meta_begin(struct meta *m, oast_err *e) {
  int rc = sqlite3_exec(meta_db(m), "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return meta_error(m, rc, e, "begin");
  return 0;
}

int meta_begin_read(struct meta *m) {
  sqlite3_stmt *st = meta_stmt(m, "BEGIN DEFERRED");
  int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
  if (st) sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

void meta_end_read(struct meta *m) {
  if (sqlite3_get_autocommit(meta_db(m))) return;
  sqlite3_stmt *st = meta_stmt(m, "ROLLBACK");
  if (st) {
    sqlite3_step(st);
    sqlite3_reset(st);
  }
}

int meta_commit(struct meta *m, oast_err *e) {
  int rc = sqlite3_exec(meta_db(m), "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    int r = meta_error(m, rc, e, "commit");
    meta_rollback(m);
    return r;
  }
  return 0;
}

void meta_rollback(struct meta *m) {
  if (!sqlite3_get_autocommit(meta_db(m))) sqlite3_exec(meta_db(m), "ROLLBACK", NULL, NULL, NULL);
}

int64_t meta_now(void) { return (int64_t)time(NULL); }

int64_t meta_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void meta_time_iso(int64_t t, char out[32]) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int migrate(struct meta *m, oast_err *e) {
  sqlite3 *db = meta_db(m);
  sqlite3_stmt *st;
  int version = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  if (version > meta_migrations_count)
    return oast_err_set(e, OAST_EINTERNAL,
                        "the metadata database is at schema version %d, newer than this oast (%d); "
                        "use a newer oast",
                        version, meta_migrations_count);
  for (int i = version; i < meta_migrations_count; i++) {
    char *err = NULL;
    char *sql = xasprintf("BEGIN IMMEDIATE; %s; PRAGMA user_version = %d; COMMIT;", meta_migrations[i].sql, i + 1);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    free(sql);
    if (rc != SQLITE_OK) {
      oast_err_set(e, OAST_EINTERNAL, "migration %d (%s) failed: %s", i + 1, meta_migrations[i].name,
                   err ? err : sqlite3_errstr(rc));
      sqlite3_free(err);
      meta_rollback(m);
      return e ? e->code : OAST_EINTERNAL;
    }
    log_info("metadata: applied migration %d (%s)", i + 1, meta_migrations[i].name);
  }
  return 0;
}

int meta_open(struct meta **out, const char *path, oast_err *e) {
  struct meta *m = xcalloc(1, sizeof *m);
  m->path = xstrdup(path);
  pthread_mutex_init(&m->lock, NULL);
  pthread_key_create(&m->key, thread_exit);
  struct conn *c = conn_open(m, e);
  if (!c) {
    meta_free(m);
    return e ? e->code : OAST_EIO;
  }
  pthread_setspecific(m->key, c);
  int rc = migrate(m, e);
  if (rc) {
    meta_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

void meta_free(struct meta *m) {
  if (!m) return;
  pthread_setspecific(m->key, NULL);
  pthread_mutex_lock(&m->lock);
  struct conn *c = m->conns;
  m->conns = NULL;
  pthread_mutex_unlock(&m->lock);
  while (c) {
    struct conn *n = c->next;
    conn_close(c);
    c = n;
  }
  pthread_key_delete(m->key);
  pthread_mutex_destroy(&m->lock);
  free(m->path);
  free(m);
}
