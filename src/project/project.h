/*
 * project.h — projects, members, datasets, files and sharing.
 *
 * A project owns datasets; a dataset is a directory
 * <home>/fs/Projects/<project>/<dataset>. Creating a project creates its
 * built-in datasets (Resources, Logs, Experiments, Models,
 * TrainingDatasets, Jupyter) in the same transaction as its rows. Shares
 * are rows, never copies: a project reaches a shared dataset as "q::ds"
 * and reads the owner's directory in place.
 */
#ifndef PROJECT_PROJECT_H
#define PROJECT_PROJECT_H

#include <stdint.h>

#include "auth/authz.h"
#include "http/http.h"

extern const char *const project_builtin_datasets[];

/* The on-disk directory of a dataset reached from a request; caller frees. */
char *project_dataset_dir(struct server *s, const struct dataset_ref *d);

/*
 * Resolves "ds/rel/path" (as sent in a files URL) to a checked absolute
 * path on disk: the dataset is authorized for `right`, the relative path
 * normalized, and no existing component may be a symlink. When mkparents
 * is set, missing parent directories are created. *abs is newly allocated;
 * *rel (optional) receives the normalized path inside the dataset.
 */
int project_resolve_path(struct req *r, const char *path, size_t len, enum right right, int mkparents,
                         struct dataset_ref *ds, char **abs, char **rel, oast_err *e);

/* The same, also giving the lstat of the final component in *last (st_mode 0 when it does not exist). */
struct stat;
int project_resolve_path_st(struct req *r, const char *path, size_t len, enum right right, int mkparents,
                            struct dataset_ref *ds, char **abs, char **rel, struct stat *last, oast_err *e);

/*
 * Runs `sql` (one int64 parameter, id) and removes directory `dir` as one
 * operation (trash.c): both happen or neither. `what` names the thing in
 * messages ("project", "dataset", ...).
 */
int project_delete_with_dir(struct server *s, const char *sql, int64_t id, const char *dir, const char *what,
                            oast_err *e);

/* GET audit lines of project_id (0: all, for the admin) as {"items": [...]} */
int audit_list(struct req *r, struct resp *w, int64_t project_id, oast_err *e);

#endif
