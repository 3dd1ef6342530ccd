/*
 * sigv4.c: AWS Signature Version 4 for S3, over OpenSSL.
 *
 * We sign ourselves rather than use libcurl's CURLOPT_AWS_SIGV4 because
 * curl 7.88 gets S3 wrong four ways (no x-amz-content-sha256, the query
 * not canonicalised, no Content-Length: 0 on a body-less PUT, signed
 * headers sorted as "name:value" strings). Strings are built with
 * open_memstream(3): each function is a short sequence of fprintf calls,
 * checked once at fclose.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sigv4.h"

#define SIGV4_RAW_LEN 32 /* SHA-256 output */

struct sigv4_sorted {
	const struct sigv4_pair *ss_pair;
	char *ss_name;   /* owned: lower-cased (header) or encoded (param) */
	char *ss_value;  /* owned: folded (header) or encoded (param) */
	size_t ss_index; /* input order: keeps equal names stable */
};

static void sigv4_hex(const unsigned char *, size_t, char *);
static int sigv4_hmac(const void *, size_t, const void *, size_t,
    unsigned char[SIGV4_RAW_LEN]);
static int sigv4_sorted_cmp(const void *, const void *);
static void sigv4_sorted_free(struct sigv4_sorted *, size_t);
static char *sigv4_fold(const char *);
static char *sigv4_lower(const char *);
static int sigv4_close(FILE *, char **);

static void
sigv4_hex(const unsigned char *raw, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		*out++ = hex[raw[i] >> 4];
		*out++ = hex[raw[i] & 0xf];
	}
	*out = '\0';
}

static int
sigv4_hmac(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char out[SIGV4_RAW_LEN])
{
	unsigned int outlen = SIGV4_RAW_LEN;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) ==
	        NULL ||
	    outlen != SIGV4_RAW_LEN)
		return -1;
	return 0;
}

/*
 * Canonical order is by byte value of the (lower-cased or encoded) name,
 * then of the value (query parameters of the same name), then input order
 * (headers of the same name, whose values are joined in that order).
 */
static int
sigv4_sorted_cmp(const void *a, const void *b)
{
	const struct sigv4_sorted *x = a, *y = b;
	int c;

	if ((c = strcmp(x->ss_name, y->ss_name)) != 0)
		return c;
	if (x->ss_value != NULL && y->ss_value != NULL &&
	    (c = strcmp(x->ss_value, y->ss_value)) != 0)
		return c;
	return x->ss_index < y->ss_index ? -1 : x->ss_index > y->ss_index;
}

static void
sigv4_sorted_free(struct sigv4_sorted *s, size_t n)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(s[i].ss_name);
		free(s[i].ss_value);
	}
	free(s);
}

/* A header value as SigV4 wants it: trimmed, runs of spaces folded. */
static char *
sigv4_fold(const char *v)
{
	char *out, *p;
	int space = 0;

	if ((out = malloc(strlen(v) + 1)) == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	for (p = out; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space && p != out)
			*p++ = ' ';
		space = 0;
		*p++ = *v;
	}
	*p = '\0';
	return out;
}

static char *
sigv4_lower(const char *s)
{
	char *out, *p;

	if ((out = strdup(s)) == NULL)
		return NULL;
	/* ASCII only, whatever the locale: header names are tokens. */
	for (p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

/* Finish an open_memstream: *buf is the string, or freed on error. */
static int
sigv4_close(FILE *f, char **buf)
{
	int bad;

	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(*buf);
		*buf = NULL;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/*
 * sigv4_amzdate: see sigv4.h.
 */
void
sigv4_amzdate(time_t t, char out[SIGV4_AMZDATE_LEN])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, SIGV4_AMZDATE_LEN, "%Y%m%dT%H%M%SZ", &tm) == 0)
		out[0] = '\0';
}

/*
 * sigv4_sha256_hex: see sigv4.h.
 */
int
sigv4_sha256_hex(const void *buf, size_t len, char out[SIGV4_HEX_LEN])
{
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int rawlen = 0;

	if (EVP_Digest(buf, len, raw, &rawlen, EVP_sha256(), NULL) != 1 ||
	    rawlen != SIGV4_RAW_LEN)
		return -1;
	sigv4_hex(raw, rawlen, out);
	return 0;
}

/*
 * sigv4_uri_encode: see sigv4.h. AWS's rule, not RFC 3986's reserved set:
 * S3 keys may hold any byte, and the signature covers the exact encoding.
 */
char *
sigv4_uri_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	char *out, *p;

	if ((out = malloc(strlen(s) * 3 + 1)) == NULL)
		return NULL;
	for (p = out; (c = (unsigned char)*s) != '\0'; s++) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || (c == '/' && keep_slash))
			*p++ = (char)c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 0xf];
		}
	}
	*p = '\0';
	return out;
}

/*
 * sigv4_canonical_query: see sigv4.h.
 */
