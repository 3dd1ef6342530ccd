/*
 * Unit tests for auth.c: the htpasswd parser with the exact text of every
 * error, Basic header decoding, checks on a real worker pool (cache hits,
 * wrong passwords, unknown users on the dummy hash, cancellation), the
 * failure limiter, reload, creation from REGISTRY_USERNAME/PASSWORD, and
 * `registryd passwd`. Runs in a throw-away directory.
 */

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "tap.h"

#include "../../src/auth.c"

/* From htpasswd -B (apache2-utils): alice/secret1, bob/"p@ss:word". */
#define ALICE "alice:$2y$05$mjfhgFDBe4uPuK5sTZ/a5OvVIjCFUbhgYrodRB0BX0IArliFDbi3i"
#define BOB   "bob:$2y$04$8kC9WdRG/tSFmtFZE9iNiOwE3qmh6BPB3rGyioLfE6fVJeYm21JMK"
/* The same hashes under the other bcrypt prefixes. */
#define BOB_2B "bob2b:$2b$04$8kC9WdRG/tSFmtFZE9iNiOwE3qmh6BPB3rGyioLfE6fVJeYm21JMK"
#define BOB_2A "bob2a:$2a$04$8kC9WdRG/tSFmtFZE9iNiOwE3qmh6BPB3rGyioLfE6fVJeYm21JMK"
/* sha-crypt, as crypt(3) makes them. */
#define SHA5_HASH ":$5$saltsalt$3sbXmfaNbTEoCHd3PIil2xhXVuIWbx5N0HsaHhnx2d9"
#define SHA5      "sha5" SHA5_HASH
#define SHA6                                                              \
	"sha6:$6$rounds=5000$saltsalt$lY36KUD8gjV.pPdWQMGUYlg0WxkfUefZOaSK" \
	"H0w.de0n8AgJeDM0T.Qt8xl9XGpZ5Y1uAETjaeQI92QJ4CkBH0"

#define MALFORMED \
	"users:1: malformed hash, make the line again with htpasswd -B or " \
	"registryd passwd"

static struct event_base *base;
static struct config cfg;
static int got;
static enum auth_result got_rv;
static char got_user[AUTH_USER_MAX];

static void
put_file(const char *path, const char *text)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) != 0) {
		perror(path);
		exit(2);
	}
}

/* "Basic base64(cred)" into out. */
static const char *
basic(const char *cred, char *out, size_t outsz)
{
	size_t n = strlen(cred);

	if (outsz < 7 + (n + 2) / 3 * 4 + 1)
		exit(2);
	memcpy(out, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)cred,
	    (int)n);
	return out;
}

static void
done_cb(void *arg, enum auth_result rv, const char *user)
{
	(void)arg;
	got++;
	got_rv = rv;
	(void)util_strlcpy(got_user, user, sizeof(got_user));
}

/* Check cred from addr; wait for a pending check. *was_pending set. */
static enum auth_result
check(const char *cred, const char *addr, char *user, int *was_pending)
{
	char hdr[512];
	struct auth_pending *ap;
	enum auth_result rv;

	got = 0;
	rv = auth_check(cred != NULL ? basic(cred, hdr, sizeof(hdr)) : NULL,
	    addr, user, done_cb, NULL, &ap);
	if (was_pending != NULL)
		*was_pending = rv == AUTH_PENDING;
	if (rv != AUTH_PENDING)
		return rv;
	if (ap == NULL)
		return (enum auth_result)-1;
	while (!got)
		event_base_loop(base, EVLOOP_ONCE);
	(void)util_strlcpy(user, got_user, AUTH_USER_MAX);
	return got_rv;
}

/* Parse text; 0 or -1 with the message in err. */
static int
parse(const char *text, char *err, size_t errlen, struct auth_table *t)
{
	err[0] = '\0';
	return auth_parse(text, strlen(text), "users", t, err, errlen);
}

