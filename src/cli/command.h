/*
 * command.h — what the files of src/cli share: the command table types,
 * the argument parser, configuration, output (tables, JSON, progress) and
 * the helpers every subcommand uses to call the server and report errors.
 *
 * A noun (`project`) is a table of verbs (`create`, `list`, ...); a noun
 * with a single action (`login`, `audit`) has one verb whose name is NULL.
 * A verb declares its options, how many positional arguments it takes and
 * its help text; the dispatcher (cli.c) parses the command line against
 * that declaration, answers --help from it, resolves the server address
 * and key, and only then calls the verb's run function. So every command
 * gets the same parsing, help and error behaviour by construction.
 *
 * Exit statuses: 0 success, 1 an error from the server or the system,
 * 2 a usage error (bad options or arguments, missing credentials).
 */
#ifndef CLI_COMMAND_H
#define CLI_COMMAND_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "oast/client.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* ---- arguments (args.c) ---- */

/* One option of a command; arrays end with an entry whose name is NULL. */
struct cli_opt {
  const char *name;      /* long name without "--" */
  char short_name;       /* 0 for none */
  const char *value;     /* placeholder of its value ("NAME"), NULL for a flag */
  const char *help;
};

/* Parsed command line: positionals and the options' values. */
struct cli_args {
  const char **pos;      /* borrowed from argv; array owned */
  int npos;
  const struct cli_opt *const *specs;  /* NULL-terminated list of option arrays */
  const char **vals;     /* per option, in spec order: the value, "" for a set flag, NULL unset */
  int nopts;
  const char **seen;     /* every option value in command-line order (repeats kept) */
  int *seen_idx;         /* the option index of each */
  int nseen;
};

/*
 * Parses argv[0..argc) against the option arrays in specs (NULL-terminated
 * list). Accepts "--name value", "--name=value", "-x value", "-x" flags
 * and "--" before positionals; options may come anywhere. A repeated
 * option keeps the last value. 0, or OAST_EBAD_REQUEST with e naming the
 * offending word. Release with cli_args_release.
 */
int cli_args_parse(struct cli_args *a, const struct cli_opt *const *specs, int argc, char **argv, oast_err *e);
void cli_args_release(struct cli_args *a);
/* The value of option `name` (borrowed), "" for a set flag, NULL when absent. */
const char *cli_opt_get(const struct cli_args *a, const char *name);
bool cli_flag(const struct cli_args *a, const char *name);
/* Every value given to option `name`, in order (for repeatable options
 * such as --grid): up to max into out; returns how many were given. */
int cli_opt_all(const struct cli_args *a, const char *name, const char **out, int max);

/* ---- configuration (config.c) ---- */

/* Where the client goes and with which key, and where each came from. */
struct cli_config {
  char *addr;            /* owned, never NULL after resolve */
  char *key;             /* owned, NULL when none was found */
  char *path;            /* the config file (owned), NULL when neither OAST_CONFIG nor HOME is set */
  const char *addr_from; /* "--addr", "OAST_ADDR", the config path or "default" (static or = path) */
  const char *key_from;  /* "--key", "OAST_API_KEY", the config path, or NULL */
};

/* The config file: $OAST_CONFIG, else $HOME/.config/oast/config.json, else NULL. Caller frees. */
char *cli_config_path(const char *env_config, const char *env_home);
/*
 * Reads {"addr", "key"} from path. A missing file is not an error (both
 * stay NULL). Unknown fields are ignored. Outputs are allocated or NULL.
 */
int cli_config_read(const char *path, char **addr, char **key, oast_err *e);
/* Writes {"addr", "key"} to path atomically with mode 0600, creating its directory (0700). */
int cli_config_write(const char *path, const char *addr, const char *key, oast_err *e);
/*
 * Resolves address and key, each independently: the flag, else the
 * environment variable, else the config file, else (address only) the
 * default. The file is read only when something is still missing.
 */
int cli_config_resolve(struct cli_config *c, const char *flag_addr, const char *flag_key, const char *env_addr,
                       const char *env_key, const char *path, oast_err *e);
void cli_config_release(struct cli_config *c);

/* ---- tables and formatting (output.c) ---- */

