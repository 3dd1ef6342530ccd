#ifndef REGISTRYD_TAP_H
#define REGISTRYD_TAP_H

/*
 * A tiny TAP producer for the unit tests: ok() evaluates its condition
 * once and prints "ok N - msg" or "not ok N - msg"; done_testing() prints
 * the plan "1..N" and exits non-zero when anything failed.
 */
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static void __attribute__((format(printf, 4, 5)))
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", pass ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
}

#define is_int(got, want, ...) do {					\
	long long tap_g = (got), tap_w = (want);			\
	ok(tap_g == tap_w, __VA_ARGS__);				\
	if (tap_g != tap_w)						\
		printf("#   got %lld, want %lld\n", tap_g, tap_w);	\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *tap_g = (got), *tap_w = (want);			\
	int tap_eq = tap_g && tap_w && strcmp(tap_g, tap_w) == 0;	\
	ok(tap_eq, __VA_ARGS__);					\
	if (!tap_eq)							\
		printf("#   got \"%s\", want \"%s\"\n",			\
		    tap_g ? tap_g : "(null)", tap_w ? tap_w : "(null)");\
} while (0)

static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* REGISTRYD_TAP_H */
