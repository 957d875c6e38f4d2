/*
 * pqtool.c — a test helper around Oast's Parquet codec, so integration
 * tests can check our files against an independent reader (DuckDB) and
 * check our reader against an independent writer. Built by `make
 * build/pqtool`; not part of the oast binary.
 *
 *   pqtool write OUT --schema a:int,b:string,... [--codec C] [--rg-rows N]
 *          [--page-bytes N] [--dict auto|never|always] [--required a,b]
 *          [--kv key=value]... < rows.tsv
 *     Rows on stdin, tab-separated; \N is a null, and \\ \t \n escape a
 *     backslash, tab and newline in strings. Numbers are written as C reads
 *     them (strtoll/strtod), booleans as true/false, timestamps as integer
 *     microseconds since the epoch, dates as integer days.
 *   pqtool dump FILE [--columns a,b] [--row-group N]
 *     One JSON array per row; the first line describes the columns. The
 *     value forms are those `write` reads (floats as shortest round-trip
 *     decimals, "NaN"/"Infinity"/"-Infinity" as strings).
 *   pqtool stats FILE
 *     One JSON object: row count, row groups, and per column the merged
 *     footer statistics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/parquet/parquet.h"
#include "util/alloc.h"

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "pqtool: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(2);
}

/* Splits s at commas into a NULL-terminated array (s is modified). */
static char **split(char *s, size_t *n) {
  size_t cap = 8;
  char **v = xcalloc(cap, sizeof *v);
  *n = 0;
  for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
    if (*n + 1 >= cap) {
      cap *= 2;
      v = xreallocarray(v, cap, sizeof *v);
    }
    v[(*n)++] = tok;
  }
  v[*n] = NULL;
  return v;
}

static size_t unescape(char *s, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\\' && i + 1 < n) {
      char c = s[++i];
      s[o++] = c == 't' ? '\t' : c == 'n' ? '\n' : c;
    } else {
      s[o++] = s[i];
    }
  }
  return o;
}

static void append_field(struct column *c, char *s, size_t n, size_t line) {
  if (n == 2 && s[0] == '\\' && s[1] == 'N') {
    column_append_null(c);
    return;
  }
  char *end;
  errno = 0;
  switch (c->type) {
    case FT_INT: case FT_DATE: column_append_i32(c, (int32_t)strtol(s, &end, 10)); break;
    case FT_BIGINT: case FT_TIMESTAMP: column_append_i64(c, strtoll(s, &end, 10)); break;
    case FT_FLOAT: column_append_f32(c, strtof(s, &end)); break;
    case FT_DOUBLE: column_append_f64(c, strtod(s, &end)); break;
    case FT_BOOLEAN: column_append_bool(c, n && (s[0] == 't' || s[0] == '1')); end = s + n; break;
    case FT_STRING: column_append_str(c, s, unescape(s, n)); end = s + n; break;
    default: end = s;
  }
  if (end != s + n) {
    fprintf(stderr, "pqtool: line %zu, column \"%s\": cannot read \"%.*s\"\n", line, c->name, (int)n, s);
    exit(2);
  }
}

