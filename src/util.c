/*
 * util.c: small helpers with no dependencies: bounded number parsing,
 * strlcpy, query-string decoding, comma lists, client address keys, time
 * formatting and random uuids. Every
 * input length is explicit, so nothing here relies on a NUL that a client
 * controls.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Longest query key util_query_get compares; longer keys never match. */
#define UTIL_QUERY_KEY_MAX 256

static int util_hexval(char);

static int
util_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * util_strtou64: parse s[0..len) as an unsigned decimal in [0, max]. Only
 * digits are accepted: no sign, no space, no "0x", not empty. Returns 0 and
 * sets *out, or -1 (out untouched).
 */
int
util_strtou64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0, d;
	size_t i;

	if (s == NULL || len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * util_strlcpy: copy src into dst[size] with NUL termination, as
 * strlcpy(3). Returns strlen(src); the copy was truncated when that is
 * >= size.
 */
size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/*
 * util_pct_decode: percent-decode in[0..len) into out[outsz] and
 * NUL-terminate it; '+' becomes a space (query-string form). An encoded
 * NUL is refused because the result is used as a C string (a name or a
 * digest) and must not be cut short. Returns the decoded length, or -1 on
 * a bad escape, "%00", or when out is too small.
 */
int
util_pct_decode(const char *in, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	if (out == NULL || outsz == 0 || (in == NULL && len > 0))
		return -1;
	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '%') {
			if (len - i < 3)
				return -1;
			if ((hi = util_hexval(in[i + 1])) < 0 ||
			    (lo = util_hexval(in[i + 2])) < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			if (c == '\0')
				return -1;
			i += 2;
		} else if (c == '+')
			c = ' ';
		else if (c == '\0')
			return -1;
		if (o + 1 >= outsz || o >= INT_MAX)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

/*
 * util_query_get: look up key in a raw query string ("a=1&b=2", without
 * the '?'). Keys are compared exactly after percent-decoding; the first
 * match wins; "key" without '=' has the empty value. The decoded value is
 * written to out[outsz]. Returns 1 found, 0 absent (or query NULL), -1
 * when the matching value is malformed or does not fit.
 */
int
util_query_get(const char *query, const char *key, char *out, size_t outsz)
{
	char kbuf[UTIL_QUERY_KEY_MAX];
	const char *p, *end, *amp, *eq;
	size_t qlen;

	if (query == NULL || key == NULL)
		return 0;
	qlen = strlen(query);
	p = query;
	end = query + qlen;
	while (p <= end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		/* A key that does not decode cannot equal ours: skip it. */
		if (util_pct_decode(p, (size_t)(eq - p), kbuf, sizeof(kbuf)) >=
		        0 &&
		    strcmp(kbuf, key) == 0) {
			if (eq == amp) {
				if (outsz == 0)
					return -1;
				out[0] = '\0';
				return 1;
			}
			if (util_pct_decode(eq + 1, (size_t)(amp - eq - 1), out,
			        outsz) < 0)
				return -1;
			return 1;
		}
		p = amp + 1;
	}
	return 0;
}

/*
 * util_list_has: s is an element of the comma-separated list; spaces
 * around elements are ignored, an empty s never matches.
 */
int
util_list_has(const char *list, const char *s)
{
	size_t n = strlen(s), len;
	const char *p = list, *end;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len > 0 && len == n && strncmp(p, s, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

/*
 * util_addr_key: addr as per-client caps count it. One host usually holds
 * a whole IPv6 /64 and picks addresses from it at will, so an IPv6 client
 * is its /64; an IPv4-mapped address (a dual-stack socket) is the IPv4
 * client it stands for, not the /64 every IPv4 client shares.
 */
void
util_addr_key(const char *addr, char *out, size_t outsz)
{
	struct in6_addr a6;
	char net[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, addr, &a6) != 1) {
		(void)util_strlcpy(out, addr, outsz);
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		if (inet_ntop(AF_INET, &a6.s6_addr[12], net, sizeof(net)) !=
		    NULL) {
			(void)util_strlcpy(out, net, outsz);
			return;
		}
	} else {
		memset(&a6.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &a6, net, sizeof(net)) != NULL) {
			(void)snprintf(out, outsz, "%s/64", net);
			return;
		}
	}
	(void)util_strlcpy(out, addr, outsz);
}

/*
 * util_rfc3339: t as "YYYY-MM-DDTHH:MM:SSZ" (UTC) into buf[size]; size
 * must be at least 21. On failure buf is "" (when size > 0).
 */
void
util_rfc3339(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (buf == NULL || size == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}

/*
 * util_uuid: a random RFC 4122 version 4 uuid, lowercase, into out[37].
 * The bytes come from getrandom(2), so upload ids cannot be guessed.
 * Returns 0, or -1 when the kernel gave no randomness (out is then "").
 */
int
util_uuid(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t got = 0, i;
	ssize_t n;
	char *p = out;

	out[0] = '\0';
	while (got < sizeof(b)) {
		n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 0xf];
	}
	*p = '\0';
	return 0;
}

/*
 * util_now_ms: CLOCK_MONOTONIC in milliseconds, for timeouts and request
 * durations (immune to wall-clock steps). 0 if the clock is unavailable.
 */
uint64_t
util_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* util_now_us: the same clock in microseconds (request durations). */
uint64_t
util_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
