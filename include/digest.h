#ifndef REGISTRYD_DIGEST_H
#define REGISTRYD_DIGEST_H

#include <stddef.h>

#include "bounds.h"

/* "sha256:" + 64 hex + NUL */
#define DIGEST_BUFSZ (DIGEST_MAX_LEN + 1)

/*
 * digest_is_valid: 1 when s[0..len) is exactly "sha256:" followed by 64
 * lowercase hex digits, else 0. Other algorithms are not accepted (the
 * OCI spec lets a registry refuse them with DIGEST_INVALID).
 */
int digest_is_valid(const char *s, size_t len);

/* The hex part of a valid digest string (points into s). */
const char *digest_hex(const char *s);

/* digest_buf: SHA-256 of buf, written as "sha256:<hex>" into out. */
void digest_buf(const void *buf, size_t len, char out[DIGEST_BUFSZ]);

/*
 * Incremental SHA-256 over OpenSSL EVP. The context is owned by the caller:
 * digest_ctx_new returns NULL on allocation failure, digest_ctx_free(NULL)
 * is a no-op. digest_ctx_peek writes the digest of everything so far without
 * ending the context (it finalises a copy).
 */
struct digest_ctx;
struct digest_ctx *digest_ctx_new(void);
void digest_ctx_update(struct digest_ctx *, const void *, size_t);
int digest_ctx_peek(struct digest_ctx *, char out[DIGEST_BUFSZ]);
void digest_ctx_reset(struct digest_ctx *);
void digest_ctx_free(struct digest_ctx *);

#endif /* REGISTRYD_DIGEST_H */