/* Rows of text cells printed with aligned columns. */
struct cli_table {
  int ncols;
  const char *const *headers;  /* borrowed */
  char **cells;                /* owned, row-major */
  size_t nrows;
  size_t cap;
};

void cli_table_init(struct cli_table *t, int ncols, const char *const *headers);
/* Appends a row of ncols cells (copied; NULL prints as "-"). */
void cli_table_add(struct cli_table *t, const char *const *cells);
/*
 * The table as text: the header row then one line per row, columns
 * padded to their widest cell (counted in characters, not bytes) and
 * separated by two spaces; the last column is not padded. Caller frees.
 */
char *cli_table_render(const struct cli_table *t);
void cli_table_release(struct cli_table *t);
/* Renders t to ctx->out and releases it. */
struct cli_ctx;
void cli_table_print(struct cli_ctx *ctx, struct cli_table *t);

/* How a JSON field is shown in a cell. */
enum cli_cell { CELL_TEXT, CELL_SIZE, CELL_YESNO };
struct cli_col {
  const char *header;
  const char *field;
  enum cli_cell kind;
};

/* How tables show JSON objects and arrays: compact, reals with 15 digits
 * (0.1 rather than 0.10000000000000001); --json keeps full precision. */
#define CLI_JSON_SHOW (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

/* A JSON value as one cell (allocated): strings with control characters as '?', null as "-". */
char *cli_cell_text(json_t *v, enum cli_cell kind);
/* "512 B", "1.5 KiB", "12.0 MiB", ... into buf. */
const char *cli_human_size(uint64_t n, char *buf, size_t len);

/* ---- progress bar (progress.c) ---- */

/* Progress bars are drawn only for transfers over this many bytes. */
#define CLI_PROGRESS_MIN ((uint64_t)1 << 20)

struct cli_progress {
  FILE *f;               /* where to draw (stderr) */
  bool enabled;          /* a terminal, and not --json */
  const char *label;     /* borrowed */
  double start, last;    /* monotonic seconds */
  bool drawn;
  uint64_t done, total;
};

void cli_progress_init(struct cli_progress *p, FILE *f, bool enabled, const char *label);
/* An oast_progress_fn; arg is a struct cli_progress. Never cancels. */
int cli_progress_cb(void *arg, uint64_t done, uint64_t total);
/* Draws the final state and ends the line, if a bar was drawn. */
void cli_progress_end(struct cli_progress *p, bool ok);
/*
 * One frame of the bar into buf (at most `width` characters):
 * "LABEL  42% [#####.....]  1.2/3.0 MiB  5.1 MiB/s"; without a total,
 * "LABEL  1.2 MiB  5.1 MiB/s".
 */
void cli_progress_format(char *buf, size_t len, int width, const char *label, uint64_t done, uint64_t total,
                         double seconds);

/* ---- commands (cli.c) ---- */

struct cli_ctx;

/* Flags of a verb. */
#define CLI_NEEDS_NO_KEY 1u   /* runs without an API key (login, version) */

struct cli_verb {
  const char *name;        /* "create", "key create"; NULL for a noun's only action */
  const char *synopsis;    /* arguments after the command words, e.g. "NAME [--description TEXT]" */
  const char *summary;     /* one line */
  const char *help;        /* more lines, or NULL */
  const struct cli_opt *opts;  /* may be NULL */
  int min_pos, max_pos;    /* positional count bounds; max -1 for any */
  unsigned flags;
  int (*run)(struct cli_ctx *ctx, struct cli_args *a);
};

struct cli_noun {
  const char *name;
  const char *summary;
  const struct cli_verb *verbs;  /* ends with an entry whose run is NULL */
};

struct cli_ctx {
  bool json;                     /* --json: print the server's JSON */
  struct cli_config cfg;
  oast_client *client;
  const struct cli_noun *noun;
  const struct cli_verb *verb;
  FILE *out;                     /* stdout */
  FILE *err;                     /* stderr */
  bool progress;                 /* stderr is a terminal and not --json */
};

extern const struct cli_noun cli_noun_login, cli_noun_user, cli_noun_project, cli_noun_member,
    cli_noun_dataset, cli_noun_fs, cli_noun_share, cli_noun_audit, cli_noun_version, cli_noun_exp;