static void
expect_parse_error(const char *text, const char *msg)
{
	struct auth_table t;
	char err[512];
	int rv;

	rv = parse(text, err, sizeof(err), &t);
	ok(rv == -1 && strcmp(err, msg) == 0, "parse error: %s", msg);
	if (rv != -1 || strcmp(err, msg) != 0)
		printf("#   rv %d, err \"%s\"\n", rv, err);
	auth_table_free(&t);
}

static void
test_parse(void)
{
	static const char *unsupported[] = {
	    "carol:$apr1$gFsZf6Ij$OnHBLyadoa8koXfYRrEo50",
	    "dave:{SHA}EfatjsUqKYSrqv18O1FlA3hcIHI=",
	    "erin:pIUCQ8T4abm/g",
	    "frank:x",
	    "gina:$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
	    "hans:$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub",
	    "ivan:$y$j9T$salt$hash",
	    "judy:",
	    "karl:$2x$05$mjfhgFDBe4uPuK5sTZ/a5OvVIjCFUbhgYrodRB0BX0IArliFDbi3i",
	};
	struct auth_table t;
	char err[512], text[4096], want[256];
	size_t i;
	int rv;

	rv = parse("# users\n\n" ALICE "\r\n  " BOB "  \n" BOB_2B "\n" BOB_2A
		   "\n\t# indented comment\n" SHA5 "\n" SHA6,
	    err, sizeof(err), &t);
	is_int(rv, 0, "good file parses");
	is_str(err, "", "no message");
	is_int((long long)t.at_n, 6, "six users");
	if (rv == 0) {
		is_str(t.at_users[0].au_name, "alice", "sorted: alice first");
		is_str(t.at_users[0].au_hash, strchr(ALICE, ':') + 1,
		    "CRLF stripped from the hash");
		is_str(t.at_users[1].au_name, "bob", "bob, blanks trimmed");
	}
	auth_table_free(&t);

	rv = parse("", err, sizeof(err), &t);
	ok(rv == 0 && t.at_n == 0, "empty file: no users");
	auth_table_free(&t);

	for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		snprintf(text, sizeof(text), ALICE "\n%s\n", unsupported[i]);
		expect_parse_error(text,
		    "users:2: unsupported hash, use htpasswd -B");
	}
	expect_parse_error("# c\n" ALICE "\n" BOB "\n" ALICE "\n",
	    "users:4: duplicate user, keep one line per user");
	expect_parse_error("alice\n", "users:1: expected user:hash");
	expect_parse_error(":$2y$05$x\n", "users:1: expected user:hash");
	expect_parse_error("a:$2y$05$tooshort\n", MALFORMED);
	expect_parse_error(
	    "a:$2y$99$mjfhgFDBe4uPuK5sTZ/a5OvVIjCFUbhgYrodRB0BX0IArliFDbi3i\n",
	    MALFORMED);
	expect_parse_error(
	    "a:$2y$05$mjfhgFDBe4uPuK5sTZ/a5OvVIjCFUbhgYrodRB0BX0IArliFDbi3!\n",
	    MALFORMED);
	expect_parse_error("a:$5$salt$bad:hash\n", MALFORMED);
	expect_parse_error("a\tb:$2y$05$"
			   "mjfhgFDBe4uPuK5sTZ/a5OvVIjCFUbhgYrodRB0BX0IArliFDbi3i\n",
	    "users:1: user name longer than 127 bytes or with control "
	    "characters");

	memset(text, 'a', 1100);
	memcpy(text + 1100, ":x\n", 4);
	expect_parse_error(text, "users:1: line longer than 1024 bytes");

	rv = auth_parse("a:x\0y\n", 6, "users", &t, err, sizeof(err));
	ok(rv == -1 && strcmp(err, "users:1: NUL byte in line") == 0,
	    "NUL byte refused");
	auth_table_free(&t);

	/* A 1024-byte line is fine (the bound is inclusive). */
	snprintf(want, sizeof(want), "%s", ALICE);
	memset(text, 0, sizeof(text));
	memset(text, ' ', 1024 - strlen(ALICE));
	memcpy(text + 1024 - strlen(ALICE), ALICE, strlen(ALICE) + 1);
	rv = parse(text, err, sizeof(err), &t);
	ok(rv == 0 && t.at_n == 1, "1024-byte line accepted");
	auth_table_free(&t);
}

