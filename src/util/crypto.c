/* crypto.c — GnuTLS-backed randomness and SHA-256 (see crypto.h). */
#include "util/crypto.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "util/alloc.h"

int crypto_random(void *buf, size_t n) { return gnutls_rnd(GNUTLS_RND_KEY, buf, n) == 0 ? 0 : -1; }

void crypto_hex(const void *in, size_t n, char *out) {
  static const char hx[] = "0123456789abcdef";
  const unsigned char *p = in;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hx[p[i] >> 4];
    out[2 * i + 1] = hx[p[i] & 15];
  }
  out[2 * n] = '\0';
}

void crypto_sha256_hex(const void *data, size_t n, char out[65]) {
  unsigned char d[32];
  gnutls_hash_fast(GNUTLS_DIG_SHA256, data, n, d);
  crypto_hex(d, 32, out);
}

char *crypto_new_secret(const char *prefix) {
  unsigned char r[32];
  char hex[65];
  if (crypto_random(r, sizeof r) != 0) abort();
  crypto_hex(r, sizeof r, hex);
  return xasprintf("%s%s", prefix, hex);
}

int crypto_equal(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  unsigned char acc = 0;
  for (size_t i = 0; i < n; i++) acc |= x[i] ^ y[i];
  return acc == 0;
}
