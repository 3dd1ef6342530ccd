/*
 * fuzz_htpasswd: the htpasswd parser (auth_parse) and the Basic
 * Authorization header decoder (auth_parse_basic) of auth.c, reached by
 * including it.
 *
 * Invariants: a parsed file has only users with a non-empty name without
 * ':' and a hash of a supported scheme; a failed parse says where
 * ("file:line: ..."); a decoded header has a user part no longer than the
 * whole and no NUL in it.
 */
#include "../../src/auth.c"

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_table t;
	char err[512], out[AUTH_B64_MAX + 1], *copy;
	size_t i, userlen;

	/* The htpasswd parser on the bytes as a file. */
	memset(&t, 0, sizeof(t));
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	err[0] = '\0';
	if (auth_parse(copy, size, "fuzz", &t, err, sizeof(err)) == 0) {
		for (i = 0; i < t.at_n; i++) {
			FUZZ_CHECK(t.at_users[i].au_name[0] != '\0');
			FUZZ_CHECK(strchr(t.at_users[i].au_name, ':') == NULL);
			FUZZ_CHECK(auth_hash_check(t.at_users[i].au_hash) ==
			    1);
		}
	} else
		FUZZ_CHECK(strncmp(err, "fuzz", 4) == 0);
	auth_table_free(&t);
	free(copy);

	/* The same bytes as an Authorization header value. */
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (auth_parse_basic(copy, out, sizeof(out), &userlen) == 0) {
		FUZZ_CHECK(userlen > 0 && userlen <= strlen(out));
		FUZZ_CHECK(memchr(out, '\0', userlen) == NULL);
		FUZZ_CHECK(out[userlen] == ':');
	}
	free(copy);
	return 0;
}
