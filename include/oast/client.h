/*
 * oast/client.h — liboast, the C client of the Oast REST API.
 *
 * A client holds the server's address and a credential (an API key or a
 * login token, both sent as `Authorization: Bearer`), and one libcurl
 * handle so consecutive calls reuse the connection. Calls are blocking.
 * One client must not be used by two threads at once; separate clients
 * may.
 *
 * Requests speak text: a call takes a JSON body as text and returns the
 * answer's body as text, so this header needs no JSON library. (The `oast`
 * CLI, which is built with jansson, uses the parsed form through an
 * internal header, src/client/client_json.h.) Files travel as raw bytes,
 * streamed in both directions with a fixed-size buffer and never held in
 * memory whole; a progress callback sees every chunk.
 *
 * Paths are relative to the API base `ADDR/api/v1` and begin with '/'
 * (`/projects/demo/files/Resources/a.csv?op=stat`). Names and file paths
 * put into them must be percent-encoded with oast_escape(). Paths are sent
 * as given: "." and ".." segments are not folded away but reach the
 * server, which refuses them.
 *
 * Every call returns 0 or a negative OAST_E* code (oast/error.h) and fills
 * the caller's oast_err with a sentence for a person. When the server
 * answered with an error, the code is the one its body names
 * ({"error": {"code", "message"}}) and the sentence is the server's own
 * message; when the server cannot be reached, the code is OAST_ECONNECT
 * and the sentence names the address.
 *
 * Strings returned through out-parameters are allocated with malloc and
 * owned by the caller, who releases them with free().
 */
#ifndef OAST_CLIENT_H
#define OAST_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "oast/error.h"
#include "oast/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The address a client uses when it is given none. */
#define OAST_DEFAULT_ADDR "http://127.0.0.1:7070"
/* The most response body text oast_request buffers (64 MiB). */
#define OAST_RESPONSE_MAX ((size_t)64 << 20)

typedef struct oast_client oast_client;

/*
 * Progress of a transfer: `done` bytes of `total` sent (uploads) or
 * received (downloads); total is 0 while unknown (a stream of unknown
 * length, or before the answer's headers). Called often, from inside the
 * transfer. Returning non-zero cancels the transfer, which then fails
 * with OAST_EIO "cancelled".
 */
typedef int (*oast_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
 * A client of the server at addr ("http://host:port" or "https://…"; a
 * bare "host:port" means http). NULL addr means OAST_DEFAULT_ADDR. key is
 * the bearer credential, NULL for none (only GET /health is open). Both
 * are copied. Returns NULL only when libcurl cannot be initialised.
 * Release with oast_client_free.
 */
oast_client *oast_client_new(const char *addr, const char *key);
/* Frees c; NULL is allowed. */
void oast_client_free(oast_client *c);
/* Replaces the credential (copied; NULL for none). */
void oast_client_set_key(oast_client *c, const char *key);
/* The normalized address ("http://host:port", no trailing slash); owned by c. */
const char *oast_client_addr(const oast_client *c);

/*
 * Percent-encodes s for use in a path: everything but letters, digits,
 * "-._~:" and, when keep_slash is non-zero, '/'. Caller frees.
 */
char *oast_escape(const char *s, int keep_slash);

/*
 * Sends METHOD path with body (JSON text, or NULL for no body). On a 2xx
 * answer returns 0, sets *status and *response (the body, NUL-terminated,
 * "" when the answer has none). On failure returns the error code, sets
 * *status to the HTTP status (0 when there was no answer) and *response
 * to NULL. status and response may be NULL when not wanted. Bodies over
 * OAST_RESPONSE_MAX fail with OAST_ETOO_LARGE.
 */
int oast_request(oast_client *c, const char *method, const char *path, const char *body, int *status,
                 char **response, oast_err *e);

/*
 * GET path and return its body as text, at most max bytes (larger answers
 * fail with OAST_ETOO_LARGE). *text is NUL-terminated; *len (may be NULL)
 * excludes the NUL.
 */
int oast_get_text(oast_client *c, const char *path, size_t max, char **text, size_t *len, oast_err *e);

/*
 * PUT path with the bytes read from `in` until its end, streamed. size is
 * the number of bytes that will be read, or -1 when unknown (the body is
 * then sent chunked). Answer as for oast_request.
 */
int oast_upload(oast_client *c, const char *path, FILE *in, int64_t size, oast_progress_fn progress, void *arg,
                int *status, char **response, oast_err *e);
/* oast_upload of the regular file at local_path. */
int oast_upload_file(oast_client *c, const char *path, const char *local_path, oast_progress_fn progress,
                     void *arg, int *status, char **response, oast_err *e);

/*
 * oast_upload with another method and the body's Content-Type: sends
 * METHOD path (for instance POST to a feature group's data) with the
 * bytes read from `in`, streamed, labelled content_type (NULL:
 * application/octet-stream). size as for oast_upload; answer as for
 * oast_request.
 */
int oast_send(oast_client *c, const char *method, const char *path, const char *content_type, FILE *in,
              int64_t size, oast_progress_fn progress, void *arg, int *status, char **response, oast_err *e);
/* oast_send of the regular file at local_path. */
int oast_send_file(oast_client *c, const char *method, const char *path, const char *content_type,
                   const char *local_path, oast_progress_fn progress, void *arg, int *status, char **response,
                   oast_err *e);

/*
 * GET path and write the answer's raw bytes to `out` as they arrive. On a
 * failed answer nothing is written. *size (may be NULL) receives the byte
 * count written.
 */
int oast_download(oast_client *c, const char *path, FILE *out, oast_progress_fn progress, void *arg,
                  uint64_t *size, oast_err *e);
/*
 * GET path into the file local_path, written under a temporary name in
 * the same directory, synced and renamed over local_path only when the
 * whole body arrived: local_path holds its old content or the new one,
 * never a part. The file gets mode 0644.
 */
int oast_download_file(oast_client *c, const char *path, const char *local_path, oast_progress_fn progress,
                       void *arg, uint64_t *size, oast_err *e);

#ifdef __cplusplus
}
#endif
#endif
