/*
 * common.c — helpers every subcommand uses: building API paths with each
 * piece escaped, calling the server and reporting its errors, reading
 * remote paths and passwords (see command.h).
 *
 * Error reporting is in one place so every command behaves alike: the
 * server's sentence after "oast: ", exit status 1, and for the two errors
 * a person can only fix by looking at their setup (cannot connect, not
 * authenticated) a second line saying where the address or the key came
 * from.
 */
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "cli/command.h"
#include "client/client_json.h"
#include "util/alloc.h"
#include "util/buf.h"

int cli_fail(struct cli_ctx *ctx, const oast_err *e) {
  fprintf(stderr, "oast: %s\n", e->msg[0] ? e->msg : oast_err_default_msg(e->code));
  if (e->code == OAST_ECONNECT && ctx->cfg.addr_from)
    fprintf(stderr, "oast: is the server running? The address came from %s (set it with --addr, OAST_ADDR or "
                    "`oast login`).\n",
            ctx->cfg.addr_from);
  if (e->code == OAST_EUNAUTHENTICATED && ctx->cfg.key_from)
    fprintf(stderr, "oast: the API key came from %s; run `oast login` to get a new one.\n", ctx->cfg.key_from);
  return CLI_FAIL;
}

static char *vpath(const char *fmt, va_list ap) {
  struct buf b;
  buf_init(&b, 0);
  for (const char *p = fmt; *p; p++) {
    if (*p != '%' || !p[1]) {
      buf_putc(&b, *p);
      continue;
    }
    char *esc;
    switch (*++p) {
    case 's':
    case 'P':
      esc = oast_escape(va_arg(ap, const char *), *p == 'P');
      buf_puts(&b, esc);
      free(esc);
      break;
    case 'd':
      buf_printf(&b, "%d", va_arg(ap, int));
      break;
    case 'r':
      buf_puts(&b, va_arg(ap, const char *));
      break;
    default:
      buf_putc(&b, '%');
      buf_putc(&b, *p);
    }
  }
  return buf_detach(&b, NULL);
}

char *cli_path(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = vpath(fmt, ap);
  va_end(ap);
  return s;
}

static int vcall(struct cli_ctx *ctx, const char *method, json_t *body, json_t **out, const char *fmt, va_list ap) {
  char *path = vpath(fmt, ap);
  oast_err e;
  int rc = client_request_json(ctx->client, method, path, body, NULL, out, &e);
  free(path);
  return rc ? cli_fail(ctx, &e) : CLI_OK;
}

int cli_call(struct cli_ctx *ctx, const char *method, json_t *body, json_t **out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vcall(ctx, method, body, out, fmt, ap);
  va_end(ap);
  return rc;
}

/* GET a path and show the answer with `show`. */
static int vget(struct cli_ctx *ctx, const struct cli_col *cols,
                void (*show)(struct cli_ctx *, json_t *, const struct cli_col *), const char *fmt, va_list ap) {
  json_t *out = NULL;
  int rc = vcall(ctx, "GET", NULL, &out, fmt, ap);
  if (rc == CLI_OK) show(ctx, out, cols);
  json_decref(out);
  return rc;
}

int cli_get_items(struct cli_ctx *ctx, const struct cli_col *cols, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vget(ctx, cols, cli_print_items, fmt, ap);
  va_end(ap);
  return rc;
}

int cli_get_object(struct cli_ctx *ctx, const struct cli_col *cols, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vget(ctx, cols, cli_print_object, fmt, ap);
  va_end(ap);
  return rc;
}

