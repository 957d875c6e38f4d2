/*
 * crypto.h — randomness and hashing for secrets, over GnuTLS.
 *
 * API keys and tokens are 32 random bytes shown once as hex; the server
 * stores only their SHA-256, which is enough for secrets of that entropy
 * and keeps lookups a single indexed query. Passwords, which are low
 * entropy, use argon2id (auth/password.c).
 */
#ifndef UTIL_CRYPTO_H
#define UTIL_CRYPTO_H

#include <stddef.h>

/* Fills buf with n cryptographically random bytes. 0 or -1. */
int crypto_random(void *buf, size_t n);
/* out must hold 2*n+1 chars. */
void crypto_hex(const void *in, size_t n, char *out);
/* SHA-256 of s as 64 hex chars + NUL into out[65]. */
void crypto_sha256_hex(const void *data, size_t n, char out[65]);
/* A new secret: prefix + 64 hex chars; caller frees. */
char *crypto_new_secret(const char *prefix);
/* Constant-time comparison of n bytes. */
int crypto_equal(const void *a, const void *b, size_t n);

#endif
