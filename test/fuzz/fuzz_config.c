/*
 * fuzz_config: config_load (config.c) on a file holding the input bytes.
 * The file is a memfd created once and rewritten for every input, read
 * through /proc/self/fd/N; the environment is empty, so only the INI
 * parser and the validators run. Must never crash or leak; config_free
 * afterwards, and once more (it is documented as safe twice).
 *
 * Invariants: the configuration is usable after a successful load
 * (strings set, counts in range); headers are NUL-free C strings.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#include "fuzz.h"

static int fuzz_fd = -1;
static char fuzz_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((fuzz_fd = memfd_create("fuzz_config", 0)) == -1) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *envp[] = { NULL };
	struct config cf;
	int rc, i;

	if (ftruncate(fuzz_fd, 0) == -1 ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		abort();
	rc = config_load(&cf, fuzz_path, 1, envp);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK(cf.cf_nheaders >= 0 &&
	    cf.cf_nheaders <= CONFIG_MAX_HEADERS);
	if (rc == 0) {
		FUZZ_CHECK(cf.cf_addr != NULL && cf.cf_root != NULL);
		FUZZ_CHECK(cf.cf_log_level >= LOG_LVL_ERROR &&
		    cf.cf_log_level <= LOG_LVL_DEBUG);
		FUZZ_CHECK(cf.cf_max_connections > 0);
		for (i = 0; i < cf.cf_nheaders; i++) {
			FUZZ_CHECK(cf.cf_headers[i].ch_name != NULL &&
			    cf.cf_headers[i].ch_value != NULL);
			FUZZ_CHECK(strpbrk(cf.cf_headers[i].ch_name,
			    "\r\n:") == NULL);
			FUZZ_CHECK(strpbrk(cf.cf_headers[i].ch_value,
			    "\r\n") == NULL);
		}
	}
	config_free(&cf);
	config_free(&cf);
	return 0;
}
