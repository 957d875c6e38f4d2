/*
 * cli.c — the `oast` client's dispatcher: a table of nouns, each a table
 * of verbs (git style), global options, help and the setup every command
 * shares.
 *
 * `oast [global options] NOUN [VERB] [arguments and options]`. The words
 * before the noun may only be global options; after the verb, global and
 * verb options mix freely with positionals. The dispatcher checks the
 * arguments against the verb's declaration (command.h) and answers
 * --help from the same declaration, so help can never disagree with what
 * is parsed. Only after that does it resolve the server address and key
 * (config.c) and create the liboast client the verb uses.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/command.h"
#include "util/alloc.h"

extern const struct cli_noun cli_noun_model, cli_noun_deploy;

static const struct cli_noun *const nouns[] = {
    &cli_noun_login, &cli_noun_user,  &cli_noun_project, &cli_noun_member,  &cli_noun_dataset,
    &cli_noun_fs,    &cli_noun_share, &cli_noun_audit,   &cli_noun_version, &cli_noun_model, &cli_noun_deploy,
    &cli_noun_fv,    &cli_noun_td,    &cli_noun_exp,   &cli_noun_fg,
    &cli_noun_job,   &cli_noun_pipeline, NULL,
};

static const struct cli_opt global_opts[] = {
    {"addr", 0, "URL", "the server (else OAST_ADDR, the config file, " OAST_DEFAULT_ADDR ")"},
    {"key", 0, "KEY", "the API key (else OAST_API_KEY, then the config file)"},
    {"json", 0, NULL, "print the server's JSON instead of tables and messages"},
    {"help", 'h', NULL, "show help for the command"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt no_opts[] = {{NULL, 0, NULL, NULL}};

/* ---- help ---- */

static void print_opts(FILE *f, const struct cli_opt *opts) {
  for (const struct cli_opt *o = opts; o && o->name; o++) {
    char left[64];
    if (o->short_name)
      snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->value ? " " : "",
               o->value ? o->value : "");
    else
      snprintf(left, sizeof left, "    --%s%s%s", o->name, o->value ? " " : "", o->value ? o->value : "");
    fprintf(f, "  %-26s %s\n", left, o->help);
  }
}

static void main_help(FILE *f) {
  fprintf(f,
          "usage: oast [--addr URL] [--key KEY] [--json] <command> [<args>]\n"
          "\n"
          "The Oast client. Every command is a call to the Oast server's REST API.\n"
          "\n"
          "Commands:\n");
  for (const struct cli_noun *const *n = nouns; *n; n++) fprintf(f, "  %-10s %s\n", (*n)->name, (*n)->summary);
  fprintf(f, "  %-10s %s\n", "server", "run the Oast server (see oast server --help)");
  fprintf(f, "  %-10s %s\n", "help", "help on a command: oast help fs put");
  fprintf(f,
          "\nGlobal options, accepted anywhere on the line:\n");
  print_opts(f, global_opts);
  fprintf(f,
          "\n"
          "Remote paths are PROJECT/DATASET/PATH, as in demo/Resources/data.csv. A dataset\n"
          "that project q shared with project p is p/q::DATASET/PATH once p accepted it.\n"
          "\n"
          "The server is found through --addr, OAST_ADDR or the config file `oast login`\n"
          "writes ($OAST_CONFIG, else ~/.config/oast/config.json); the key through --key,\n"
          "OAST_API_KEY or that file. --json prints the server's JSON for scripts.\n"
          "Exit status: 0 success, 1 an error (the server's message is printed),\n"
          "2 a usage error.\n"
          "\n"
          "Run `oast <command> --help` for a command's own commands and options.\n");
}

static void usage_line(FILE *f, const struct cli_noun *n, const struct cli_verb *v) {
  fprintf(f, "usage: oast %s%s%s%s%s\n", n->name, v->name ? " " : "", v->name ? v->name : "",
          v->synopsis && *v->synopsis ? " " : "", v->synopsis ? v->synopsis : "");
}

