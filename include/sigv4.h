#ifndef REGISTRYD_SIGV4_H
#define REGISTRYD_SIGV4_H

/*
 * sigv4.c: AWS Signature Version 4 (header and query-string forms), as S3
 * wants it: the path is encoded once and never normalised, the query is
 * sorted and AWS-encoded with "key=" for valueless parameters, and the
 * signed headers are sorted by name. Pure functions over OpenSSL: the
 * time is a parameter, so tests can replay AWS's published examples.
 * Nothing here logs; the secret is never copied out.
 */

#include <stddef.h>
#include <time.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED  "UNSIGNED-PAYLOAD"
#define SIGV4_EMPTY_SHA256                                                     \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIGV4_HEX_LEN     65 /* 64 hex digits and NUL */
#define SIGV4_AMZDATE_LEN 17 /* "20130524T000000Z" and NUL */

/* Credentials and the scope's region and service ("s3"). */
struct sigv4_key {
	const char *sk_access;
	const char *sk_secret;
	const char *sk_region;
	const char *sk_service;
};

/* A header or a query parameter; sv_value may be NULL for a parameter. */
struct sigv4_pair {
	const char *sv_name;
	const char *sv_value;
};

struct sigv4_request {
	const char *sr_method;
	const char *sr_path; /* raw, from '/': encoded here, '/' kept */
	const struct sigv4_pair *sr_params; /* raw query parameters */
	size_t sr_nparams;
	const struct sigv4_pair *sr_headers; /* every header to sign: host,
	                                      * x-amz-date and (header form)
	                                      * x-amz-content-sha256 too */
	size_t sr_nheaders;
	const char *sr_payload; /* hex SHA-256 of the body, or
	                         * SIGV4_UNSIGNED */
};

/* sigv4_amzdate: t as "YYYYMMDDTHHMMSSZ" (UTC). */
void sigv4_amzdate(time_t t, char out[SIGV4_AMZDATE_LEN]);

/* sigv4_sha256_hex: lowercase hex SHA-256 of buf. -1 if OpenSSL fails. */
int sigv4_sha256_hex(const void *buf, size_t len, char out[SIGV4_HEX_LEN]);

/*
 * sigv4_uri_encode: A-Z a-z 0-9 - . _ ~ kept, '/' kept if keep_slash,
 * every other byte as %XX (upper-case hex). malloc'd, NULL on ENOMEM.
 */
char *sigv4_uri_encode(const char *s, int keep_slash);

/*
 * sigv4_canonical_query: the parameters encoded and sorted by name then
 * value, joined with '&'; a NULL value is written "name=". Also the query
 * to send, so that what is signed is what goes on the wire. malloc'd
 * ("" when n is 0), NULL on ENOMEM.
 */
char *sigv4_canonical_query(const struct sigv4_pair *, size_t n);

/*
 * sigv4_canonical_request: the canonical request of r; *signed_headers
 * (malloc'd too, if not NULL) gets the "a;b;c" list. Header names are
 * lower-cased and sorted by name; values trimmed, inner runs of spaces
 * folded; a repeated name joins its values with ','. malloc'd, NULL with
 * errno.
 */
char *
sigv4_canonical_request(const struct sigv4_request *r, char **signed_headers);

/*
 * sigv4_string_to_sign: the algorithm, amzdate, the scope and the hash
 * of creq. malloc'd, NULL with errno.
 */
char *sigv4_string_to_sign(const struct sigv4_key *, const char *amzdate,
    const char *creq);

/*
 * sigv4_signature: the hex HMAC of sts under the key derived from the
 * secret, amzdate's day, the region and the service. 0, or -1 if OpenSSL
 * fails.
 */
int sigv4_signature(const struct sigv4_key *, const char *amzdate,
    const char *sts, char out[SIGV4_HEX_LEN]);

/*
 * sigv4_authorization: the Authorization header's value for r at time t
 * ("AWS4-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...").
 * The caller puts x-amz-date (sigv4_amzdate(t)) among r's headers.
 * malloc'd, NULL with errno.
 */
char *sigv4_authorization(const struct sigv4_key *,
    const struct sigv4_request *r, time_t t);

/*
 * sigv4_presign_query: the query string of a presigned URL for r at time
 * t, valid expires seconds: r's parameters plus X-Amz-Algorithm,
 * -Credential, -Date, -Expires, -SignedHeaders (r's headers, at least
 * host), sorted, then X-Amz-Signature. The payload is UNSIGNED-PAYLOAD.
 * malloc'd, NULL with errno.
 */
char *sigv4_presign_query(const struct sigv4_key *,
    const struct sigv4_request *r, time_t t, int expires);

#endif /* REGISTRYD_SIGV4_H */
