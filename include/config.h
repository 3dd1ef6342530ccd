#ifndef REGISTRYD_CONFIG_H
#define REGISTRYD_CONFIG_H

#include <stddef.h>

/* The Makefile passes SYSCONFDIR (default /etc, whatever the PREFIX). */
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define CONFIG_DEFAULT_PATH SYSCONFDIR "/registryd/registryd.conf"
#define CONFIG_MAX_HEADERS  32

/* [tls] client_auth= */
#define CONFIG_CLIENT_NONE    0 /* no client certificates */
#define CONFIG_CLIENT_VERIFY  1 /* verify one if given */
#define CONFIG_CLIENT_REQUIRE 2 /* require one */

/* One extra response header from [headers] or REGISTRY_HTTP_HEADERS_*. */
struct config_header {
	char *ch_name;
	char *ch_value;
};

/*
 * The whole configuration. Owned by main; strings are malloc'd and freed by
 * config_free. Every field is one row of the key table in config.c, which
 * drives the INI parser, the REGISTRY_* overlay, check-config and the man
 * page.
 */
struct config {
	/* [http] */
	char *cf_addr;              /* addr= / REGISTRY_HTTP_ADDR, ":5000" */
	char *cf_secret;            /* secret= / REGISTRY_HTTP_SECRET */
	int cf_max_connections;     /* max_connections= */
	int cf_conns_per_addr;      /* max_connections_per_address= */
	int cf_header_timeout;      /* header_timeout= seconds, absolute */
	int cf_body_timeout;        /* body_timeout= seconds idle */
	int cf_write_timeout;       /* write_timeout= seconds idle */
	int cf_idle_timeout;        /* idle_timeout= keep-alive seconds */
	int cf_drain_timeout;       /* drain_timeout= seconds at shutdown */
	int cf_manifest_buffer_max; /* manifest_buffer_max= bytes, all PUTs */
	char *cf_trust_proxy;       /* trust_proxy= addresses, comma list */
	char *cf_cors_origins;      /* cors_origins= origins, comma list */
	char *cf_debug_addr;        /* debug_addr= / REGISTRY_HTTP_DEBUG_ADDR */
	/* [tls]: TLS is on when cf_tls_cert is set */
	char *cf_tls_cert;      /* certificate= (full chain, PEM) */
	char *cf_tls_key;       /* key= */
	char *cf_tls_client_ca; /* client_ca= */
	int cf_tls_client_auth; /* client_auth= CONFIG_CLIENT_* */
	int cf_tls_min_version; /* minimum_version= TLS1_x_VERSION */
	char *cf_tls_ciphers;   /* ciphers= TLS 1.2 cipher list */
	/* [auth]: Basic auth is on when cf_htpasswd is set */
	char *cf_htpasswd;      /* htpasswd= */
	char *cf_realm;         /* realm= */
	int cf_anonymous_pull;  /* anonymous_pull= */
	int cf_auth_cache_ttl;  /* cache_ttl= seconds */
	int cf_auth_fail_limit; /* fail_limit= failures per minute */
	char *cf_username;      /* REGISTRY_USERNAME (env only) */
	char *cf_password;      /* REGISTRY_PASSWORD (env only) */
	/* pending_max= password checks queued or running at most */
	int cf_auth_pending_max;
	/* [storage] */
	char *cf_driver;                   /* driver= filesystem|s3 */
	char *cf_root;                     /* rootdirectory= */
	int cf_delete_enabled;             /* delete_enabled= */
	int cf_catalog_refresh;            /* catalog_refresh= seconds */
	int cf_upload_sessions_max;        /* upload_sessions_max= */
	int cf_upload_sessions_per_client; /* upload_sessions_per_client= */
	int cf_upload_purge;               /* upload_purge= */
	int cf_upload_purge_age;           /* upload_purge_age= seconds */
	int cf_upload_purge_interval;      /* upload_purge_interval= seconds */
	int cf_upload_purge_dryrun;        /* upload_purge_dryrun= */
	int cf_read_only;                  /* read_only= */
	int cf_gc_interval;                /* gc_interval= seconds, 0 off */
	int cf_gc_grace;                   /* gc_grace= seconds */
	int cf_redirect_disable;           /* redirect_disable= */
	/* [s3] (the s3 driver) */
	char *cf_s3_region;          /* region= */
	char *cf_s3_endpoint;        /* regionendpoint= URL, or "" (AWS) */
	char *cf_s3_bucket;          /* bucket= */
	char *cf_s3_access_key;      /* accesskey= (secret) */
	char *cf_s3_secret_key;      /* secretkey= (secret) */
	char *cf_s3_secret_key_file; /* secretkeyfile= */
	char *cf_s3_root;            /* rootdirectory= key prefix */
	int cf_s3_secure;            /* secure= https to AWS */
	char *cf_s3_path_style;      /* forcepathstyle=: "" unset, or a
	                              * boolean (config_s3_path_style) */
	int cf_s3_chunk_size;        /* chunksize= bytes per part */
	/* [log] */
	int cf_log_level;    /* level= LOG_LVL_* */
	int cf_access_log;   /* access_log= */
	char *cf_log_format; /* format= text|json|logstash */
	/* [server] */
	char *cf_user;     /* user= to become after binding */
	int cf_chown_root; /* chown_root=: as root, give user the root */
	char *cf_umask;    /* umask= octal, "" to keep the inherited one */
	/* [ui] */
	int cf_ui_enabled; /* enabled= the web interface at /ui/ */
	/* [headers] */
	struct config_header cf_headers[CONFIG_MAX_HEADERS];
	int cf_nheaders;
};

/*
 * config_load: defaults, then the INI file at path, then REGISTRY_*
 * variables from envp. A missing file is fine unless required (given with
 * -c). Every problem is printed to stderr as "file:line: message" (or
 * "REGISTRY_X: message"); returns 0, or -1 when any was an error (warnings,
 * such as unknown REGISTRY_* names, do not fail). On -1 the caller still
 * calls config_free.
 */
int config_load(struct config *, const char *path, int required, char **envp);
void config_free(struct config *);
/*
 * config_s3_path_style: forcepathstyle as set, else 1 with a
 * regionendpoint (registry:2 2.8), else 0.
 */
int config_s3_path_style(const struct config *);

/* config_dump: print the effective configuration as INI to stdout. */
void config_dump(const struct config *);

#endif /* REGISTRYD_CONFIG_H */
