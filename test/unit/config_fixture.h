#ifndef REGISTRYD_CONFIG_FIXTURE_H
#define REGISTRYD_CONFIG_FIXTURE_H

/*
 * What the tests of config.c and config_yaml.c share: config_load with
 * its messages captured, and a header's value by name.
 */
#include <stddef.h>
#include <strings.h>

#include "config.h"
#include "fixture.h"

/* What the last capture_load printed on stderr. */
static char captured[16384];

/* config_load with stderr captured into captured; its value. */
static FIXTURE_UNUSED int
capture_load(struct config *cf, const char *path, int required, char **envp)
{
	struct capture cap;
	int rv;

	capture_start(&cap, 2, "captured.txt");
	rv = config_load(cf, path, required, envp);
	capture_end(&cap, captured, sizeof(captured));
	return rv;
}

/* The value of the [headers] entry name (any case), or NULL. */
static FIXTURE_UNUSED const char *
header(const struct config *cf, const char *name)
{
	int i;

	for (i = 0; i < cf->cf_nheaders; i++)
		if (strcasecmp(cf->cf_headers[i].ch_name, name) == 0)
			return cf->cf_headers[i].ch_value;
	return NULL;
}

#endif /* REGISTRYD_CONFIG_FIXTURE_H */