char *
sigv4_canonical_query(const struct sigv4_pair *params, size_t n)
{
	struct sigv4_sorted *s;
	char *buf = NULL;
	size_t i, len;
	FILE *f;

	if ((s = calloc(n + 1, sizeof(*s))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		s[i].ss_pair = &params[i];
		s[i].ss_index = i;
		s[i].ss_name = sigv4_uri_encode(params[i].sv_name, 0);
		s[i].ss_value =
		    sigv4_uri_encode(params[i].sv_value ? params[i].sv_value
		                                        : "",
		        0);
		if (s[i].ss_name == NULL || s[i].ss_value == NULL) {
			sigv4_sorted_free(s, n);
			return NULL;
		}
	}
	qsort(s, n, sizeof(*s), sigv4_sorted_cmp);
	if ((f = open_memstream(&buf, &len)) == NULL) {
		sigv4_sorted_free(s, n);
		return NULL;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%s%s=%s", i ? "&" : "", s[i].ss_name,
		    s[i].ss_value);
	sigv4_sorted_free(s, n);
	if (sigv4_close(f, &buf) == -1)
		return NULL;
	return buf;
}

/*
 * sigv4_canonical_request: see sigv4.h.
 */
char *
sigv4_canonical_request(const struct sigv4_request *r, char **signed_headers)
{
	struct sigv4_sorted *h = NULL;
	char *path = NULL, *query = NULL, *hb = NULL, *sh = NULL, *v;
	char *buf = NULL;
	size_t i, n = r->sr_nheaders, hblen, shlen;
	FILE *fh = NULL, *fs = NULL;

	if (signed_headers != NULL)
		*signed_headers = NULL;
	if (r->sr_method == NULL || r->sr_path == NULL ||
	    r->sr_path[0] != '/' || r->sr_payload == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((path = sigv4_uri_encode(r->sr_path, 1)) == NULL ||
	    (query = sigv4_canonical_query(r->sr_params, r->sr_nparams)) ==
	        NULL ||
	    (h = calloc(n + 1, sizeof(*h))) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		h[i].ss_pair = &r->sr_headers[i];
		h[i].ss_index = i;
		/* ss_value stays NULL: values never reorder headers. */
		if ((h[i].ss_name = sigv4_lower(r->sr_headers[i].sv_name)) ==
		    NULL)
			goto fail;
	}
	qsort(h, n, sizeof(*h), sigv4_sorted_cmp);

	/* The header block and the signed header list, side by side. */
	if ((fh = open_memstream(&hb, &hblen)) == NULL ||
	    (fs = open_memstream(&sh, &shlen)) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((v = sigv4_fold(h[i].ss_pair->sv_value)) == NULL)
			goto fail;
		if (i > 0 && strcmp(h[i].ss_name, h[i - 1].ss_name) == 0)
			fprintf(fh, ",%s", v);
		else {
			fprintf(fh, "%s%s:%s", i ? "\n" : "", h[i].ss_name, v);
			fprintf(fs, "%s%s", i ? ";" : "", h[i].ss_name);
		}
		free(v);
	}
	i = sigv4_close(fh, &hb) == -1;
	fh = NULL;
	if (sigv4_close(fs, &sh) == -1 || i) {
		fs = NULL;
		goto fail;
	}
	fs = NULL;
	/* Each header line ends with a newline, then comes a blank line. */
	if (asprintf(&buf, "%s\n%s\n%s\n%s\n\n%s\n%s", r->sr_method, path,
	        query, hb, sh, r->sr_payload) == -1)
		goto fail;
	sigv4_sorted_free(h, n);
	free(path);
	free(query);
	free(hb);
	if (signed_headers != NULL)
		*signed_headers = sh;
	else
		free(sh);
	return buf;
fail:
	if (fh != NULL)
		fclose(fh);
	if (fs != NULL)
		fclose(fs);
	free(hb);
	free(sh);
	sigv4_sorted_free(h, n);
	free(path);
	free(query);
	errno = ENOMEM;
	return NULL;
}

/*
 * sigv4_string_to_sign: see sigv4.h.
 */
char *
sigv4_string_to_sign(const struct sigv4_key *k, const char *amzdate,
    const char *creq)
{
	char hash[SIGV4_HEX_LEN], *buf;

	if (strlen(amzdate) != SIGV4_AMZDATE_LEN - 1) {
		errno = EINVAL;
		return NULL;
	}
	if (sigv4_sha256_hex(creq, strlen(creq), hash) == -1) {
		errno = EIO;
		return NULL;
	}
	if (asprintf(&buf, "%s\n%s\n%.8s/%s/%s/aws4_request\n%s",
	        SIGV4_ALGORITHM, amzdate, amzdate, k->sk_region, k->sk_service,
	        hash) == -1)
		return NULL;
	return buf;
}

/*
 * sigv4_signature: see sigv4.h. The derived keys are wiped: with the
 * date they would sign anything in that scope for the day.
 */
int
sigv4_signature(const struct sigv4_key *k, const char *amzdate, const char *sts,
    char out[SIGV4_HEX_LEN])
{
	unsigned char key[SIGV4_RAW_LEN], sig[SIGV4_RAW_LEN];
	char *secret = NULL;
	int rc = -1;

	if (asprintf(&secret, "AWS4%s", k->sk_secret) == -1)
		return -1;
	if (sigv4_hmac(secret, strlen(secret), amzdate, 8, key) == -1 ||
	    sigv4_hmac(key, sizeof(key), k->sk_region, strlen(k->sk_region),
	        key) == -1 ||
	    sigv4_hmac(key, sizeof(key), k->sk_service, strlen(k->sk_service),
	        key) == -1 ||
	    sigv4_hmac(key, sizeof(key), "aws4_request", 12, key) == -1 ||
	    sigv4_hmac(key, sizeof(key), sts, strlen(sts), sig) == -1)
		goto done;
	sigv4_hex(sig, sizeof(sig), out);
	rc = 0;
done:
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/*
 * sigv4_authorization: see sigv4.h.
 */
char *
sigv4_authorization(const struct sigv4_key *k, const struct sigv4_request *r,
    time_t t)
{
	char amzdate[SIGV4_AMZDATE_LEN], sig[SIGV4_HEX_LEN];
	char *creq, *sts = NULL, *sh = NULL, *buf = NULL;

	sigv4_amzdate(t, amzdate);
	if ((creq = sigv4_canonical_request(r, &sh)) == NULL)
		return NULL;
	if ((sts = sigv4_string_to_sign(k, amzdate, creq)) == NULL)
		goto done;
	if (sigv4_signature(k, amzdate, sts, sig) == -1) {
		errno = EIO;
		goto done;
	}
	if (asprintf(&buf,
	        "%s Credential=%s/%.8s/%s/%s/aws4_request,SignedHeaders=%s,"
	        "Signature=%s",
	        SIGV4_ALGORITHM, k->sk_access, amzdate, k->sk_region,
	        k->sk_service, sh, sig) == -1)
		buf = NULL;
done:
	free(creq);
	free(sts);
	free(sh);
	return buf;
}

/*
 * sigv4_presign_query: see sigv4.h.
 */
char *
sigv4_presign_query(const struct sigv4_key *k, const struct sigv4_request *r,
    time_t t, int expires)
{
	struct sigv4_request pr = *r;
	struct sigv4_pair *p = NULL;
	char amzdate[SIGV4_AMZDATE_LEN], sig[SIGV4_HEX_LEN], exp[16];
	char *cred = NULL, *sh = NULL, *creq = NULL, *sts = NULL;
	char *query = NULL, *buf = NULL;
	size_t i, n = r->sr_nparams;

	sigv4_amzdate(t, amzdate);
	snprintf(exp, sizeof(exp), "%d", expires);
	/* The signed header list is part of the query, so compute it first. */
	pr.sr_params = NULL;
	pr.sr_nparams = 0;
	pr.sr_payload = SIGV4_UNSIGNED;
	if ((creq = sigv4_canonical_request(&pr, &sh)) == NULL)
		return NULL;
	free(creq);
	creq = NULL;
	if (asprintf(&cred, "%s/%.8s/%s/%s/aws4_request", k->sk_access, amzdate,
	        k->sk_region, k->sk_service) == -1) {
		cred = NULL;
		goto fail;
	}
	if ((p = calloc(n + 5, sizeof(*p))) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		p[i] = r->sr_params[i];
	p[n + 0] = (struct sigv4_pair){"X-Amz-Algorithm", SIGV4_ALGORITHM};
	p[n + 1] = (struct sigv4_pair){"X-Amz-Credential", cred};
	p[n + 2] = (struct sigv4_pair){"X-Amz-Date", amzdate};
	p[n + 3] = (struct sigv4_pair){"X-Amz-Expires", exp};
	p[n + 4] = (struct sigv4_pair){"X-Amz-SignedHeaders", sh};
	pr.sr_params = p;
	pr.sr_nparams = n + 5;
	if ((creq = sigv4_canonical_request(&pr, NULL)) == NULL ||
	    (sts = sigv4_string_to_sign(k, amzdate, creq)) == NULL)
		goto fail;
	if (sigv4_signature(k, amzdate, sts, sig) == -1) {
		errno = EIO;
		goto fail;
	}
	if ((query = sigv4_canonical_query(p, n + 5)) == NULL)
		goto fail;
	if (asprintf(&buf, "%s&X-Amz-Signature=%s", query, sig) == -1)
		buf = NULL;
fail:
	free(query);
	free(sts);
	free(creq);
	free(p);
	free(cred);
	free(sh);
	return buf;
}
