#ifndef REGISTRYD_CONFIG_H
#define REGISTRYD_CONFIG_H

#include <stddef.h>

#define CONFIG_DEFAULT_PATH	"/etc/registryd/registryd.conf"
#define CONFIG_MAX_HEADERS	32

/* One extra response header from [headers] or REGISTRY_HTTP_HEADERS_*. */
struct config_header {
	char	*ch_name;
	char	*ch_value;
};

/*
 * The whole configuration. Owned by main; strings are malloc'd and freed by
 * config_free. Every field is one row of the key table in config.c, which
 * drives the INI parser, the REGISTRY_* overlay, check-config and the man
 * page.
 */
struct config {
	/* [http] */
	char		*cf_addr;		/* addr= / REGISTRY_HTTP_ADDR, ":5000" */
	char		*cf_secret;		/* secret= / REGISTRY_HTTP_SECRET */
	int		 cf_max_connections;	/* max_connections= */
	int		 cf_header_timeout;	/* header_timeout= seconds, absolute */
	int		 cf_body_timeout;	/* body_timeout= seconds idle */
	int		 cf_write_timeout;	/* write_timeout= seconds idle */
	int		 cf_idle_timeout;	/* idle_timeout= keep-alive seconds */
	int		 cf_drain_timeout;	/* drain_timeout= seconds at shutdown */
	/* [storage] */
	char		*cf_root;		/* rootdirectory= */
	int		 cf_delete_enabled;	/* delete_enabled= */
	int		 cf_catalog_refresh;	/* catalog_refresh= seconds */
	int		 cf_upload_purge_age;	/* upload_purge_age= seconds */
	/* [log] */
	int		 cf_log_level;		/* level= LOG_LVL_* */
	int		 cf_access_log;		/* access_log= */
	/* [headers] */
	struct config_header cf_headers[CONFIG_MAX_HEADERS];
	int		 cf_nheaders;
};

/*
 * config_load: defaults, then the INI file at path, then REGISTRY_*
 * variables from envp. A missing file is fine unless required (given with
 * -c). Every problem is printed to stderr as "file:line: message" (or
 * "REGISTRY_X: message"); returns 0, or -1 when any was an error (warnings,
 * such as unknown REGISTRY_* names, do not fail). On -1 the caller still
 * calls config_free.
 */
int	config_load(struct config *, const char *path, int required,
	    char **envp);
void	config_free(struct config *);

/* config_dump: print the effective configuration as INI to stdout. */
void	config_dump(const struct config *);

#endif /* REGISTRYD_CONFIG_H */
