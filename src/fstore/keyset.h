/*
 * keyset.h — a hash set of row keys (the values of some columns of a row)
 * over rows of several tables with the same schema: duplicate detection in
 * an insert, and "latest row per key wins" when commits are merged on read.
 * Open addressing with linear probing on a power-of-two table; entries hold
 * the key's hash and where the row lives, and equal hashes are confirmed
 * by comparing the cells, so collisions never merge distinct keys.
 */
#ifndef FSTORE_KEYSET_H
#define FSTORE_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/table.h"

struct keyset {
  const struct table *const *tables;  /* borrowed */
  const int *cols;                    /* key column indexes, borrowed */
  size_t ncols;
  struct keyset_entry {
    uint64_t hash;
    uint32_t table;                   /* UINT32_MAX: empty */
    uint32_t row;
  } *slots;
  size_t cap, n;
};

void keyset_init(struct keyset *k, const struct table *const *tables, const int *cols, size_t ncols, size_t expect);
void keyset_release(struct keyset *k);
uint64_t keyset_hash(const struct keyset *k, size_t table, size_t row);
/*
 * Adds the key of (table, row) unless an equal key is present. Returns
 * true when added; otherwise false, with found_table and found_row (may be
 * NULL) naming the row that holds it.
 */
bool keyset_add(struct keyset *k, size_t table, size_t row, size_t *found_table, size_t *found_row);
/* Whether the key of (table, row) is present (without adding it). */
bool keyset_has(const struct keyset *k, size_t table, size_t row);

#endif
