/*
 * inputs.h — the inputs of an inference request: the model's input
 * schema, the protocols' request shapes turned into one list of rows,
 * their validation, and the dense float matrix a native predictor takes.
 *
 * Every protocol (TensorFlow Serving's instances, inputs and examples,
 * KServe v2's tensors) becomes a JSON array of rows, one per instance,
 * each a JSON value (a list of feature values, an object of named values,
 * a scalar, or a nested list for a tensor). The predictors see only rows,
 * so batching can join the rows of several requests.
 */
#ifndef SERVE_INPUTS_H
#define SERVE_INPUTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oast/error.h"

/* Caps on what one request may carry. */
#define INPUTS_MAX_ROWS 100000
#define INPUTS_MAX_DIMS 8

enum vtype { VT_FLOAT, VT_INT, VT_BOOL, VT_STRING };

/* The input schema of a model version (from its registered model_schema). */
struct in_schema {
  enum { SCHEMA_COLUMNS, SCHEMA_TENSOR } kind;
  /* SCHEMA_COLUMNS */
  size_t ncols;
  char **names;          /* owned */
  enum vtype *types;     /* owned */
  /* SCHEMA_TENSOR: the shape of one instance (the batch dimension removed); -1 is any size */
  int ndims;
  int64_t dims[INPUTS_MAX_DIMS];
  enum vtype ttype;
};

/*
 * Reads model_schema (may be NULL): its "input_schema" holds either
 * "columnar_schema" ([{"name", "type"}]) or "tensor_schema" ([{"type",
 * "shape"}], one tensor whose first dimension is the batch). *out is NULL
 * when there is no input schema. A malformed one is a 400 naming the field.
 */
int schema_parse(json_t *model_schema, struct in_schema **out, oast_err *e);
void schema_free(struct in_schema *s);
/* The type's name as written in errors ("double", "int", "boolean", "string"). */
const char *vtype_name(enum vtype t);

/*
 * Checks rows (an array) against the schema, or without one that every row
 * has the shape and value kinds of the first (no ragged instances). `what`
 * names the rows in errors ("instances"). 400 naming the row and value.
 */
int rows_check(const struct in_schema *s, json_t *rows, const char *what, oast_err *e);

/*
 * Fills x (rows × ncols floats) from rows for a native predictor: each row
 * a list of ncols numbers, an object of named values (names, when known:
 * a feature left out is missing), or a number when ncols is 1. null is a
 * missing value (NaN); booleans are 0 and 1. 400 naming the row otherwise.
 */
int rows_dense(json_t *rows, const char *what, size_t ncols, char *const *names, float *x, oast_err *e);

/*
 * The fast path of the most common request, `{"instances": [[numbers],
 * ...]}` with every row ncols numbers (or null), read straight from the
 * body text into x (at most max_rows rows) without building JSON values.
 * Returns the number of rows, or 0 when the body has any other shape, in
 * which case the caller takes the general path (which also reports
 * errors); nothing is ever refused here.
 */
size_t rows_fast_dense(const char *text, size_t len, size_t ncols, float *x, size_t max_rows);

/* The protocols' verbs. */
enum verb { VERB_PREDICT, VERB_CLASSIFY, VERB_REGRESS };
const char *verb_name(enum verb v);

/*
 * TensorFlow Serving REST bodies into rows (a new reference):
 * predict takes "instances" (rows) or "inputs" (rows, or an object of
 * equally long columns); classify and regress take "examples" (objects,
 * each merged over "context") or "instances". *columnar tells whether the
 * answer is named "outputs" (the request used "inputs").
 */
int tfs_rows(json_t *body, enum verb v, const struct in_schema *s, json_t **rows, bool *columnar, oast_err *e);

/*
 * A KServe v2 infer body into rows: one input of shape [n, ...] gives n
 * rows of that inner shape; several inputs of shape [n] or [n, 1] are
 * columns (rows of objects when the schema names them all, else lists in
 * the inputs' order). Shapes, data lengths and datatypes are checked.
 */
int v2_rows(json_t *body, const struct in_schema *s, json_t **rows, oast_err *e);

/* One KServe v2 output tensor {"name", "datatype", "shape", "data"} of per-row outputs. */
json_t *v2_output(json_t *outputs, const char *name);

/* Appends the shortest decimal text that reads back as the same float. */
void float_text(float f, char *out, size_t n);

#endif
