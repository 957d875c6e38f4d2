/*
 * yaml.h — one YAML document to a jansson value, for pipeline files and
 * other configuration that users may write in YAML instead of JSON.
 *
 * Block and flow mappings and sequences become objects and arrays. Plain
 * scalars are typed by the YAML 1.2 core schema: null (`null`, `Null`,
 * `NULL`, `~`, empty), booleans (`true`/`false` in three casings),
 * integers (decimal, `0o` octal, `0x` hex; out of 64-bit range is an
 * error), floats (`1.5`, `2e3`, `.5`), everything else a string. Quoted,
 * literal (`|`) and folded (`>`) scalars are always strings. The explicit
 * tags !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are
 * honoured; any other tag is refused. `.inf` and `.nan` are refused since
 * JSON cannot hold them.
 *
 * Anchors and aliases are resolved by copying the anchored value, and
 * every copied node counts against the node cap, so an alias bomb
 * ("billion laughs") fails fast instead of exhausting memory. Mapping keys
 * must be scalars (they become JSON strings as written); a duplicate key
 * is an error. Only one document per text. Input size, nesting depth and
 * node count are capped; errors are 400 (413 for the size caps) and name
 * the line and column.
 */
#ifndef UTIL_YAML_H
#define UTIL_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "oast/error.h"

#define YAML_JSON_MAX_BYTES (1u << 20)
#define YAML_JSON_MAX_DEPTH 64
#define YAML_JSON_MAX_NODES 100000

/*
 * Parses text (len bytes, no NUL needed) into *out, a new reference the
 * caller releases with json_decref. An empty text gives JSON null.
 */
int yaml_to_json(const char *text, size_t len, json_t **out, oast_err *e);

#endif
