/* keyset.c — hash set of row keys across tables (see keyset.h). */
#include "fstore/keyset.h"

#include <string.h>

#include "fstore/hll.h"
#include "util/alloc.h"

void keyset_init(struct keyset *k, const struct table *const *tables, const int *cols, size_t ncols, size_t expect) {
  k->tables = tables;
  k->cols = cols;
  k->ncols = ncols;
  k->cap = 16;
  while (k->cap < expect * 2) k->cap *= 2;
  k->slots = xmalloc(k->cap * sizeof *k->slots);
  for (size_t i = 0; i < k->cap; i++) k->slots[i].table = UINT32_MAX;
  k->n = 0;
}

void keyset_release(struct keyset *k) {
  free(k->slots);
  k->slots = NULL;
  k->cap = k->n = 0;
}

uint64_t keyset_hash(const struct keyset *k, size_t table, size_t row) {
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (size_t c = 0; c < k->ncols; c++) {
    h ^= hll_hash_cell(&k->tables[table]->cols[k->cols[c]], row) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  }
  return h;
}

static bool same(const struct keyset *k, size_t ta, size_t ra, size_t tb, size_t rb) {
  for (size_t c = 0; c < k->ncols; c++)
    if (!hll_cell_equal(&k->tables[ta]->cols[k->cols[c]], ra, &k->tables[tb]->cols[k->cols[c]], rb)) return false;
  return true;
}

static void grow(struct keyset *k) {
  struct keyset_entry *old = k->slots;
  size_t oldcap = k->cap;
  k->cap *= 2;
  k->slots = xmalloc(k->cap * sizeof *k->slots);
  for (size_t i = 0; i < k->cap; i++) k->slots[i].table = UINT32_MAX;
  for (size_t i = 0; i < oldcap; i++) {
    if (old[i].table == UINT32_MAX) continue;
    size_t j = old[i].hash & (k->cap - 1);
    while (k->slots[j].table != UINT32_MAX) j = (j + 1) & (k->cap - 1);
    k->slots[j] = old[i];
  }
  free(old);
}

bool keyset_add(struct keyset *k, size_t table, size_t row, size_t *found_table, size_t *found_row) {
  if ((k->n + 1) * 2 > k->cap) grow(k);
  uint64_t h = keyset_hash(k, table, row);
  size_t j = h & (k->cap - 1);
  while (k->slots[j].table != UINT32_MAX) {
    if (k->slots[j].hash == h && same(k, k->slots[j].table, k->slots[j].row, table, row)) {
      if (found_table) *found_table = k->slots[j].table;
      if (found_row) *found_row = k->slots[j].row;
      return false;
    }
    j = (j + 1) & (k->cap - 1);
  }
  k->slots[j].hash = h;
  k->slots[j].table = (uint32_t)table;
  k->slots[j].row = (uint32_t)row;
  k->n++;
  return true;
}

bool keyset_has(const struct keyset *k, size_t table, size_t row) {
  uint64_t h = keyset_hash(k, table, row);
  size_t j = h & (k->cap - 1);
  while (k->slots[j].table != UINT32_MAX) {
    if (k->slots[j].hash == h && same(k, k->slots[j].table, k->slots[j].row, table, row)) return true;
    j = (j + 1) & (k->cap - 1);
  }
  return false;
}
