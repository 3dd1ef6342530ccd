/*
 * fuzz.h: what every libFuzzer target in test/fuzz/ declares: the entry
 * points (the sources are built with -Wmissing-prototypes) and
 * FUZZ_CHECK, which turns a broken invariant into a crash libFuzzer
 * reports, with the file, line and condition.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#endif /* FUZZ_H */