static void
test_basic(void)
{
	static const struct {
		const char *hdr;
		const char *cred; /* NULL: refused */
	} cases[] = {
	    {"Basic YWxpY2U6c2VjcmV0MQ==", "alice:secret1"},
	    {"basic YWxpY2U6c2VjcmV0MQ==", "alice:secret1"},
	    {"BASIC \t YWxpY2U6c2VjcmV0MQ==  ", "alice:secret1"},
	    {"Basic Ym9iOnBAc3M6d29yZA==", "bob:p@ss:word"},
	    {"Basic YTo=", "a:"},
	    {"Basic YTpi", "a:b"},
	    {"Bearer YWxpY2U6c2VjcmV0MQ==", NULL},
	    {"Basic", NULL},
	    {"Basic ", NULL},
	    {"BasicYWxpY2U6c2VjcmV0MQ==", NULL},
	    {"Basic YWxpY2U6c2VjcmV0MQ", NULL},
	    {"Basic YWxpY2U6c2VjcmV0MQ=", NULL},
	    {"Basic YWxpY2U6c2VjcmV0MQ===", NULL},
	    {"Basic YWxp=2U6c2VjcmV0MQ==", NULL},
	    {"Basic YT=i", NULL},
	    {"Basic YWxpY2U6c2Vj cmV0MQ==", NULL},
	    {"Basic YWxpY2U6c2VjcmV0MQ==, Basic YTpi", NULL},
	    {"Basic YWxpY2U=", NULL},    /* no ':' */
	    {"Basic OnB3", NULL},        /* empty user */
	    {"Basic YQBiOmM=", NULL},    /* NUL in the user */
	    {"Basic YTpiAA==", NULL},    /* NUL in the password */
	    {"Basic YW-j", NULL},        /* base64url */
	};
	char out[AUTH_B64_MAX / 4 * 3 + 1], big[AUTH_B64_MAX + 64];
	size_t i, ulen;
	int rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rv = auth_parse_basic(cases[i].hdr, out, sizeof(out), &ulen);
		if (cases[i].cred == NULL)
			is_int(rv, -1, "refused: '%s'", cases[i].hdr);
		else
			ok(rv == 0 && strcmp(out, cases[i].cred) == 0 &&
			        ulen == (size_t)(strchr(cases[i].cred, ':') -
			                    cases[i].cred),
			    "decoded: '%s'", cases[i].hdr);
	}
	/* 1024 base64 bytes pass, 1028 do not. */
	memcpy(big, "Basic YTpi", 10);
	memset(big + 10, 'A', AUTH_B64_MAX - 4);
	big[6 + AUTH_B64_MAX] = '\0';
	rv = auth_parse_basic(big, out, sizeof(out), &ulen);
	is_int(rv, -1, "1024 bytes decode, but NULs are refused");
	memset(big + 10, 'x', AUTH_B64_MAX - 4);
	rv = auth_parse_basic(big, out, sizeof(out), &ulen);
	is_int(rv, 0, "1024 base64 bytes accepted");
	memcpy(big + 6 + AUTH_B64_MAX, "xxxx", 5);
	rv = auth_parse_basic(big, out, sizeof(out), &ulen);
	is_int(rv, -1, "1028 base64 bytes refused");
}

static void
setup_cfg(const char *htpasswd)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.cf_htpasswd = (char *)(uintptr_t)htpasswd;
	cfg.cf_realm = "registryd";
	cfg.cf_auth_cache_ttl = 300;
	cfg.cf_auth_fail_limit = 10;
	cfg.cf_username = "";
	cfg.cf_password = "";
}

