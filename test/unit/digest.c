/*
 * Unit tests for digest.c: validation table, known SHA-256 vectors, and
 * incremental hashing (including peek, which must not end the context)
 * agreeing with one-shot hashing.
 */
#include <string.h>

#include "tap.h"
#include "../../src/digest.c"

#define EMPTY_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_HEX	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void
test_valid(void)
{
	static const struct {
		const char *s;
		int want;
	} t[] = {
		{ "sha256:" EMPTY_HEX, 1 },
		{ "sha256:" ABC_HEX, 1 },
		{ "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", 0 },
		{ "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", 0 },
		{ "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555", 0 },
		{ "sha512:" EMPTY_HEX, 0 },
		{ "SHA256:" EMPTY_HEX, 0 },
		{ "sha256" EMPTY_HEX "0", 0 },
		{ "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0 },
		{ "sha256:", 0 },
		{ "", 0 },
		{ EMPTY_HEX, 0 },
		{ " sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", 0 },
	};
	char nul[DIGEST_BUFSZ];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(digest_is_valid(t[i].s, strlen(t[i].s)), t[i].want,
		    "digest_is_valid(\"%.20s...\") len %zu", t[i].s,
		    strlen(t[i].s));

	/* Explicit length: an embedded NUL is a bad character. */
	memcpy(nul, "sha256:" EMPTY_HEX, DIGEST_BUFSZ);
	nul[30] = '\0';
	is_int(digest_is_valid(nul, DIGEST_MAX_LEN), 0, "embedded NUL");
	is_int(digest_is_valid("sha256:" EMPTY_HEX "xyz", DIGEST_MAX_LEN), 1,
	    "only len bytes are looked at");
	is_int(digest_is_valid(NULL, 0), 0, "NULL");
	is_str(digest_hex("sha256:" EMPTY_HEX), EMPTY_HEX, "digest_hex");
}

static void
test_vectors(void)
{
	char out[DIGEST_BUFSZ];

	digest_buf("", 0, out);
	is_str(out, "sha256:" EMPTY_HEX, "sha256 of empty");
	digest_buf("abc", 3, out);
	is_str(out, "sha256:" ABC_HEX, "sha256 of abc");
	ok(digest_is_valid(out, strlen(out)), "digest_buf output is valid");
}

static void
test_incremental(void)
{
	static unsigned char big[1 << 20];
	char one[DIGEST_BUFSZ], inc[DIGEST_BUFSZ], peek[DIGEST_BUFSZ];
	struct digest_ctx *d;
	size_t i, off, step;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 131 + (i >> 8));
	digest_buf(big, sizeof(big), one);

	ok((d = digest_ctx_new()) != NULL, "digest_ctx_new");
	if (d == NULL)
		return;
	is_int(digest_ctx_peek(d, peek), 0, "peek on empty context");
	is_str(peek, "sha256:" EMPTY_HEX, "peek of nothing is sha256 of empty");

	/* Odd chunk sizes, peeking in between: peek must not disturb. */
	for (off = 0, step = 1; off < sizeof(big); off += step, step = step * 3 + 7) {
		if (step > sizeof(big) - off)
			step = sizeof(big) - off;
		digest_ctx_update(d, big + off, step);
		if (digest_ctx_peek(d, peek) != 0)
			break;
	}
	is_int(digest_ctx_peek(d, inc), 0, "final peek");
	is_str(inc, one, "incremental == one-shot (1 MiB)");
	is_int(digest_ctx_peek(d, peek), 0, "peek twice");
	is_str(peek, one, "peek is repeatable");

	digest_ctx_update(d, big, 0);
	is_int(digest_ctx_peek(d, peek), 0, "zero-length update");
	is_str(peek, one, "zero-length update changes nothing");

	digest_ctx_reset(d);
	digest_ctx_update(d, "ab", 2);
	digest_ctx_update(d, "c", 1);
	is_int(digest_ctx_peek(d, peek), 0, "peek after reset");
	is_str(peek, "sha256:" ABC_HEX, "reset starts over");
	digest_ctx_free(d);
	digest_ctx_free(NULL);
	ok(1, "digest_ctx_free(NULL) is a no-op");
}

int
main(void)
{
	test_valid();
	test_vectors();
	test_incremental();
	return done_testing();
}