extern const struct cli_noun cli_noun_fv, cli_noun_td;
/* fv.c: a feature view's --version option (default 1) into *version; CLI_USAGE when malformed. */
int cli_fv_version(struct cli_ctx *ctx, struct cli_args *a, int *version);
/* csv, ndjson, json or parquet from a file name's extension, or NULL. */
const char *cli_format_of_name(const char *file);
/* --limit N (0 or more), or a usage error. */
int cli_limit_arg(struct cli_ctx *ctx, const char *s, long *out);
/*
 * Downloads GET path (rows in format) to dest, or to stdout when dest is
 * NULL or "-" (Parquet only into a file when stdout is a terminal); a file
 * appears whole or not at all, with a progress bar, and is reported as
 * "wrote SHOWN as FORMAT to DEST (SIZE)".
 */
int cli_fetch_rows(struct cli_ctx *ctx, const char *path, const char *shown, const char *dest, const char *format);
extern const struct cli_noun cli_noun_job, cli_noun_pipeline;

/* Prints "oast: MESSAGE" (the server's message) and returns CLI_FAIL. */
int cli_fail(struct cli_ctx *ctx, const oast_err *e);
/* Prints "oast: MESSAGE" and the verb's usage line; returns CLI_USAGE. */
int cli_usage(struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * An API path from a format where %s is a name or segment (escaped
 * whole, '/' included), %P a path inside a dataset (escaped, '/' kept),
 * %d an int and %r raw text (a query already formed). Caller frees.
 */
char *cli_path(const char *fmt, ...);

/*
 * Calls the server with a JSON body (borrowed, may be NULL) and the path
 * built by cli_path from fmt. On success *out gets the parsed answer (may
 * be NULL for 204; out may be NULL). On failure prints the error and
 * returns CLI_FAIL.
 */
int cli_call(struct cli_ctx *ctx, const char *method, json_t *body, json_t **out, const char *fmt, ...);

/* GET the path (cli_path format) and print its "items" as a table of cols, or its JSON. */
int cli_get_items(struct cli_ctx *ctx, const struct cli_col *cols, const char *fmt, ...);
/* GET the path (cli_path format) and print the object as "field: value" lines of cols, or its JSON. */
int cli_get_object(struct cli_ctx *ctx, const struct cli_col *cols, const char *fmt, ...);

/* Prints j as indented JSON on stdout. */
void cli_print_json(struct cli_ctx *ctx, json_t *j);
/* Prints resp: in --json mode as JSON, else its "items" as a table of cols (NULL-header-terminated). */
void cli_print_items(struct cli_ctx *ctx, json_t *resp, const struct cli_col *cols);
/* Prints an object: as JSON, or one "field: value" line per col. */
void cli_print_object(struct cli_ctx *ctx, json_t *obj, const struct cli_col *cols);
/* In human mode prints a confirmation line (printf format) on stdout; in --json mode prints j (may be NULL: nothing). */
void cli_done(struct cli_ctx *ctx, json_t *j, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A remote path as given on the command line: PROJECT[/DATASET[/PATH]].
 * Leading and repeated slashes are dropped; *trailing_slash tells whether
 * the argument ended with '/'. *project and *rest (DATASET/PATH, "" for
 * the project itself) are allocated.
 */
int cli_remote_parse(const char *arg, char **project, char **rest, bool *trailing_slash, oast_err *e);

/*
 * A PROJECT/DATASET argument: *project and *dataset are allocated. On a
 * malformed argument prints a usage error and returns CLI_USAGE.
 */
int cli_dataset_arg(struct cli_ctx *ctx, const char *arg, char **project, char **dataset);

/* Reads a password: from the terminal without echo (prompt on it), or fails when there is none. */
int cli_read_password(const char *prompt, char **out, oast_err *e);

/* dataset.c: prints the datasets of project (shared by `dataset list` and `fs ls PROJECT`). */
int cli_dataset_list(struct cli_ctx *ctx, const char *project);

/* fg.c: `oast fg`, feature groups. */
extern const struct cli_noun cli_noun_fg;
/* fg.c: a histogram {"edges": [n+1], "counts": [n]} as one line per bin,
 * "  LO .. HI  BAR COUNT", bars of block characters scaled to the largest
 * count and fitted to `width` columns. "" when the shape is wrong. Caller frees. */
char *cli_fg_histogram(json_t *hist, int width);

#endif