static void
test_verify(void)
{
	char user[AUTH_USER_MAX], err[512];
	struct auth_pending *ap;
	unsigned int crypts, dummies;
	int pend, rv;

	put_file("htpasswd", "# test users\n" ALICE "\n" BOB "\n" SHA5 "\n"
			     SHA6 "\n");
	setup_cfg("htpasswd");
	rv = auth_init(&cfg, err, sizeof(err));
	is_int(rv, 0, "auth_init loads the file");
	is_int(auth_enabled(), 1, "auth enabled");
	/* One line each of 4 settings: the earliest line's (alice) wins. */
	ok(strncmp(auth.dummy, "$2b$05$", 7) == 0 && strlen(auth.dummy) == 29,
	    "dummy is a bcrypt setting of the file's cost 5 (%s)", auth.dummy);

	is_int(check(NULL, "10.0.0.1", user, &pend), AUTH_FAIL,
	    "no credentials: AUTH_FAIL");
	ok(!pend, "without pool work");

	is_int(check("alice:secret1", "10.0.0.1", user, &pend), AUTH_OK,
	    "alice, right password: AUTH_OK");
	ok(pend, "first check went to the pool");
	is_str(user, "alice", "done names the user");

	crypts = auth.crypt_runs;
	rv = check("alice:secret1", "10.0.0.1", user, &pend);
	ok(rv == AUTH_OK && !pend, "second check is a cache hit, at once");
	is_str(user, "alice", "cache hit names the user");
	is_int(auth.crypt_runs, crypts, "no crypt on a cache hit");

	is_int(check("alice:secret2", "10.0.0.1", user, &pend), AUTH_FAIL,
	    "wrong password: AUTH_FAIL");
	ok(pend, "wrong password checked on the pool");
	is_int(check("bob:p@ss:word", "10.0.0.1", user, NULL), AUTH_OK,
	    "password with ':' (split at the first)");
	is_int(check("sha5:sha5pass", "10.0.0.1", user, NULL), AUTH_OK,
	    "sha-crypt $5$");
	is_int(check("sha6:sha6pass", "10.0.0.1", user, NULL), AUTH_OK,
	    "sha-crypt $6$ with rounds");
	is_int(check("sha6:wrong", "10.0.0.1", user, NULL), AUTH_FAIL,
	    "sha-crypt wrong password");

	dummies = auth.dummy_runs;
	crypts = auth.crypt_runs;
	is_int(check("mallory:secret1", "10.0.0.1", user, &pend), AUTH_FAIL,
	    "unknown user: AUTH_FAIL");
	ok(pend, "unknown user checked on the pool too");
	is_int(auth.dummy_runs, dummies + 1, "against the dummy hash");
	is_int(auth.crypt_runs, crypts + 1, "crypt_rn ran");

	/* A cancelled check runs, frees itself and calls nobody. */
	got = 0;
	rv = auth_check("Basic Ym9iOm5vcGU=", "10.0.0.9", user, done_cb, NULL,
	    &ap);
	is_int(rv, AUTH_PENDING, "pending check");
	auth_cancel(ap);
	while (pool_pending() > 0)
		event_base_loop(base, EVLOOP_ONCE);
	is_int(got, 0, "cancelled: done not called");

	/* The cache entry expires after cache_ttl. */
	auth.skew += 301;
	rv = check("alice:secret1", "10.0.0.1", user, &pend);
	ok(rv == AUTH_OK && pend, "after the TTL the pool checks again");
	auth.skew -= 301;
	auth.skew += 0;
}