static bool single(const struct cli_noun *n) { return n->verbs[0].name == NULL; }

static void verb_help(FILE *f, const struct cli_noun *n, const struct cli_verb *v) {
  usage_line(f, n, v);
  fprintf(f, "\n%s\n", v->summary);
  if (v->help) fprintf(f, "\n%s", v->help);
  if (v->opts && v->opts->name) {
    fprintf(f, "\nOptions:\n");
    print_opts(f, v->opts);
  }
  fprintf(f, "\nGlobal options: --addr URL, --key KEY, --json, -h/--help (see oast --help).\n");
}

static void noun_help(FILE *f, const struct cli_noun *n) {
  if (single(n)) {
    verb_help(f, n, &n->verbs[0]);
    return;
  }
  fprintf(f, "usage: oast %s <command> [<args>]\n\n%c%s.\n\nCommands:\n", n->name, toupper((unsigned char)n->summary[0]),
          n->summary + 1);
  for (const struct cli_verb *v = n->verbs; v->run; v++) fprintf(f, "  %-12s %s\n", v->name, v->summary);
  fprintf(f, "\nRun `oast %s <command> --help` for its arguments and options.\n", n->name);
}

static const struct cli_noun *find_noun(const char *name) {
  for (const struct cli_noun *const *n = nouns; *n; n++)
    if (strcmp((*n)->name, name) == 0) return *n;
  return NULL;
}

/* Matches a verb name of one or more words against argv; *used gets the word count. */
static const struct cli_verb *find_verb(const struct cli_noun *n, int argc, char **argv, int *used) {
  for (const struct cli_verb *v = n->verbs; v->run; v++) {
    const char *p = v->name;
    int k = 0;
    while (k < argc) {
      size_t len = strcspn(p, " ");
      if (strlen(argv[k]) != len || strncmp(argv[k], p, len) != 0) break;
      k++;
      p += len;
      if (*p == '\0') {
        *used = k;
        return v;
      }
      p++;
    }
  }
  return NULL;
}

/* True when word is the first word of a verb of several words ("key" of "key create"). */
static bool is_group(const struct cli_noun *n, const char *word) {
  size_t len = strlen(word);
  for (const struct cli_verb *v = n->verbs; v->run; v++)
    if (strncmp(v->name, word, len) == 0 && v->name[len] == ' ') return true;
  return false;
}

/* `oast help [NOUN [VERB...]]` */
static int help_cmd(int argc, char **argv) {
  if (argc == 0) {
    main_help(stdout);
    return CLI_OK;
  }
  const struct cli_noun *n = find_noun(argv[0]);
  if (!n) {
    fprintf(stderr, "oast: unknown command \"%s\"; see oast --help\n", argv[0]);
    return CLI_USAGE;
  }
  int used = 0;
  const struct cli_verb *v = single(n) || argc < 2 ? NULL : find_verb(n, argc - 1, argv + 1, &used);
  if (v) verb_help(stdout, n, v);
  else noun_help(stdout, n);
  return CLI_OK;
}

/* ---- running a verb ---- */

