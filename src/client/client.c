/*
 * client.c — the liboast client handle and the one function that runs a
 * request (see oast/client.h).
 *
 * Every call, JSON or file, is a `struct xfer` run by client_perform: it
 * resets the client's curl handle (which keeps its connection cache),
 * sets the method, headers and body, sends the request and then sorts the
 * outcome into three cases. A 2xx answer is success. Any other answer is
 * an error whose code and sentence come from the server's error body
 * {"error": {"code", "message"}}, so the caller shows the server's own
 * words; a body that is not in that shape still gives a code from the
 * HTTP status. No answer at all is a transport error, reported with the
 * server's address so a person sees where the client tried to go.
 *
 * The answer's body is routed once, on its first byte, when the status is
 * known: a successful download streams to its sink, everything else goes
 * into a capped buffer. So an error answer never ends up inside a
 * downloaded file, and nothing from the network is held without a bound.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>

#include "client/client_internal.h"
#include "client/client_json.h"
#include "oast/version.h"
#include "util/alloc.h"
#include "util/path.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *normalize_addr(const char *addr) {
  if (!addr || !*addr) addr = OAST_DEFAULT_ADDR;
  char *a = strstr(addr, "://") ? xstrdup(addr) : xasprintf("http://%s", addr);
  size_t n = strlen(a);
  while (n > 0 && a[n - 1] == '/') a[--n] = '\0';
  return a;
}

oast_client *oast_client_new(const char *addr, const char *key) {
  pthread_once(&curl_once, curl_init_once);
  CURL *curl = curl_easy_init();
  if (!curl) return NULL;
  oast_client *c = xcalloc(1, sizeof *c);
  c->curl = curl;
  c->addr = normalize_addr(addr);
  c->key = key ? xstrdup(key) : NULL;
  return c;
}

void oast_client_free(oast_client *c) {
  if (!c) return;
  curl_easy_cleanup(c->curl);
  free(c->addr);
  free(c->key);
  free(c);
}

void oast_client_set_key(oast_client *c, const char *key) {
  free(c->key);
  c->key = key ? xstrdup(key) : NULL;
}

const char *oast_client_addr(const oast_client *c) { return c->addr; }

char *oast_escape(const char *s, int keep_slash) { return url_encode(s, keep_slash != 0); }

/* ---- callbacks ---- */

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg) {
  struct xfer *x = arg;
  size_t n = size * nmemb;
  if (x->sink == 0) {
    x->sink = 2;
    if (x->status >= 200 && x->status < 300 && (x->out || x->tmp)) x->sink = 1;
  }
  if (x->sink == 1) {
    if (x->tmp) {
      if (fs_tmp_write(x->tmp, data, n, &x->cb_err) != 0) {
        x->failed = true;
        return 0;
      }
    } else if (fwrite(data, 1, n, x->out) != n) {
      x->failed = true;
      oast_err_set(&x->cb_err, OAST_EIO, "cannot write the downloaded data: %s", strerror(errno));
      return 0;
    }
    x->written += n;
    return n;
  }
  if (buf_append(&x->resp, data, n) != 0) {
    x->failed = true;
    oast_err_set(&x->cb_err, OAST_ETOO_LARGE, "the server's answer is larger than %zu bytes", x->resp.max);
    return 0;
  }
  return n;
}

/* Headers arrive before the body: this is where the status becomes known. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg) {
  struct xfer *x = arg;
  size_t n = size * nmemb;
  if (n > 5 && memcmp(data, "HTTP/", 5) == 0) {
    const char *sp = memchr(data, ' ', n);
    if (sp) x->status = strtol(sp + 1, NULL, 10);
  }
  return n;
}

static size_t on_read(char *data, size_t size, size_t nmemb, void *arg) {
  struct xfer *x = arg;
  size_t n = fread(data, 1, size * nmemb, x->in);
  if (n == 0 && ferror(x->in)) {
    x->failed = true;
    oast_err_set(&x->cb_err, OAST_EIO, "cannot read %s: %s", x->in_name ? x->in_name : "the upload",
                 strerror(errno));
    return CURL_READFUNC_ABORT;
  }
  return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  struct xfer *x = arg;
  uint64_t done, total;
  if (x->in) {
    done = (uint64_t)ulnow;
    total = ultotal > 0 ? (uint64_t)ultotal : x->in_size >= 0 ? (uint64_t)x->in_size : 0;
  } else {
    if (x->sink != 1) return 0;
    done = (uint64_t)dlnow;
    total = dltotal > 0 ? (uint64_t)dltotal : 0;
  }
  if (x->progress(x->progress_arg, done, total) != 0) {
    x->failed = true;
    oast_err_set(&x->cb_err, OAST_EIO, "cancelled");
    return 1;
  }
  return 0;
}

/* ---- outcome ---- */

static int code_of_status(long status) {
#define ROW(n, v, s, h, m) \
  if (h == status && v != 0) return v;
  OAST_ERRORS(ROW)
#undef ROW
  return status >= 500 ? OAST_EINTERNAL : OAST_EBAD_REQUEST;
}

/* The error of a non-2xx answer, from its body when it has the API's error shape. */
static int answer_error(oast_client *c, struct xfer *x, oast_err *e) {
  json_t *j = x->resp.len ? json_loadb(x->resp.data, x->resp.len, 0, NULL) : NULL;
  json_t *err = j ? json_object_get(j, "error") : NULL;
  const char *code = json_string_value(json_object_get(err, "code"));
  const char *msg = json_string_value(json_object_get(err, "message"));
  int rc;
  if (code && msg && *msg) {
    rc = oast_err_set(e, oast_err_from_name(code), "%s", msg);
  } else {
    rc = code_of_status(x->status);
    /* Not an Oast error body: show its first line, without control characters. */
    char line[200] = "";
    size_t k = 0;
    for (size_t i = 0; x->resp.data && i < x->resp.len && k + 1 < sizeof line; i++) {
      unsigned char ch = (unsigned char)x->resp.data[i];
      if (ch == '\n' || ch == '\r') break;
      line[k++] = ch < 0x20 ? ' ' : (char)ch;
    }
    line[k] = '\0';
    oast_err_set(e, rc, "the server at %s answered HTTP %ld%s%s", c->addr, x->status, k ? ": " : "", line);
  }
  json_decref(j);
  return rc;
}

