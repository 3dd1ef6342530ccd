/*
 * digest.c: content digests. registryd accepts exactly one form,
 * "sha256:" followed by 64 lowercase hex digits, and computes SHA-256 with
 * OpenSSL EVP so that the SHA-NI code path is used for multi-gigabyte
 * layers streamed through digest_ctx_update.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"

#define DIGEST_PREFIX     "sha256:"
#define DIGEST_PREFIX_LEN (sizeof(DIGEST_PREFIX) - 1)
#define DIGEST_HEX_LEN    64
#define DIGEST_RAW_LEN    32

/*
 * An incremental SHA-256. d_failed remembers an EVP failure from a void
 * function (update, reset) so that the next peek reports it instead of
 * returning the digest of a partial stream.
 */
struct digest_ctx {
	EVP_MD_CTX *d_md; /* owned */
	int d_failed;
};

static void digest_format(const unsigned char *, char[DIGEST_BUFSZ]);

static void
digest_format(const unsigned char *raw, char out[DIGEST_BUFSZ])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	char *p;

	memcpy(out, DIGEST_PREFIX, DIGEST_PREFIX_LEN);
	p = out + DIGEST_PREFIX_LEN;
	for (i = 0; i < DIGEST_RAW_LEN; i++) {
		*p++ = hex[raw[i] >> 4];
		*p++ = hex[raw[i] & 0xf];
	}
	*p = '\0';
}

/*
 * digest_is_valid: 1 when s[0..len) is exactly "sha256:" + 64 lowercase
 * hex digits, else 0. The length is explicit, so an embedded NUL makes the
 * string invalid rather than silently shortening it.
 */
int
digest_is_valid(const char *s, size_t len)
{
	size_t i;
	char c;

	if (s == NULL || len != DIGEST_MAX_LEN)
		return 0;
	if (memcmp(s, DIGEST_PREFIX, DIGEST_PREFIX_LEN) != 0)
		return 0;
	for (i = DIGEST_PREFIX_LEN; i < len; i++) {
		c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 1;
}

/*
 * digest_hex: the 64 hex digits of a digest that digest_is_valid accepted.
 * The result points into s (borrowed, same lifetime).
 */
const char *
digest_hex(const char *s)
{
	return s + DIGEST_PREFIX_LEN;
}

/*
 * digest_buf: SHA-256 of buf[0..len) as "sha256:<hex>" into out. EVP can
 * only fail here on allocation failure; out is then "", which never equals
 * a valid digest, so a caller comparing digests fails closed.
 */
void
digest_buf(const void *buf, size_t len, char out[DIGEST_BUFSZ])
{
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int rawlen = 0;

	if (EVP_Digest(buf, len, raw, &rawlen, EVP_sha256(), NULL) != 1 ||
	    rawlen != DIGEST_RAW_LEN) {
		out[0] = '\0';
		return;
	}
	digest_format(raw, out);
}

/*
 * digest_ctx_new: a fresh SHA-256 context, owned by the caller (free with
 * digest_ctx_free). NULL on allocation or initialisation failure.
 */
struct digest_ctx *
digest_ctx_new(void)
{
	struct digest_ctx *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->d_md = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (EVP_DigestInit_ex(d->d_md, EVP_sha256(), NULL) != 1)
		goto fail;
	return d;
fail:
	EVP_MD_CTX_free(d->d_md);
	free(d);
	return NULL;
}

/*
 * digest_ctx_update: hash len more bytes. A failure is remembered and
 * reported by the next digest_ctx_peek.
 */
void
digest_ctx_update(struct digest_ctx *d, const void *buf, size_t len)
{
	if (d == NULL || d->d_failed || len == 0)
		return;
	if (EVP_DigestUpdate(d->d_md, buf, len) != 1)
		d->d_failed = 1;
}

/*
 * digest_ctx_peek: the digest of everything hashed so far into out,
 * without ending the context: a copy is finalised, so an upload can check
 * its digest and keep going. Returns 0, or -1 (out is then "").
 */
int
digest_ctx_peek(struct digest_ctx *d, char out[DIGEST_BUFSZ])
{
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int rawlen = 0;
	EVP_MD_CTX *copy;
	int rv = -1;

	out[0] = '\0';
	if (d == NULL || d->d_failed)
		return -1;
	if ((copy = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_MD_CTX_copy_ex(copy, d->d_md) != 1)
		goto done;
	if (EVP_DigestFinal_ex(copy, raw, &rawlen) != 1 ||
	    rawlen != DIGEST_RAW_LEN)
		goto done;
	digest_format(raw, out);
	rv = 0;
done:
	EVP_MD_CTX_free(copy);
	return rv;
}

/*
 * digest_ctx_reset: start over with an empty stream (a restarted upload).
 * A failure is remembered and reported by the next digest_ctx_peek.
 */
void
digest_ctx_reset(struct digest_ctx *d)
{
	if (d == NULL)
		return;
	d->d_failed = 0;
	if (EVP_DigestInit_ex(d->d_md, EVP_sha256(), NULL) != 1)
		d->d_failed = 1;
}

/* digest_ctx_free: release d and its EVP context; NULL is a no-op. */
void
digest_ctx_free(struct digest_ctx *d)
{
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->d_md);
	free(d);
}