static int cmd_write(int argc, char **argv) {
  if (argc < 1) die("%s", "write needs an output path");
  const char *out = argv[0];
  char *schema = NULL, *required = NULL;
  struct pq_write_opts o;
  pq_write_opts_init(&o);
  struct pq_kv kv[16];
  size_t nkv = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) die("option %s needs a value", a);
    i++;
    if (!strcmp(a, "--schema")) schema = xstrdup(v);
    else if (!strcmp(a, "--codec")) {
      int c = pq_codec_from_name(v);
      if (c < 0) die("unknown codec %s", v);
      o.codec = (enum pq_codec)c;
    } else if (!strcmp(a, "--rg-rows")) o.row_group_rows = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--page-bytes")) o.page_bytes = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--dict-max-bytes")) o.dict_max_bytes = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--dict")) o.dict = !strcmp(v, "never") ? PQ_DICT_NEVER : !strcmp(v, "always") ? PQ_DICT_ALWAYS : PQ_DICT_AUTO;
    else if (!strcmp(a, "--required")) required = xstrdup(v);
    else if (!strcmp(a, "--kv") && nkv < 16) {
      char *k = xstrdup(v), *eq = strchr(k, '=');
      if (eq) *eq++ = 0;
      kv[nkv].key = k;
      kv[nkv++].value = eq;
    } else die("unknown option %s", a);
  }
  if (!schema) die("%s", "write needs --schema");
  size_t ncols;
  char **specs = split(schema, &ncols);
  const char **names = xcalloc(ncols + 1, sizeof *names);
  enum ftype *types = xcalloc(ncols + 1, sizeof *types);
  for (size_t i = 0; i < ncols; i++) {
    char *colon = strrchr(specs[i], ':');
    if (!colon) die("bad column spec %s", specs[i]);
    *colon = 0;
    int t = ftype_from_name(colon + 1);
    if (t < 0) die("unknown type %s", colon + 1);
    names[i] = specs[i];
    types[i] = (enum ftype)t;
  }
  struct table t;
  table_init(&t, ncols, names, types);
  bool *req = xcalloc(ncols + 1, sizeof *req);
  if (required) {
    size_t nr;
    char **r = split(required, &nr);
    for (size_t i = 0; i < nr; i++) {
      int c = table_find(&t, r[i]);
      if (c < 0) die("no column %s", r[i]);
      req[c] = true;
    }
    free(r);
    o.required = req;
  }
  o.kv = kv;
  o.nkv = nkv;
  char *line = NULL;
  size_t cap = 0, lineno = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) > 0) {
    lineno++;
    if (line[n - 1] == '\n') line[--n] = 0;
    char *p = line;
    for (size_t c = 0; c < ncols; c++) {
      char *tab = c + 1 < ncols ? memchr(p, '\t', (size_t)(line + n - p)) : NULL;
      if (c + 1 < ncols && !tab) {
        fprintf(stderr, "pqtool: line %zu has too few fields\n", lineno);
        return 2;
      }
      char *end = tab ? tab : line + n;
      append_field(&t.cols[c], p, (size_t)(end - p), lineno);
      p = end + 1;
    }
  }
  free(line);
  oast_err e;
  oast_err_clear(&e);
  int rc = table_check(&t, &e);
  if (!rc) rc = pq_write_table(out, &t, &o, &e);
  if (rc) fprintf(stderr, "pqtool: %s\n", e.msg);
  table_release(&t);
  free(specs);
  free(names);
  free(types);
  free(req);
  free(schema);
  free(required);
  for (size_t i = 0; i < nkv; i++) free((char *)kv[i].key);
  return rc ? 1 : 0;
}

static void put_json_string(const char *s, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/* Shortest decimal that reads back as the same double (or float). */
static void put_float(double v, bool single) {
  if (isnan(v)) { printf("\"NaN\""); return; }
  if (isinf(v)) { printf(v > 0 ? "\"Infinity\"" : "\"-Infinity\""); return; }
  char buf[64];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (single ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
  }
  /* JSON has no "-0": keep the sign visible to the comparison. */
  if (v == 0 && signbit(v)) { printf("-0.0"); return; }
  printf("%s", buf);
}

static void put_value(const struct column *c, size_t i) {
  if (column_is_null(c, i)) { printf("null"); return; }
  switch (c->type) {
    case FT_INT: case FT_DATE: printf("%d", column_i32(c, i)); break;
    case FT_BIGINT: case FT_TIMESTAMP: printf("%lld", (long long)column_i64(c, i)); break;
    case FT_FLOAT: put_float(column_f32(c, i), true); break;
    case FT_DOUBLE: put_float(column_f64(c, i), false); break;
    case FT_BOOLEAN: printf(column_bool(c, i) ? "true" : "false"); break;
    case FT_STRING: {
      size_t n;
      const char *s = column_str(c, i, &n);
      put_json_string(s, n);
      break;
    }
    default: printf("null");
  }
}

static struct pq_file *open_or_die(const char *path) {
  oast_err e;
  oast_err_clear(&e);
  struct pq_file *f;
  if (pq_open(path, &f, &e)) {
    fprintf(stderr, "pqtool: %s\n", e.msg);
    exit(1);
  }
  return f;
}

static int cmd_dump(int argc, char **argv) {
  if (argc < 1) die("%s", "dump needs a file");
  char *cols = NULL;
  long rg = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--columns")) cols = xstrdup(argv[i + 1]);
    else if (!strcmp(argv[i], "--row-group")) rg = strtol(argv[i + 1], NULL, 10);
    else die("unknown option %s", argv[i]);
  }
  oast_err e;
  oast_err_clear(&e);
  struct pq_file *f = open_or_die(argv[0]);
  size_t nsel = 0;
  char **sel = cols ? split(cols, &nsel) : NULL;
  struct table t;
  int rc = rg >= 0 ? pq_read_row_group(f, (size_t)rg, (const char *const *)sel, nsel, &t, &e)
                   : pq_read_table(f, (const char *const *)sel, nsel, &t, &e);
  if (rc) {
    fprintf(stderr, "pqtool: %s\n", e.msg);
  } else {
    printf("{\"rows\": %zu, \"columns\": [", t.nrows);
    for (size_t c = 0; c < t.ncols; c++) {
      printf(c ? ", [" : "[");
      put_json_string(t.cols[c].name, strlen(t.cols[c].name));
      printf(", \"%s\"]", ftype_name(t.cols[c].type));
    }
    printf("]}\n");
    for (size_t r = 0; r < t.nrows; r++) {
      putchar('[');
      for (size_t c = 0; c < t.ncols; c++) {
        if (c) printf(", ");
        put_value(&t.cols[c], r);
      }
      printf("]\n");
    }
  }
  table_release(&t);
  pq_close(f);
  free(sel);
  free(cols);
  return rc ? 1 : 0;
}

