/*
 * Unit tests for util.c: bounded number parsing, strlcpy, percent
 * decoding, query-string lookup, RFC 3339 time, uuid shape and the
 * monotonic clock.
 */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "../../src/util.c"

#define HEX64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
test_strtou64(void)
{
	static const struct {
		const char *s;
		uint64_t max;
		int rv;
		uint64_t want;
	} t[] = {
		{ "0", 10, 0, 0 },
		{ "10", 10, 0, 10 },
		{ "11", 10, -1, 0 },
		{ "007", 10, 0, 7 },
		{ "", 10, -1, 0 },
		{ "-1", 10, -1, 0 },
		{ "+1", 10, -1, 0 },
		{ " 1", 10, -1, 0 },
		{ "1 ", 10, -1, 0 },
		{ "0x1", 10, -1, 0 },
		{ "1a", 100, -1, 0 },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -1, 0 },
		{ "99999999999999999999999", UINT64_MAX, -1, 0 },
		{ "100000", 100000, 0, 100000 },
		{ "100001", 100000, -1, 0 },
	};
	uint64_t v;
	size_t i;
	int rv;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 12345;
		rv = util_strtou64(t[i].s, strlen(t[i].s), t[i].max, &v);
		is_int(rv, t[i].rv, "strtou64(\"%s\", max %llu)", t[i].s,
		    (unsigned long long)t[i].max);
		if (rv == 0)
			ok(v == t[i].want, "strtou64(\"%s\") value", t[i].s);
		else
			ok(v == 12345, "strtou64(\"%s\") leaves out alone",
			    t[i].s);
	}
	is_int(util_strtou64("12", 1, 100, &v), 0, "explicit length");
	ok(v == 1, "explicit length: only \"1\" parsed");
	is_int(util_strtou64("1\0002", 3, 100, &v), -1, "embedded NUL");
	is_int(util_strtou64(NULL, 0, 100, &v), -1, "NULL");
}

static void
test_strlcpy(void)
{
	char buf[5];

	is_int(util_strlcpy(buf, "abc", sizeof(buf)), 3, "strlcpy fits");
	is_str(buf, "abc", "strlcpy copy");
	is_int(util_strlcpy(buf, "abcdefg", sizeof(buf)), 7,
	    "strlcpy truncation returns strlen(src)");
	is_str(buf, "abcd", "strlcpy truncated and terminated");
	buf[0] = 'x';
	is_int(util_strlcpy(buf, "abc", 0), 3, "strlcpy size 0");
	ok(buf[0] == 'x', "strlcpy size 0 writes nothing");
}

static void
test_pct_decode(void)
{
	static const struct {
		const char *in;
		int rv;
		const char *out;
	} t[] = {
		{ "", 0, "" },
		{ "abc", 3, "abc" },
		{ "a%2Fb", 3, "a/b" },
		{ "a%2fb", 3, "a/b" },
		{ "sha256%3A" HEX64, 71, "sha256:" HEX64 },
		{ "a+b", 3, "a b" },
		{ "%2e%2e", 2, ".." },
		{ "%", -1, NULL },
		{ "%2", -1, NULL },
		{ "a%", -1, NULL },
		{ "%zz", -1, NULL },
		{ "%2g", -1, NULL },
		{ "%00", -1, NULL },
		{ "a%00b", -1, NULL },
		{ "%25", 1, "%" },
		{ "%ff", 1, "\xff" },
	};
	char out[128];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rv = util_pct_decode(t[i].in, strlen(t[i].in), out,
		    sizeof(out));

		is_int(rv, t[i].rv, "pct_decode(\"%.20s\")", t[i].in);
		if (t[i].out != NULL && rv >= 0)
			is_str(out, t[i].out, "pct_decode(\"%.20s\") value",
			    t[i].in);
	}
	is_int(util_pct_decode("abcd", 4, out, 4), -1, "no room for NUL");
	is_int(util_pct_decode("abc", 3, out, 4), 3, "exact fit");
	is_int(util_pct_decode("%41%42%43", 9, out, 4), 3,
	    "decoded length counts, not input length");
	is_int(util_pct_decode("a\0b", 3, out, sizeof(out)), -1,
	    "raw NUL in input");
	is_int(util_pct_decode("abc", 3, out, 0), -1, "outsz 0");
}