static void
test_limit(void)
{
	char user[AUTH_USER_MAX];
	int i, pend, rv, ra;

	cfg.cf_auth_fail_limit = 3;
	auth_cache_flush();
	for (i = 0; i < 3; i++)
		(void)check("alice:guess", "192.0.2.7", user, NULL);
	rv = check("alice:guess", "192.0.2.7", user, &pend);
	ok(rv == AUTH_LIMITED && !pend, "4th try: AUTH_LIMITED, no crypt");
	rv = check("alice:secret1", "192.0.2.7", user, &pend);
	ok(rv == AUTH_LIMITED && !pend,
	    "even the right password while limited (not cached)");
	ra = auth_retry_after("192.0.2.7", "alice");
	ok(ra > 0 && ra <= 60, "Retry-After %d in 1..60", ra);
	is_int(auth_retry_after("192.0.2.7", "bob"), 1,
	    "Retry-After of a user not limited: 1");
	is_int(check("alice:secret1", "192.0.2.8", user, NULL), AUTH_OK,
	    "another address is not limited");

	/*
	 * Failures count per (address, user): a NAT's other users, and a
	 * user whose valid credentials are cached, are not refused.
	 */
	is_int(check("bob:p@ss:word", "192.0.2.7", user, NULL), AUTH_OK,
	    "another user at a limited address is not limited");
	is_int(check("alice:secret1", "192.0.2.20", user, NULL), AUTH_OK,
	    "alice logs in (cached)");
	for (i = 0; i < 4; i++)
		(void)check("alice:guess", "192.0.2.20", user, NULL);
	is_int(check("alice:guess", "192.0.2.20", user, NULL), AUTH_LIMITED,
	    "her guesses are limited");
	rv = check("alice:secret1", "192.0.2.20", user, &pend);
	ok(rv == AUTH_OK && !pend && strcmp(user, "alice") == 0,
	    "her cached credentials are not refused");
	auth_cache_flush();

	/* IPv6 counts per /64; an IPv4-mapped address as IPv4. */
	for (i = 0; i < 3; i++)
		(void)check("alice:guess", "2001:db8:1:2::1", user, NULL);
	is_int(check("alice:secret1", "2001:db8:1:2:aaaa::7", user, NULL),
	    AUTH_LIMITED, "IPv6: the same /64 is limited");
	is_int(check("alice:secret1", "2001:db8:1:3::1", user, NULL), AUTH_OK,
	    "IPv6: another /64 is not");
	for (i = 0; i < 3; i++)
		(void)check("bob:guess", "::ffff:192.0.2.30", user, NULL);
	is_int(check("bob:p@ss:word", "192.0.2.30", user, NULL), AUTH_LIMITED,
	    "IPv4-mapped: the same IPv4 address is limited");
	is_int(check("bob:p@ss:word", "::ffff:192.0.2.31", user, NULL),
	    AUTH_OK, "IPv4-mapped: another IPv4 address is not");

	/*
	 * An address guessing many user names still has a budget of crypt
	 * work: fail_limit * AUTH_ADDR_FAIL_FACTOR failures in a window.
	 */
	for (i = 0; i < 3 * AUTH_ADDR_FAIL_FACTOR; i++) {
		char cred[64];

		snprintf(cred, sizeof(cred), "user%d:guess", i);
		(void)check(cred, "192.0.2.40", user, NULL);
	}
	rv = check("nobody:guess", "192.0.2.40", user, &pend);
	ok(rv == AUTH_LIMITED && !pend,
	    "many user names from one address: limited, no crypt");

	/* Malformed headers count per address too, and cost nothing. */
	for (i = 0; i < 3; i++) {
		got = 0;
		rv = auth_check("Basic !!!!", "192.0.2.9", user, done_cb, NULL,
		    NULL);
	}
	is_int(auth_check("Basic !!!!", "192.0.2.9", user, done_cb, NULL,
	           NULL),
	    AUTH_LIMITED, "garbage headers are limited");
	is_int(check("alice:secret1", "192.0.2.9", user, NULL), AUTH_OK,
	    "garbage headers do not lock out a user");

	auth.skew += 61;
	is_int(check("alice:secret1", "192.0.2.7", user, NULL), AUTH_OK,
	    "a new window lets the address in again");
	auth.skew -= 61;

	/* fail_limit 0: no limit. */
	cfg.cf_auth_fail_limit = 0;
	for (i = 0; i < 4; i++)
		(void)check("alice:guess", "192.0.2.10", user, NULL);
	is_int(check("alice:secret1", "192.0.2.10", user, NULL), AUTH_OK,
	    "fail_limit=0 turns the limiter off");
	cfg.cf_auth_fail_limit = 10;
}

