/*
 * online.h — the online feature store: the latest row of every primary
 * key of online-enabled feature groups, in LMDB, for lookups in
 * microseconds.
 *
 * Layout: one LMDB environment at <home>/online with one database. A row
 * lives at key  [fg id: 8 bytes big-endian][encoded primary key]  and its
 * value is the encoded row (every feature, nulls included). A marker at
 * key [fg id][0xFF 'c'] holds the id of the last offline commit applied,
 * written in the same LMDB transaction as the rows, so the online store
 * always says exactly which offline commit it reflects; at start the
 * server compares it with the offline store and rebuilds a group whose
 * marker disagrees.
 *
 * Encoding of a value (also of key parts): a type-tagged, length-prefixed
 * sequence, so keys of different types never collide and decoding needs
 * no schema. Integers of all widths encode the same way, so a lookup with
 * a JSON number finds an int or bigint key.
 */
#ifndef FSTORE_ONLINE_H
#define FSTORE_ONLINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/table.h"
#include "oast/error.h"
#include "util/buf.h"

struct online;

/* Opens (creating) the store in dir. map_size: bytes of address space to reserve (0: 16 GiB). */
int online_open(struct online **out, const char *dir, size_t map_size, oast_err *e);
void online_free(struct online *o);

/*
 * Writes the rows of t (the group's full schema) for group fg_id and sets
 * its marker to commit_id, in one transaction. pk: column indexes of the
 * primary key. Later rows win over earlier ones with the same key.
 */
int online_apply(struct online *o, int64_t fg_id, const struct table *t, const int *pk, size_t npk, int64_t commit_id,
                 oast_err *e);
/*
 * online_apply for a group with an event time (column index event_time,
 * -1 for none): a key keeps the row with the latest event time, whether
 * the other row is in t or already stored; on a tie the row of t (the
 * later in t) wins. So the store holds each key's latest row by event
 * time, whatever order commits arrive in.
 */
int online_apply_latest(struct online *o, int64_t fg_id, const struct table *t, const int *pk, size_t npk,
                        int event_time, int64_t commit_id, oast_err *e);
/* Removes every row and the marker of a group (before a rebuild, or when it is deleted). */
int online_drop(struct online *o, int64_t fg_id, oast_err *e);
/* The commit the group's rows reflect; 0 when it has none. */
int64_t online_marker(struct online *o, int64_t fg_id);

/*
 * Looks up one row by its primary key values given as JSON (in pk order).
 * On a hit, appends the row's values as JSON to *row (a new array, caller
 * decrefs) in schema order; on a miss *row is NULL and 0 is returned.
 * A key value of the wrong JSON type for its column is a 400.
 */
int online_get(struct online *o, int64_t fg_id, const struct table *schema, const int *pk, size_t npk,
               json_t *const *key, json_t **row, oast_err *e);

/*
 * Raw reads, for lookups that answer many keys at once (feature vectors):
 * a snapshot is one LMDB read transaction; rows come back in their stored
 * encoding, whose cells can be turned into JSON text or used as key bytes
 * of another lookup (a cell and a key part of equal value encode the same).
 */
struct online_snap;
int online_snap_begin(struct online *o, struct online_snap **out, oast_err *e);
/* Ends the snapshot; the rows it gave are invalid afterwards. NULL is allowed. */
void online_snap_end(struct online_snap *s);
/* The encoded row of group fg_id whose encoded primary key is key[0..klen); *row NULL when absent. */
int online_snap_get(struct online_snap *s, int64_t fg_id, const void *key, size_t klen, const void **row, size_t *len,
                    oast_err *e);
/* The bytes of cell col of an encoded row into *cell, *n; -1 when the row is shorter or corrupt. */
int online_cell(const void *row, size_t len, size_t col, const void **cell, size_t *n);
/* Whether an encoded cell is a null. */
bool online_cell_is_null(const void *cell, size_t n);
/* Appends the JSON text of an encoded cell (null, a number, true/false, a string; times as ISO-8601 strings). */
void online_cell_json(const void *cell, size_t n, struct buf *out);

/* Key encoding, exposed for tests: appends the encoding of one JSON key value for a column type. */
int online_encode_json(struct buf *b, enum ftype t, json_t *v, oast_err *e);

#endif