static void put_scalar(enum ftype t, const struct pq_scalar *s) {
  switch (t) {
    case FT_FLOAT: put_float(s->f, true); break;
    case FT_DOUBLE: put_float(s->f, false); break;
    case FT_STRING: put_json_string(s->s, s->s_len); break;
    case FT_BOOLEAN: printf(s->i ? "true" : "false"); break;
    default: printf("%lld", (long long)s->i);
  }
}

static int cmd_stats(int argc, char **argv) {
  if (argc < 1) die("%s", "stats needs a file");
  struct pq_file *f = open_or_die(argv[0]);
  printf("{\"rows\": %lld, \"row_groups\": [", (long long)f->num_rows);
  for (size_t g = 0; g < f->nrow_groups; g++) printf("%s%lld", g ? ", " : "", (long long)f->row_groups[g].num_rows);
  printf("], \"created_by\": ");
  if (f->created_by) put_json_string(f->created_by, strlen(f->created_by)); else printf("null");
  printf(", \"kv\": {");
  for (size_t i = 0; i < f->nkv; i++) {
    if (i) printf(", ");
    put_json_string(f->kv[i].key, strlen(f->kv[i].key));
    printf(": ");
    if (f->kv[i].value) put_json_string(f->kv[i].value, strlen(f->kv[i].value)); else printf("null");
  }
  printf("}, \"columns\": {");
  for (size_t c = 0; c < f->ncols; c++) {
    struct pq_stats s;
    pq_column_stats(f, c, &s);
    if (c) printf(", ");
    put_json_string(f->cols[c].name, strlen(f->cols[c].name));
    printf(": {\"type\": \"%s\", \"required\": %s", ftype_name(f->cols[c].type), f->cols[c].required ? "true" : "false");
    if (s.has_null_count) printf(", \"null_count\": %lld", (long long)s.null_count);
    if (s.has_distinct_count) printf(", \"distinct_count\": %lld", (long long)s.distinct_count);
    if (s.has_min_max) {
      printf(", \"min\": ");
      put_scalar(f->cols[c].type, &s.min);
      printf(", \"max\": ");
      put_scalar(f->cols[c].type, &s.max);
    }
    printf(", \"dictionary\": %s}", f->nrow_groups && f->row_groups[0].chunks[c].dictionary ? "true" : "false");
  }
  printf("}}\n");
  pq_close(f);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: pqtool write|dump|stats ...\n");
    return 2;
  }
  if (!strcmp(argv[1], "write")) return cmd_write(argc - 2, argv + 2);
  if (!strcmp(argv[1], "dump")) return cmd_dump(argc - 2, argv + 2);
  if (!strcmp(argv[1], "stats")) return cmd_stats(argc - 2, argv + 2);
  fprintf(stderr, "pqtool: unknown command %s\n", argv[1]);
  return 2;
}