/* The dummy setting made for the users of text. */
static void
expect_dummy(const char *text, const char *prefix, const char *msg)
{
	struct auth_table t;
	char err[512], dummy[AUTH_HASH_MAX];

	dummy[0] = '\0';
	if (parse(text, err, sizeof(err), &t) == -1)
		printf("# %s\n", err);
	ok(auth_dummy_make(&t, dummy, sizeof(dummy)) == 0 &&
	        strncmp(dummy, prefix, strlen(prefix)) == 0,
	    "dummy: %s (%s)", msg, dummy);
	auth_table_free(&t);
}

static void
test_dummy(void)
{
	char user[AUTH_USER_MAX];
	unsigned int dummies;

	expect_dummy("", "$2b$10$", "no users: bcrypt, the default cost");
	expect_dummy(ALICE "\n", "$2b$05$", "htpasswd -B: cost 5");
	expect_dummy(BOB "\n" ALICE "\n" BOB_2B "\n" BOB_2A "\n", "$2b$04$",
	    "the most common cost wins, whatever the $2?$ prefix");
	expect_dummy(ALICE "\n" BOB "\n", "$2b$05$",
	    "a tie goes to the earliest line");
	expect_dummy(SHA6 "\n", "$6$", "sha-crypt $6$, rounds=5000");
	expect_dummy("r:$6$rounds=10000$saltsalt$lY36KUD8gjV.pPdWQMGUYlg0Wxkf\n",
	    "$6$rounds=10000$", "sha-crypt $6$, rounds=10000");
	expect_dummy(ALICE "\n" SHA5 "\nsha5b" SHA5_HASH "\n", "$5$",
	    "sha-crypt $5$, default rounds, 2 lines against 1");

	/* The dummy is a setting crypt_rn takes: unknown users fail. */
	put_file("htpasswd", SHA5 "\n");
	is_int(auth_reload(), 0, "reload of a $5$ file");
	dummies = auth.dummy_runs;
	is_int(check("nobody:x", "10.0.3.1", user, NULL), AUTH_FAIL,
	    "unknown user against a $5$ dummy: AUTH_FAIL");
	is_int(auth.dummy_runs, dummies + 1, "crypt_rn ran on it");
	put_file("htpasswd", ALICE "\n" BOB "\n" SHA5 "\n" SHA6 "\n");
	is_int(auth_reload(), 0, "back to the test users");
}

static void
test_reload(void)
{
	char user[AUTH_USER_MAX];
	int pend;

	is_int(check("alice:secret1", "10.0.1.1", user, NULL), AUTH_OK,
	    "alice is cached");
	put_file("htpasswd", ALICE "\ncarol:$apr1$gFsZf6Ij$OnHBLyadoa8koXfYRrEo50\n");
	is_int(auth_reload(), -1, "reload of a broken file fails");
	is_int(check("bob:p@ss:word", "10.0.1.1", user, NULL), AUTH_OK,
	    "old users kept");

	put_file("htpasswd", BOB "\n");
	is_int(auth_reload(), 0, "reload of a good file");
	ok(strncmp(auth.dummy, "$2b$04$", 7) == 0,
	    "reload: the dummy follows the new file's cost 4");
	is_int(check("alice:secret1", "10.0.1.1", user, &pend), AUTH_FAIL,
	    "alice is gone: the cache was flushed");
	ok(pend, "and checked on the pool");
	is_int(check("bob:p@ss:word", "10.0.1.1", user, NULL), AUTH_OK,
	    "bob still there");

	(void)unlink("htpasswd");
	is_int(auth_reload(), -1, "reload of a missing file fails");
	ok(strncmp(auth.dummy, "$2b$04$", 7) == 0,
	    "a failed reload keeps the dummy");
	is_int(check("bob:p@ss:word", "10.0.1.1", user, NULL), AUTH_OK,
	    "bob kept");
	auth_shutdown();
	is_int(auth_enabled(), 0, "shut down");
}

