/*
 * notebook.h — a Jupyter notebook (.ipynb, nbformat 4) as a Python
 * program, for notebook jobs.
 *
 * The program is the source of the notebook's code cells in their order,
 * each introduced by a comment line `# cell N` (N counts code cells from
 * 1), so a traceback's line leads back to its cell. Markdown and raw
 * cells are left out. IPython-only lines, which plain Python cannot run,
 * are kept as comments: line magics (`%time`), cell magics (`%%bash`
 * comments out the whole cell) and shell escapes (`!pip ...`). Outputs
 * stored in the notebook are ignored. Nothing is executed here.
 */
#ifndef JOBS_NOTEBOOK_H
#define JOBS_NOTEBOOK_H

#include <stddef.h>

#include "oast/error.h"

#define NOTEBOOK_MAX_BYTES (64u << 20)  /* notebook files read at most */

/*
 * Converts the notebook text (len bytes) into *out (NUL-terminated,
 * *outlen bytes, caller frees). 400 naming what is wrong when the text is
 * not an nbformat 4 notebook (not JSON, no "cells" list, a cell whose
 * "source" is neither a string nor a list of strings).
 */
int notebook_to_python(const char *text, size_t len, char **out, size_t *outlen, oast_err *e);

#endif