static void
test_query(void)
{
	const char *q = "digest=sha256%3A" HEX64 "&from=library%2Fx&mount="
			"sha256%3A" HEX64;
	char out[128], small[8];

	is_int(util_query_get(q, "digest", out, sizeof(out)), 1, "digest found");
	is_str(out, "sha256:" HEX64, "digest decoded");
	is_int(util_query_get(q, "from", out, sizeof(out)), 1, "from found");
	is_str(out, "library/x", "from decoded");
	is_int(util_query_get(q, "mount", out, sizeof(out)), 1, "last key");
	is_str(out, "sha256:" HEX64, "mount decoded");
	is_int(util_query_get(q, "dig", out, sizeof(out)), 0,
	    "prefix of a key does not match");
	is_int(util_query_get(q, "digestx", out, sizeof(out)), 0,
	    "longer key does not match");
	is_int(util_query_get(q, "x", out, sizeof(out)), 0, "absent");
	is_int(util_query_get("", "n", out, sizeof(out)), 0, "empty query");
	is_int(util_query_get(NULL, "n", out, sizeof(out)), 0, "NULL query");

	is_int(util_query_get("n=1&n=2", "n", out, sizeof(out)), 1,
	    "repeated key");
	is_str(out, "1", "first match wins");
	is_int(util_query_get("n=&last=a", "n", out, sizeof(out)), 1,
	    "empty value");
	is_str(out, "", "empty value decoded");
	is_int(util_query_get("a&n", "n", out, sizeof(out)), 1, "bare key");
	is_str(out, "", "bare key has empty value");
	is_int(util_query_get("&&n=5&", "n", out, sizeof(out)), 1,
	    "empty pairs skipped");
	is_str(out, "5", "value after empty pairs");
	is_int(util_query_get("%6e=7", "n", out, sizeof(out)), 1,
	    "key is decoded before comparing");
	is_str(out, "7", "encoded key value");
	is_int(util_query_get("%zz=1&n=3", "n", out, sizeof(out)), 1,
	    "a bad key is skipped");
	is_str(out, "3", "value after bad key");
	is_int(util_query_get("n=%zz", "n", out, sizeof(out)), -1,
	    "bad escape in value");
	is_int(util_query_get("n=%00", "n", out, sizeof(out)), -1,
	    "encoded NUL in value");
	is_int(util_query_get("n=123456789", "n", small, sizeof(small)), -1,
	    "value too long");
	is_int(util_query_get("n=1=2", "n", out, sizeof(out)), 1,
	    "second '=' is part of the value");
	is_str(out, "1=2", "value with '='");
}

static void
test_time(void)
{
	char buf[32], small[10];
	uint64_t a, b;

	util_rfc3339(0, buf, sizeof(buf));
	is_str(buf, "1970-01-01T00:00:00Z", "rfc3339 epoch");
	util_rfc3339(1795415498, buf, sizeof(buf));
	is_str(buf, "2026-11-23T06:31:38Z", "rfc3339 example from util.h");
	util_rfc3339(1795415498, buf, 21);
	is_str(buf, "2026-11-23T06:31:38Z", "rfc3339 with 21 bytes");
	util_rfc3339(1795415498, small, sizeof(small));
	is_str(small, "", "rfc3339 into too small a buffer is empty");

	a = util_now_ms();
	b = util_now_ms();
	ok(a > 0 && b >= a, "monotonic clock does not go back");
}

static void
test_uuid(void)
{
	char a[37], b[37];
	size_t i;
	int shape = 1;

	is_int(util_uuid(a), 0, "uuid a");
	is_int(util_uuid(b), 0, "uuid b");
	is_int(strlen(a), 36, "uuid length");
	ok(strcmp(a, b) != 0, "two uuids differ");
	for (i = 0; i < 36; i++) {
		char c = a[i];

		if (i == 8 || i == 13 || i == 18 || i == 23)
			shape &= c == '-';
		else
			shape &= (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
	}
	ok(shape, "uuid shape 8-4-4-4-12 lowercase hex: %s", a);
	ok(a[14] == '4', "uuid version 4");
	ok(strchr("89ab", a[19]) != NULL, "uuid RFC 4122 variant");
}

static void
test_addr_key(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
	    {"127.0.0.1", "127.0.0.1"},
	    {"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
	    {"2001:db8:1:2::ffff", "2001:db8:1:2::/64"},
	    {"::1", "::/64"},
	    {"fe80::1", "fe80::/64"},
	    {"::ffff:192.0.2.7", "192.0.2.7"},
	    {"?", "?"},
	    {"not an address", "not an address"},
	};
	char out[UTIL_ADDR_KEY_MAX];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		util_addr_key(t[i].in, out, sizeof(out));
		is_str(out, t[i].want, "addr key of %s", t[i].in);
	}
	util_addr_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", out,
	    sizeof(out));
	is_str(out, "ffff:ffff:ffff:ffff::/64", "the longest /64 fits");
}

static void
test_list_has(void)
{
	ok(util_list_has("10.0.0.1, 10.0.0.2", "10.0.0.2"), "list: second");
	ok(util_list_has(" ::1 ,127.0.0.1", "::1"), "list: spaces");
	ok(!util_list_has("10.0.0.1,10.0.0.2", "10.0.0."), "list: prefix");
	ok(!util_list_has("10.0.0.10", "10.0.0.1"), "list: longer element");
	ok(!util_list_has("", ""), "list: empty");
	ok(!util_list_has(",,", ""), "list: empty elements");
}

int
main(void)
{
	test_addr_key();
	test_list_has();
	test_strtou64();
	test_strlcpy();
	test_pct_decode();
	test_query();
	test_time();
	test_uuid();
	return done_testing();
}
