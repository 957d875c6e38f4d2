/*
 * client_json.h — liboast calls with parsed JSON, for Oast's own programs
 * (the CLI) that are built with jansson. The public header oast/client.h
 * speaks JSON text so that library users need no JSON library; this one
 * is the same request with json_t in and out. Not installed.
 */
#ifndef CLIENT_CLIENT_JSON_H
#define CLIENT_CLIENT_JSON_H

#include <jansson.h>

#include "oast/client.h"

/*
 * oast_request with a parsed body: `body` (borrowed, may be NULL) is
 * serialized; on success *out (may be NULL when unwanted) receives the
 * parsed answer, a new reference the caller json_decref()s, or NULL when
 * the answer has no body (204). A 2xx body that is not JSON fails with
 * OAST_EINTERNAL.
 */
int client_request_json(oast_client *c, const char *method, const char *path, json_t *body, int *status,
                        json_t **out, oast_err *e);

#endif