static int transport_error(oast_client *c, CURLcode cc, oast_err *e) {
  const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
  switch (cc) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
    return oast_err_set(e, OAST_ECONNECT, "cannot reach the Oast server at %s: %s", c->addr, detail);
  case CURLE_OPERATION_TIMEDOUT:
    return oast_err_set(e, OAST_ETIMEOUT, "the Oast server at %s did not answer in time: %s", c->addr, detail);
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    return oast_err_set(e, OAST_EBAD_REQUEST, "the server address \"%s\" is not a usable URL: %s", c->addr,
                        detail);
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
    return oast_err_set(e, OAST_ECONNECT, "cannot open a secure connection to the Oast server at %s: %s",
                        c->addr, detail);
  case CURLE_GOT_NOTHING:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE:
    return oast_err_set(e, OAST_ECONNECT, "lost the connection to the Oast server at %s: %s", c->addr, detail);
  default:
    return oast_err_set(e, OAST_EIO, "the request to the Oast server at %s failed: %s", c->addr, detail);
  }
}

int client_perform(oast_client *c, struct xfer *x, oast_err *e) {
  CURL *h = c->curl;
  curl_easy_reset(h);
  c->errbuf[0] = '\0';
  buf_init(&x->resp, x->resp_max ? x->resp_max : CLIENT_ERROR_BODY_MAX);
  x->status = 0;
  x->sink = 0;
  x->failed = false;
  x->written = 0;
  oast_err_clear(&x->cb_err);

  char *url = xasprintf("%s/api/v1%s", c->addr, x->path);
  struct curl_slist *hdr = NULL;
  char *auth = NULL, *ctype = NULL;
  if (c->key) {
    auth = xasprintf("Authorization: Bearer %s", c->key);
    hdr = curl_slist_append(hdr, auth);
  }
  hdr = curl_slist_append(hdr, "Accept: application/json");
  if (x->body) hdr = curl_slist_append(hdr, "Content-Type: application/json");
  if (x->in) {
    ctype = xasprintf("Content-Type: %s", x->in_type ? x->in_type : "application/octet-stream");
    hdr = curl_slist_append(hdr, ctype);
  }

  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "oast/" OAST_VERSION);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  /* Send "." and ".." segments as written, for the server to refuse; curl would otherwise fold them away. */
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
  if (x->in) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, x);
    if (x->in_size >= 0) curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->in_size);
    if (strcmp(x->method, "PUT") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
  } else if (x->body || strcmp(x->method, "POST") == 0) {
    const char *b = x->body ? x->body : "";
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b));
    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, b);
    if (strcmp(x->method, "POST") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
  } else if (strcmp(x->method, "GET") != 0) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
  }
  if (x->progress) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
  }

  CURLcode cc = curl_easy_perform(h);
  long st = 0;
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st) x->status = st;
  int rc;
  if (x->failed) {
    /* A server that refuses an upload early may close before reading it all: prefer its answer. */
    if (x->in && x->status >= 300 && x->resp.len && x->cb_err.code != OAST_EIO)
      rc = answer_error(c, x, e);
    else
      rc = oast_err_set(e, x->cb_err.code, "%s", x->cb_err.msg);
  } else if (cc != CURLE_OK) {
    if (x->status >= 300 && x->resp.len)
      rc = answer_error(c, x, e);
    else {
      x->status = 0;
      rc = transport_error(c, cc, e);
    }
  } else if (x->status < 200 || x->status >= 300) {
    rc = answer_error(c, x, e);
  } else {
    rc = 0;
  }
  curl_slist_free_all(hdr);
  free(auth);
  free(ctype);
  free(url);
  return rc;
}

/* ---- the text calls ---- */

int oast_request(oast_client *c, const char *method, const char *path, const char *body, int *status,
                 char **response, oast_err *e) {
  struct xfer x = {.method = method, .path = path, .body = body, .resp_max = OAST_RESPONSE_MAX};
  int rc = client_perform(c, &x, e);
  if (status) *status = (int)x.status;
  if (response) *response = rc == 0 ? buf_detach(&x.resp, NULL) : NULL;
  buf_release(&x.resp);
  return rc;
}

int oast_get_text(oast_client *c, const char *path, size_t max, char **text, size_t *len, oast_err *e) {
  struct xfer x = {.method = "GET", .path = path, .resp_max = max ? max : OAST_RESPONSE_MAX};
  int rc = client_perform(c, &x, e);
  *text = NULL;
  if (rc == 0) *text = buf_detach(&x.resp, len);
  buf_release(&x.resp);
  return rc;
}

int client_request_json(oast_client *c, const char *method, const char *path, json_t *body, int *status,
                        json_t **out, oast_err *e) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  char *resp = NULL;
  if (out) *out = NULL;
  int rc = oast_request(c, method, path, text, status, &resp, e);
  free(text);
  if (rc == 0 && out && resp[0]) {
    json_error_t je;
    *out = json_loads(resp, JSON_DECODE_ANY, &je);
    if (!*out)
      rc = oast_err_set(e, OAST_EINTERNAL, "the server at %s answered with malformed JSON (line %d: %s)", c->addr,
                        je.line, je.text);
  }
  free(resp);
  return rc;
}