static int run_verb(const struct cli_noun *n, const struct cli_verb *v, int argc, char **argv) {
  struct cli_ctx ctx = {.noun = n, .verb = v, .out = stdout, .err = stderr};
  const struct cli_opt *const specs[] = {global_opts, v->opts ? v->opts : no_opts, NULL};
  struct cli_args a;
  oast_err e;
  if (cli_args_parse(&a, specs, argc, argv, &e) != 0) return cli_usage(&ctx, "%s", e.msg);
  int rc;
  if (cli_flag(&a, "help")) {
    verb_help(stdout, n, v);
    rc = CLI_OK;
    goto out;
  }
  if (a.npos < v->min_pos) {
    rc = cli_usage(&ctx, "missing arguments");
    goto out;
  }
  if (v->max_pos >= 0 && a.npos > v->max_pos) {
    rc = cli_usage(&ctx, "unexpected argument \"%s\"", a.pos[v->max_pos]);
    goto out;
  }
  ctx.json = cli_flag(&a, "json");
  ctx.progress = !ctx.json && isatty(STDERR_FILENO);
  char *path = cli_config_path(getenv("OAST_CONFIG"), getenv("HOME"));
  rc = cli_config_resolve(&ctx.cfg, cli_opt_get(&a, "addr"), cli_opt_get(&a, "key"), getenv("OAST_ADDR"),
                          getenv("OAST_API_KEY"), path, &e);
  free(path);
  if (rc) {
    rc = cli_fail(&ctx, &e);
    goto out;
  }
  if (!ctx.cfg.key && !(v->flags & CLI_NEEDS_NO_KEY)) {
    rc = cli_usage(&ctx, "no API key: run `oast login`, set OAST_API_KEY or pass --key");
    goto out_cfg;
  }
  ctx.client = oast_client_new(ctx.cfg.addr, ctx.cfg.key);
  if (!ctx.client) {
    fprintf(stderr, "oast: cannot initialise the HTTP client\n");
    rc = CLI_FAIL;
    goto out_cfg;
  }
  rc = v->run(&ctx, &a);
  oast_client_free(ctx.client);
out_cfg:
  cli_config_release(&ctx.cfg);
out:
  cli_args_release(&a);
  return rc;
}

/* True when argv[i] is a global option that takes its value from the next word. */
static bool takes_next(const char *w) { return strcmp(w, "--addr") == 0 || strcmp(w, "--key") == 0; }

int cli_main(int argc, char **argv) {
  /* Global options before the noun. */
  int i = 1;
  bool help = false;
  while (i < argc && argv[i][0] == '-' && argv[i][1]) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) help = true;
    if (takes_next(argv[i]) && i + 1 < argc) i++;
    i++;
  }
  if (i >= argc) {
    main_help(help ? stdout : stderr);
    return help ? CLI_OK : CLI_USAGE;
  }
  int npre = i - 1;
  if (strcmp(argv[i], "help") == 0) return help_cmd(argc - i - 1, argv + i + 1);
  const struct cli_noun *n = find_noun(argv[i]);
  if (!n) {
    fprintf(stderr, "oast: unknown command \"%s\"; see oast --help\n", argv[i]);
    return CLI_USAGE;
  }
  i++;
  const struct cli_verb *v;
  if (single(n)) {
    v = &n->verbs[0];
  } else {
    int used = 0;
    v = find_verb(n, argc - i, argv + i, &used);
    if (!v) {
      bool want_help = help;
      for (int k = i; k < argc; k++)
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) want_help = true;
      if (i < argc && argv[i][0] != '-' && !is_group(n, argv[i])) {
        fprintf(stderr, "oast: unknown %s command \"%s\"; see oast %s --help\n", n->name, argv[i], n->name);
        return CLI_USAGE;
      }
      noun_help(want_help ? stdout : stderr, n);
      return want_help ? CLI_OK : CLI_USAGE;
    }
    i += used;
  }
  /* The verb sees the global options from before the noun followed by the rest of the line. */
  char **rest = xcalloc((size_t)argc, sizeof *rest);
  int nrest = 0;
  for (int k = 1; k <= npre; k++) rest[nrest++] = argv[k];
  for (int k = i; k < argc; k++) rest[nrest++] = argv[k];
  int rc = run_verb(n, v, nrest, rest);
  free(rest);
  return rc;
}

/* ---- shared by the verbs ---- */

int cli_usage(struct cli_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("oast: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (ctx && ctx->noun && ctx->verb) {
    usage_line(stderr, ctx->noun, ctx->verb);
    fprintf(stderr, "see oast %s%s%s --help\n", ctx->noun->name, ctx->verb->name ? " " : "",
            ctx->verb->name ? ctx->verb->name : "");
  }
  return CLI_USAGE;
}