static void
test_create(void)
{
	char user[AUTH_USER_MAX], err[512], buf[256];
	struct stat st;
	FILE *fp;
	int rv;

	setup_cfg("missing");
	rv = auth_init(&cfg, err, sizeof(err));
	ok(rv == -1 &&
	        strcmp(err,
	            "htpasswd missing: No such file or directory (set "
	            "REGISTRY_USERNAME and REGISTRY_PASSWORD to create it)") ==
	            0,
	    "missing htpasswd without credentials: error");
	if (rv != -1)
		auth_shutdown();

	setup_cfg("created");
	cfg.cf_username = "ci";
	cfg.cf_password = "s3cret pass";
	rv = auth_init(&cfg, err, sizeof(err));
	is_int(rv, 0, "auth_init creates the file");
	ok(stat("created", &st) == 0 && (st.st_mode & 0777) == 0600,
	    "mode 0600");
	buf[0] = '\0';
	if ((fp = fopen("created", "r")) != NULL) {
		if (fgets(buf, sizeof(buf), fp) == NULL)
			buf[0] = '\0';
		fclose(fp);
	}
	ok(strncmp(buf, "ci:$2y$10$", 10) == 0 && strlen(buf) == 3 + 60 + 1,
	    "one bcrypt cost 10 line");
	is_int(check("ci:s3cret pass", "10.0.2.1", user, NULL), AUTH_OK,
	    "the created user logs in");
	auth_shutdown();

	/* Missing directories above the file are made, mode 0700. */
	setup_cfg("auth/sub/htpasswd");
	cfg.cf_username = "ci";
	cfg.cf_password = "s3cret pass";
	rv = auth_init(&cfg, err, sizeof(err));
	is_int(rv, 0, "auth_init creates auth/sub/htpasswd");
	if (rv == -1)
		printf("#   %s\n", err);
	ok(stat("auth", &st) == 0 && S_ISDIR(st.st_mode) &&
	        (st.st_mode & 0777) == 0700,
	    "auth/ made, mode 0700");
	ok(stat("auth/sub", &st) == 0 && S_ISDIR(st.st_mode) &&
	        (st.st_mode & 0777) == 0700,
	    "auth/sub/ made, mode 0700");
	ok(stat("auth/sub/htpasswd", &st) == 0 && (st.st_mode & 0777) == 0600,
	    "the file, mode 0600");
	is_int(check("ci:s3cret pass", "10.0.2.1", user, NULL), AUTH_OK,
	    "the created user logs in");
	auth_shutdown();

	/* A file where a directory should be: an error that says so. */
	put_file("plain", "x");
	setup_cfg("plain/htpasswd");
	cfg.cf_username = "ci";
	cfg.cf_password = "s3cret pass";
	rv = auth_init(&cfg, err, sizeof(err));
	ok(rv == -1 && strstr(err, "htpasswd plain/htpasswd: ") == err,
	    "a file in the way: error (%s)", err);
	if (rv != -1)
		auth_shutdown();
	setup_cfg("created");
	cfg.cf_username = "ci";

	/* An existing file wins over the environment. */
	cfg.cf_password = "other";
	rv = auth_init(&cfg, err, sizeof(err));
	is_int(rv, 0, "existing file loads");
	is_int(check("ci:other", "10.0.2.1", user, NULL), AUTH_FAIL,
	    "REGISTRY_PASSWORD does not replace an existing file");
	auth_shutdown();

	setup_cfg("");
	rv = auth_init(&cfg, err, sizeof(err));
	ok(rv == 0 && !auth_enabled(), "no htpasswd: auth off");
	is_int(auth_check(NULL, "x", user, done_cb, NULL, NULL), AUTH_OK,
	    "auth off: everything passes");
}

static void
test_hash(void)
{
	char hash[AUTH_HASH_MAX];
	struct crypt_data *cd;
	const char *out;

	is_int(auth_hash_password("pw", 4, hash, sizeof(hash)), 0,
	    "auth_hash_password");
	ok(strncmp(hash, "$2y$04$", 7) == 0 && strlen(hash) == 60,
	    "$2y$ as htpasswd -B: %s", hash);
	is_int(auth_hash_check(hash), 1, "its output is a supported hash");
	cd = calloc(1, sizeof(*cd));
	out = crypt_rn("pw", hash, cd, (int)sizeof(*cd));
	ok(out != NULL && strcmp(out, hash) == 0, "and verifies");
	out = crypt_rn("pw2", hash, cd, (int)sizeof(*cd));
	ok(out == NULL || strcmp(out, hash) != 0, "another password does not");
	free(cd);
	is_int(auth_hash_password("pw", 3, hash, sizeof(hash)), -1, "cost 3");
	is_int(auth_hash_password("pw", 32, hash, sizeof(hash)), -1,
	    "cost 32");
	is_int(auth_hash_password("pw", 4, hash, 20), -1, "small buffer");
}

