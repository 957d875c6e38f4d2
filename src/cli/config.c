/*
 * config.c — where the CLI finds the server and its key.
 *
 * `oast login` writes {"addr", "key"} to the config file ($OAST_CONFIG,
 * else ~/.config/oast/config.json) with mode 0600 through an atomic
 * rename, so a crash never leaves a half-written file and the key is never
 * readable by others. Every command then resolves the address and the
 * key, each on its own: a flag beats the environment (OAST_ADDR,
 * OAST_API_KEY), which beats the file; the address falls back to
 * http://127.0.0.1:7070. The environment wins over the file so that
 * scripts, CI jobs and trials can point a command elsewhere without
 * touching a person's login.
 */
#include <jansson.h>
#include <libgen.h>
#include <string.h>

#include "cli/command.h"
#include "util/alloc.h"
#include "util/fs.h"

/* A config file is a few hundred bytes; refuse anything absurd. */
#define CONFIG_MAX ((size_t)1 << 20)

char *cli_config_path(const char *env_config, const char *env_home) {
  if (env_config && *env_config) return xstrdup(env_config);
  if (env_home && *env_home) return xasprintf("%s/.config/oast/config.json", env_home);
  return NULL;
}

static int field(json_t *j, const char *name, const char *path, char **out, oast_err *e) {
  json_t *v = json_object_get(j, name);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v) || !*json_string_value(v))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: field \"%s\" must be a non-empty string", path, name);
  *out = xstrdup(json_string_value(v));
  return 0;
}

int cli_config_read(const char *path, char **addr, char **key, oast_err *e) {
  *addr = *key = NULL;
  char *text = NULL;
  size_t len = 0;
  oast_err fe;
  int rc = fs_read_all(path, CONFIG_MAX, &text, &len, &fe);
  if (rc == OAST_ENOT_FOUND) return 0;
  if (rc) return oast_err_set(e, rc, "%s", fe.msg);
  json_error_t je;
  json_t *j = json_loadb(text, len, 0, &je);
  free(text);
  if (!j || !json_is_object(j)) {
    json_decref(j);
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s is not a JSON object; run `oast login` again or fix it", path);
  }
  rc = field(j, "addr", path, addr, e);
  if (!rc) rc = field(j, "key", path, key, e);
  json_decref(j);
  if (rc) {
    free(*addr);
    free(*key);
    *addr = *key = NULL;
  }
  return rc;
}

int cli_config_write(const char *path, const char *addr, const char *key, oast_err *e) {
  char *copy = xstrdup(path);
  int rc = fs_mkdirs(dirname(copy), 0700, e);
  free(copy);
  if (rc) return rc;
  json_t *j = json_pack("{s:s, s:s}", "addr", addr, "key", key);
  char *dumped = json_dumps(j, JSON_INDENT(2));
  json_decref(j);
  char *text = xasprintf("%s\n", dumped);
  free(dumped);
  rc = fs_write_atomic(path, text, strlen(text), 0600, e);
  free(text);
  return rc;
}

int cli_config_resolve(struct cli_config *c, const char *flag_addr, const char *flag_key, const char *env_addr,
                       const char *env_key, const char *path, oast_err *e) {
  memset(c, 0, sizeof *c);
  c->path = path ? xstrdup(path) : NULL;
  if (flag_addr && *flag_addr) {
    c->addr = xstrdup(flag_addr);
    c->addr_from = "--addr";
  } else if (env_addr && *env_addr) {
    c->addr = xstrdup(env_addr);
    c->addr_from = "OAST_ADDR";
  }
  if (flag_key && *flag_key) {
    c->key = xstrdup(flag_key);
    c->key_from = "--key";
  } else if (env_key && *env_key) {
    c->key = xstrdup(env_key);
    c->key_from = "OAST_API_KEY";
  }
  if ((!c->addr || !c->key) && c->path) {
    char *faddr, *fkey;
    int rc = cli_config_read(c->path, &faddr, &fkey, e);
    if (rc) {
      cli_config_release(c);
      return rc;
    }
    if (!c->addr && faddr) {
      c->addr = faddr;
      c->addr_from = c->path;
      faddr = NULL;
    }
    if (!c->key && fkey) {
      c->key = fkey;
      c->key_from = c->path;
      fkey = NULL;
    }
    free(faddr);
    free(fkey);
  }
  if (!c->addr) {
    c->addr = xstrdup(OAST_DEFAULT_ADDR);
    c->addr_from = "default";
  }
  return 0;
}

void cli_config_release(struct cli_config *c) {
  free(c->addr);
  free(c->key);
  free(c->path);
  memset(c, 0, sizeof *c);
}
