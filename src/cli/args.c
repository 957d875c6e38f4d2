/*
 * args.c — the command-line parser of the CLI (see command.h).
 *
 * Options are looked up in a list of option arrays (the global ones and
 * the verb's), so every command accepts --json, --addr and friends in any
 * position without each verb declaring them. Values are pointers into
 * argv; nothing is copied but the arrays that hold them.
 */
#include <string.h>

#include "cli/command.h"
#include "util/alloc.h"

/* Finds an option by long name (len bytes) or, when len is 0, by its short letter. */
static int find(const struct cli_args *a, const char *name, size_t len, char letter) {
  int idx = 0;
  for (const struct cli_opt *const *s = a->specs; *s; s++)
    for (const struct cli_opt *o = *s; o->name; o++, idx++) {
      if (len ? strlen(o->name) == len && strncmp(o->name, name, len) == 0 : o->short_name && o->short_name == letter)
        return idx;
    }
  return -1;
}

static const struct cli_opt *opt_at(const struct cli_args *a, int idx) {
  for (const struct cli_opt *const *s = a->specs; *s; s++)
    for (const struct cli_opt *o = *s; o->name; o++)
      if (idx-- == 0) return o;
  return NULL;
}

int cli_args_parse(struct cli_args *a, const struct cli_opt *const *specs, int argc, char **argv, oast_err *e) {
  memset(a, 0, sizeof *a);
  a->specs = specs;
  for (const struct cli_opt *const *s = specs; *s; s++)
    for (const struct cli_opt *o = *s; o->name; o++) a->nopts++;
  a->vals = xcalloc((size_t)a->nopts + 1, sizeof *a->vals);
  a->pos = xcalloc((size_t)argc + 1, sizeof *a->pos);
  a->seen = xcalloc((size_t)argc + 1, sizeof *a->seen);
  a->seen_idx = xcalloc((size_t)argc + 1, sizeof *a->seen_idx);
  bool only_pos = false;
  for (int i = 0; i < argc; i++) {
    const char *w = argv[i];
    if (only_pos || w[0] != '-' || w[1] == '\0') { /* "-" alone is a positional (stdin/stdout) */
      a->pos[a->npos++] = w;
      continue;
    }
    if (strcmp(w, "--") == 0) {
      only_pos = true;
      continue;
    }
    int idx;
    const char *inline_val = NULL;
    if (w[1] == '-') {
      const char *name = w + 2;
      const char *eq = strchr(name, '=');
      size_t len = eq ? (size_t)(eq - name) : strlen(name);
      idx = len ? find(a, name, len, 0) : -1;
      if (eq) inline_val = eq + 1;
    } else {
      idx = w[2] == '\0' ? find(a, NULL, 0, w[1]) : -1;
    }
    if (idx < 0) {
      oast_err_set(e, OAST_EBAD_REQUEST, "unknown option \"%s\"", w);
      goto fail;
    }
    const struct cli_opt *o = opt_at(a, idx);
    if (!o->value) {
      if (inline_val) {
        oast_err_set(e, OAST_EBAD_REQUEST, "option --%s takes no value", o->name);
        goto fail;
      }
      a->vals[idx] = "";
    } else if (inline_val) {
      a->vals[idx] = inline_val;
    } else if (i + 1 < argc) {
      a->vals[idx] = argv[++i];
    } else {
      oast_err_set(e, OAST_EBAD_REQUEST, "option --%s needs a value (%s)", o->name, o->value);
      goto fail;
    }
    a->seen_idx[a->nseen] = idx;
    a->seen[a->nseen++] = a->vals[idx];
  }
  return 0;
fail:
  cli_args_release(a);
  return OAST_EBAD_REQUEST;
}

void cli_args_release(struct cli_args *a) {
  free(a->pos);
  free(a->vals);
  free(a->seen);
  free(a->seen_idx);
  a->pos = NULL;
  a->vals = NULL;
  a->seen = NULL;
  a->seen_idx = NULL;
  a->npos = a->nopts = a->nseen = 0;
}

const char *cli_opt_get(const struct cli_args *a, const char *name) {
  int idx = find(a, name, strlen(name), 0);
  return idx < 0 ? NULL : a->vals[idx];
}

bool cli_flag(const struct cli_args *a, const char *name) { return cli_opt_get(a, name) != NULL; }

int cli_opt_all(const struct cli_args *a, const char *name, const char **out, int max) {
  int idx = find(a, name, strlen(name), 0), n = 0;
  for (int i = 0; idx >= 0 && i < a->nseen; i++)
    if (a->seen_idx[i] == idx) {
      if (n < max) out[n] = a->seen[i];
      n++;
    }
  return n;
}
