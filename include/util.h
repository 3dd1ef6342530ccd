#ifndef REGISTRYD_UTIL_H
#define REGISTRYD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * util_strtou64: parse s[0..len) as a decimal number in [0, max] with no
 * sign, no spaces and no leading '+'. Returns 0 and sets *out, or -1.
 */
int util_strtou64(const char *s, size_t len, uint64_t max, uint64_t *out);

/* strlcpy(3): returns strlen(src); truncation when >= size. */
size_t util_strlcpy(char *dst, const char *src, size_t size);

/*
 * util_pct_decode: percent-decode in[0..len) (and '+' to space, as in a
 * query string) into out (NUL-terminated). Returns the decoded length, or
 * -1 on a bad escape, an encoded NUL, or when out is too small.
 */
int util_pct_decode(const char *in, size_t len, char *out, size_t outsz);

/*
 * util_query_get: find key in a raw query string "a=1&b=2" and
 * percent-decode its value into out. Returns 1 found, 0 absent, -1 when
 * the value is malformed or too long.
 */
int util_query_get(const char *query, const char *key, char *out, size_t outsz);

/*
 * util_list_has: 1 when s is an element of the comma-separated list
 * (spaces around elements ignored), else 0.
 */
int util_list_has(const char *list, const char *s);

/* Bytes util_addr_key writes at most: an IPv6 address, "/64", NUL. */
#define UTIL_ADDR_KEY_MAX 52

/*
 * util_addr_key: the key per-client caps count a client address by, into
 * out[outsz] (UTIL_ADDR_KEY_MAX is enough): an IPv4 address as it is, an
 * IPv6 address as its /64 ("2001:db8::/64"), an IPv4-mapped IPv6 address
 * as its IPv4 address; anything else is copied as it is.
 */
void util_addr_key(const char *addr, char *out, size_t outsz);

/* util_rfc3339: "2026-11-23T06:31:38Z" (UTC) into buf; needs 21 bytes. */
void util_rfc3339(time_t t, char *buf, size_t size);

/* util_uuid: a random RFC 4122 v4 uuid, lowercase, 36 chars + NUL. */
int util_uuid(char out[37]);

/* Monotonic clock in milliseconds, and in microseconds. */
uint64_t util_now_ms(void);
uint64_t util_now_us(void);

#endif /* REGISTRYD_UTIL_H */