int cli_remote_parse(const char *arg, char **project, char **rest, bool *trailing_slash, oast_err *e) {
  *project = *rest = NULL;
  size_t n = strlen(arg);
  if (trailing_slash) *trailing_slash = n > 0 && arg[n - 1] == '/';
  struct buf b;
  buf_init(&b, 0);
  const char *p = arg;
  while (*p) {
    while (*p == '/') p++;
    size_t len = strcspn(p, "/");
    if (!len) break;
    if (!*project) {
      *project = xstrndup(p, len);
    } else {
      if (b.len) buf_putc(&b, '/');
      buf_append(&b, p, len);
    }
    p += len;
  }
  if (!*project) {
    buf_release(&b);
    return oast_err_set(e, OAST_EBAD_REQUEST, "\"%s\" is not a remote path; write PROJECT/DATASET/PATH", arg);
  }
  *rest = buf_detach(&b, NULL);
  return 0;
}

int cli_dataset_arg(struct cli_ctx *ctx, const char *arg, char **project, char **dataset) {
  oast_err e;
  if (cli_remote_parse(arg, project, dataset, NULL, &e) != 0) return cli_usage(ctx, "%s", e.msg);
  if (!**dataset || strchr(*dataset, '/')) {
    free(*project);
    free(*dataset);
    *project = *dataset = NULL;
    return cli_usage(ctx, "\"%s\" is not a dataset; write PROJECT/DATASET", arg);
  }
  return CLI_OK;
}

#define PASSWORD_MAX 1024

int cli_read_password(const char *prompt, char **out, oast_err *e) {
  *out = NULL;
  FILE *tty = isatty(STDIN_FILENO) ? fopen("/dev/tty", "r+") : NULL;
  if (!tty)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "no terminal to ask for the password on; pass --password or set OAST_PASSWORD");
  struct termios old, quiet;
  bool restore = tcgetattr(fileno(tty), &old) == 0;
  if (restore) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
  }
  fputs(prompt, tty);
  fflush(tty);
  char line[PASSWORD_MAX + 2];
  bool got = fgets(line, sizeof line, tty) != NULL;
  if (restore) tcsetattr(fileno(tty), TCSAFLUSH, &old);
  fclose(tty);
  if (!got) return oast_err_set(e, OAST_EBAD_REQUEST, "no password was entered");
  line[strcspn(line, "\r\n")] = '\0';
  *out = xstrdup(line);
  explicit_bzero(line, sizeof line);
  return 0;
}

/* ---- rows of a feature group or view ---- */

const char *cli_format_of_name(const char *file) {
  const char *dot = strrchr(file, '.');
  if (!dot || strchr(dot, '/')) return NULL;
  static const char *const map[][2] = {{".csv", "csv"},   {".ndjson", "ndjson"},   {".jsonl", "ndjson"},
                                       {".json", "json"}, {".parquet", "parquet"}, {".pq", "parquet"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcasecmp(dot, map[i][0])) return map[i][1];
  return NULL;
}

int cli_limit_arg(struct cli_ctx *ctx, const char *s, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < 0) return cli_usage(ctx, "--limit needs a number of rows (0 or more), not \"%s\"", s);
  *out = v;
  return CLI_OK;
}

int cli_fetch_rows(struct cli_ctx *ctx, const char *path, const char *shown, const char *dest, const char *format) {
  bool to_stdout = !dest || !strcmp(dest, "-");
  if (to_stdout && !strcmp(format, "parquet") && isatty(STDOUT_FILENO))
    return cli_usage(ctx, "Parquet is binary; write it to a file with -o FILE");
  struct cli_progress prog;
  cli_progress_init(&prog, ctx->err, ctx->progress && !to_stdout, shown);
  oast_err e;
  uint64_t size = 0;
  int rc = to_stdout ? oast_download(ctx->client, path, stdout, NULL, NULL, &size, &e)
                     : oast_download_file(ctx->client, path, dest, cli_progress_cb, &prog, &size, &e);
  cli_progress_end(&prog, rc == 0);
  if (rc) return cli_fail(ctx, &e);
  if (!to_stdout) {
    json_t *j = json_pack("{s:s,s:s,s:I}", "path", dest, "format", format, "size", (json_int_t)size);
    char hs[32];
    cli_done(ctx, j, "wrote %s as %s to %s (%s)", shown, format, dest, cli_human_size(size, hs, sizeof hs));
    json_decref(j);
  }
  return CLI_OK;
}
