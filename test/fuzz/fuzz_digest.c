/*
 * fuzz_digest: digest_is_valid (digest.c) on arbitrary bytes.
 *
 * Invariant: a valid digest is exactly "sha256:" and 64 lowercase hex
 * digits (71 bytes), digest_hex points at those digits, and a digest
 * computed by digest_buf is always valid.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[DIGEST_BUFSZ], *copy;
	const char *s = (const char *)data;
	size_t i;

	/* Exactly size bytes on the heap, so a read past them is caught. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if (digest_is_valid(copy, size)) {
		FUZZ_CHECK(size == DIGEST_MAX_LEN);
		FUZZ_CHECK(memcmp(s, "sha256:", 7) == 0);
		for (i = 7; i < size; i++)
			FUZZ_CHECK((s[i] >= '0' && s[i] <= '9') ||
			    (s[i] >= 'a' && s[i] <= 'f'));
		FUZZ_CHECK(digest_hex(copy) == copy + 7);
	}
	free(copy);

	/* Every prefix length of the input, as a router would pass it. */
	for (i = 0; i <= size && i <= DIGEST_MAX_LEN + 1; i++)
		if (digest_is_valid(s, i))
			FUZZ_CHECK(i == DIGEST_MAX_LEN);

	digest_buf(data, size, buf);
	FUZZ_CHECK(digest_is_valid(buf, strlen(buf)));
	return 0;
}