/* Run auth_passwd_main with stdin from in; stdout into out. */
static int
run_passwd(int argc, char **argv, const char *in, char *out, size_t outsz)
{
	int saved0, saved1, fd, rv;
	FILE *fp;
	size_t n;

	put_file("stdin.txt", in);
	fflush(stdout);
	if ((saved0 = dup(0)) == -1 || (saved1 = dup(1)) == -1 ||
	    (fd = open("stdin.txt", O_RDONLY)) == -1 || dup2(fd, 0) == -1 ||
	    close(fd) == -1 ||
	    (fd = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600)) ==
	        -1 ||
	    dup2(fd, 1) == -1 || close(fd) == -1) {
		perror("redirect");
		exit(2);
	}
	clearerr(stdin);
	rv = auth_passwd_main(argc, argv);
	fflush(stdout);
	if (dup2(saved0, 0) == -1 || dup2(saved1, 1) == -1) {
		perror("restore");
		exit(2);
	}
	close(saved0);
	close(saved1);
	clearerr(stdin);
	out[0] = '\0';
	if ((fp = fopen("stdout.txt", "r")) != NULL) {
		n = fread(out, 1, outsz - 1, fp);
		out[n] = '\0';
		fclose(fp);
	}
	return rv;
}

static void
test_passwd(void)
{
	char *argv1[] = {"passwd", "-C", "4", "dana", NULL};
	char *argv2[] = {"passwd", "-C", "3", "dana", NULL};
	char *argv3[] = {"passwd", "da:na", NULL};
	char *argv4[] = {"passwd", NULL};
	char out[512], *nl;
	struct crypt_data *cd;
	const char *h;
	int rv;

	rv = run_passwd(4, argv1, "correct horse\n", out, sizeof(out));
	is_int(rv, 0, "passwd -C 4 dana");
	ok(strncmp(out, "dana:$2y$04$", 12) == 0, "prints dana:$2y$04$...");
	if ((nl = strchr(out, '\n')) != NULL)
		*nl = '\0';
	cd = calloc(1, sizeof(*cd));
	h = crypt_rn("correct horse", out + 5, cd, (int)sizeof(*cd));
	ok(h != NULL && strcmp(h, out + 5) == 0, "the line verifies");
	free(cd);
	is_int(run_passwd(4, argv2, "x\n", out, sizeof(out)), 2, "-C 3 refused");
	is_int(run_passwd(2, argv3, "x\n", out, sizeof(out)), 1,
	    "user with ':' refused");
	is_int(run_passwd(1, argv4, "x\n", out, sizeof(out)), 2,
	    "no user: usage");
	is_int(run_passwd(4, argv1, "\n", out, sizeof(out)), 1,
	    "empty password refused");
	is_str(out, "", "and nothing printed");
}

int
main(void)
{
	char dir[] = "/tmp/registryd-auth-XXXXXX";
	char cmd[PATH_MAX];

	log_init(LOG_LVL_ERROR, 0);
	if (mkdtemp(dir) == NULL || chdir(dir) == -1) {
		perror("mkdtemp");
		return 2;
	}
	if ((base = event_base_new()) == NULL ||
	    pool_start(base, NULL, POOL_START_AUTH) == -1) {
		printf("# cannot start the pool\n");
		return 2;
	}
	test_parse();
	test_basic();
	test_verify();
	test_limit();
	test_dummy();
	test_reload();
	test_create();
	test_hash();
	test_passwd();
	pool_stop();
	event_base_free(base);
	if (chdir("/") == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return done_testing();
}
