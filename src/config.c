/*
 * config.c: the configuration of registryd.
 *
 * One static key table (config_keys) drives everything: the INI parser,
 * the REGISTRY_* environment overlay, the defaults, and config_dump (which
 * is what `registryd check-config` prints). The man page registryd.conf(5)
 * and etc/registryd.conf follow the same table row by row; a new key is a
 * new row there, an .It entry in the man page and a test.
 *
 * A second small table (config_env_rules) says what to do with the
 * REGISTRY_* names of registry:2 that are not rows: accept them silently,
 * warn that they are ignored, or refuse to start because ignoring them
 * would change what the registry is (a proxy, another storage driver, an
 * unprotected registry where the user asked for authentication or TLS).
 *
 * A few checks span keys (certificate needs key, REGISTRY_AUTH=htpasswd
 * needs a file); config_check runs them after the file and the overlay.
 *
 * This runs before log_init (the level is one of the settings), so
 * problems go straight to stderr as "file:line: message" or
 * "REGISTRY_X: message", which is also what check-config shows.
 */

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/tls1.h>

#include "bounds.h"
#include "config.h"
#include "config_yaml.h"
#include "log.h"
#include "util.h"

#define CONFIG_LINE_MAX      4096          /* bytes per INI line */
#define CONFIG_FILE_MAX      (1024 * 1024) /* bytes per INI file */
#define CONFIG_VALUE_MAX     4096          /* bytes per value (env too) */
#define CONFIG_HDR_NAME_MAX  128           /* response header name */
#define CONFIG_HDR_VALUE_MAX 1024          /* response header value */
#define CONFIG_ERR_MAX       256           /* one error message */
#define CONFIG_HOST_MAX      253           /* DNS name in addr= */
#define CONFIG_REALM_MAX     128           /* realm= */
#define CONFIG_LIST_ITEMS    64            /* items of a comma list */

#define CONFIG_ENV_PREFIX   "REGISTRY_"
#define CONFIG_ENV_HEADERS  "REGISTRY_HTTP_HEADERS_"
#define CONFIG_ENV_HEADERS1 "REGISTRY_HTTP_HEADERS" /* all in one */
#define CONFIG_FLOW_BLANKS  " \t\r\n" /* between YAML flow tokens */

#define CONFIG_STR(x)  CONFIG_STR2(x)
#define CONFIG_STR2(x) #x

/* How a value is parsed and stored. */
enum config_type {
	CONFIG_T_STRING,   /* char *, malloc'd */
	CONFIG_T_INT,      /* int, decimal in [min, max] */
	CONFIG_T_BOOL,     /* int 0/1: true|false|yes|no|on|off|1|0 */
	CONFIG_T_DURATION, /* int seconds: "90", "90s", "5m", "1h30m" */
	CONFIG_T_LOGLEVEL, /* int LOG_LVL_*: error|warn|info|debug */
	CONFIG_T_TLSVER,   /* int TLS1_x_VERSION: tls1.2|tls1.3 */
	CONFIG_T_CLIENT,   /* int CONFIG_CLIENT_*: require|verify */
};

#define CONFIG_F_SECRET     0x01 /* config_dump hides the value */
#define CONFIG_F_ENV_INVERT 0x02 /* env bool means the opposite */
#define CONFIG_F_LIST       0x04 /* comma list; env may be a YAML list */
#define CONFIG_F_ENV_ONE    0x08 /* env may be a YAML list of one item */
#define CONFIG_F_ENV_ONLY   0x10 /* no INI key: environment only */
#define CONFIG_F_CIPHERS    0x20 /* env: Go cipher suite names mapped */

/* A validator for a string value: 0, or -1 with a message in err. */
typedef int (*config_validate_fn)(const char *, char *, size_t);

/* One configuration key: one row of the table below. */
struct config_key {
	const char *ck_section;   /* INI section, no brackets */
	const char *ck_key;       /* INI key */
	const char *ck_env;       /* REGISTRY_* name */
	const char *ck_env_alias; /* registry:2 name, or NULL */
	enum config_type ck_type;
	size_t ck_offset;       /* field in struct config */
	const char *ck_default; /* parsed like any value */
	uint64_t ck_min;        /* INT, DURATION bounds */
	uint64_t ck_max;
	config_validate_fn ck_validate; /* STRING only, or NULL */
	int ck_flags;                   /* CONFIG_F_* */
	const char *ck_desc;            /* one line for config_dump */
};

/* What to do with a REGISTRY_* name that is not a key. */
enum config_env_action {
	CONFIG_ENV_ACCEPT, /* harmless: say nothing */
	CONFIG_ENV_WARN,   /* ignored, and the user should know */
	CONFIG_ENV_REFUSE, /* ignoring it would change the registry */
};

struct config_env_rule {
	const char *er_name; /* name, or prefix */
	int er_prefix;       /* 1: er_name is a prefix */
	const char *er_ok;   /* value needing no action */
	enum config_env_action er_action;
	const char *er_msg;
};

/* Response headers the reply writes itself: [headers] must not touch them. */
static const char *const config_reserved_headers[] = {
    "Connection",
    "Content-Length",
    "Content-Range",
    "Content-Type",
    "Date",
    "Docker-Content-Digest",
    "Docker-Distribution-Api-Version",
    "Docker-Upload-Uuid",
    "Keep-Alive",
    "Location",
    "Range",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "WWW-Authenticate",
};

/* Level names; "warning" is logrus' spelling, which registry:2 accepts. */
static const struct {
	const char *ln_name;
	int ln_level;
} config_levels[] = {
    {"error", LOG_LVL_ERROR},
    {"warn", LOG_LVL_WARN},
    {"info", LOG_LVL_INFO},
    {"debug", LOG_LVL_DEBUG},
    {"warning", LOG_LVL_WARN},
};

/* [tls] minimum_version names, registry:2's spelling. */
static const struct {
	const char *tv_name;
	int tv_version;
} config_tls_versions[] = {
    {"tls1.2", TLS1_2_VERSION},
    {"tls1.3", TLS1_3_VERSION},
};

/* [tls] client_auth names. */
static const struct {
	const char *ca_name;
	int ca_mode;
} config_client_modes[] = {
    {"require", CONFIG_CLIENT_REQUIRE},
    {"verify", CONFIG_CLIENT_VERIFY},
};

/*
 * registry:2 (Go crypto/tls) cipher suite names and their OpenSSL names,
 * for REGISTRY_HTTP_TLS_CIPHERSUITES. The TLS 1.3 suites are not
 * configurable in Go either and OpenSSL always offers them: skipped.
 */
static const struct {
	const char *cs_go;
	const char *cs_openssl; /* NULL: TLS 1.3, skipped */
} config_go_ciphers[] = {
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_AES_128_GCM_SHA256", NULL},
    {"TLS_AES_256_GCM_SHA384", NULL},
    {"TLS_CHACHA20_POLY1305_SHA256", NULL},
};

#define CONFIG_DEFAULT_CIPHERS                                                 \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static int config_validate_addr(const char *, char *, size_t);
static int config_validate_optaddr(const char *, char *, size_t);
static int config_validate_path(const char *, char *, size_t);
static int config_validate_optpath(const char *, char *, size_t);
static int config_validate_proxies(const char *, char *, size_t);
static int config_validate_origins(const char *, char *, size_t);
static int config_validate_ciphers(const char *, char *, size_t);
static int config_validate_realm(const char *, char *, size_t);
static int config_validate_user(const char *, char *, size_t);
static int config_validate_logformat(const char *, char *, size_t);
static int config_validate_sysuser(const char *, char *, size_t);
static int config_validate_umask(const char *, char *, size_t);
static int config_validate_driver(const char *, char *, size_t);
static int config_validate_nonempty(const char *, char *, size_t);
static int config_validate_endpoint(const char *, char *, size_t);
static int config_validate_bucket(const char *, char *, size_t);
static int config_validate_optbool(const char *, char *, size_t);

#define CF(f) offsetof(struct config, f)

/*
 * The key table. Env names are registry:2's where registry:2 has the
 * setting; otherwise REGISTRY_<SECTION>_<KEY>. An alias is registry:2's
 * own name for a key whose primary name follows our scheme.
 */
static const struct config_key config_keys[] = {
    {"http", "addr", "REGISTRY_HTTP_ADDR", NULL, CONFIG_T_STRING, CF(cf_addr),
        ":5000", 0, 0, config_validate_addr, 0,
        "listen address: [host]:port, [v6addr]:port"},
    {"http", "secret", "REGISTRY_HTTP_SECRET", NULL, CONFIG_T_STRING,
        CF(cf_secret), "", 0, 0, NULL, CONFIG_F_SECRET,
        "secret for signed upload state; empty: random per process"},
    {"http", "max_connections", "REGISTRY_HTTP_MAX_CONNECTIONS", NULL,
        CONFIG_T_INT, CF(cf_max_connections),
        CONFIG_STR(SERVER_MAX_CONNECTIONS), 1, 65536, NULL, 0,
        "open client connections at most"},
    {"http", "max_connections_per_address",
        "REGISTRY_HTTP_MAX_CONNECTIONS_PER_ADDRESS", NULL, CONFIG_T_INT,
        CF(cf_conns_per_addr), CONFIG_STR(SERVER_MAX_CONNECTIONS_PER_ADDRESS),
        1, 65536, NULL, 0,
        "connections per client address (IPv6: per /64); proxies exempt"},
    {"http", "header_timeout", "REGISTRY_HTTP_HEADER_TIMEOUT", NULL,
        CONFIG_T_DURATION, CF(cf_header_timeout), "30", 1, 3600, NULL, 0,
        "seconds to receive a request's headers, from its first byte or "
        "the connection's start"},
    {"http", "body_timeout", "REGISTRY_HTTP_BODY_TIMEOUT", NULL,
        CONFIG_T_DURATION, CF(cf_body_timeout), "60", 1, 3600, NULL, 0,
        "seconds without request body bytes before closing"},
    {"http", "write_timeout", "REGISTRY_HTTP_WRITE_TIMEOUT", NULL,
        CONFIG_T_DURATION, CF(cf_write_timeout), "60", 1, 3600, NULL, 0,
        "seconds without response progress before closing"},
    {"http", "idle_timeout", "REGISTRY_HTTP_IDLE_TIMEOUT", NULL,
        CONFIG_T_DURATION, CF(cf_idle_timeout), "60", 1, 3600, NULL, 0,
        "seconds an idle keep-alive connection stays open"},
    {"http", "drain_timeout", "REGISTRY_HTTP_DRAIN_TIMEOUT",
        "REGISTRY_HTTP_DRAINTIMEOUT", CONFIG_T_DURATION, CF(cf_drain_timeout),
        "30", 0, 3600, NULL, 0,
        "seconds to finish in-flight requests at shutdown"},
    {"http", "manifest_buffer_max", "REGISTRY_HTTP_MANIFEST_BUFFER_MAX", NULL,
        CONFIG_T_INT, CF(cf_manifest_buffer_max),
        CONFIG_STR(MANIFEST_BUFFER_MAX), MANIFEST_MAX_BYTES, 1073741824, NULL,
        0, "bytes of manifest bodies held by all PUTs; beyond, 503"},
    {"http", "trust_proxy", "REGISTRY_HTTP_TRUSTPROXY", NULL, CONFIG_T_STRING,
        CF(cf_trust_proxy), "", 0, 0, config_validate_proxies, CONFIG_F_LIST,
        "proxy addresses whose X-Forwarded-* headers are believed"},
    {"http", "cors_origins", "REGISTRY_HTTP_CORSORIGINS", NULL, CONFIG_T_STRING,
        CF(cf_cors_origins), "", 0, 0, config_validate_origins, CONFIG_F_LIST,
        "credentialed CORS origins, comma list; * alone: any, no credentials"},
    {"http", "debug_addr", "REGISTRY_HTTP_DEBUG_ADDR", NULL, CONFIG_T_STRING,
        CF(cf_debug_addr), "", 0, 0, config_validate_optaddr, 0,
        "debug listener, plain HTTP: /metrics and the probes without auth"},
    {"tls", "certificate", "REGISTRY_HTTP_TLS_CERTIFICATE", NULL,
        CONFIG_T_STRING, CF(cf_tls_cert), "", 0, 0, config_validate_optpath, 0,
        "PEM certificate chain; set with key to serve HTTPS"},
    {"tls", "key", "REGISTRY_HTTP_TLS_KEY", NULL, CONFIG_T_STRING,
        CF(cf_tls_key), "", 0, 0, config_validate_optpath, 0,
        "PEM private key of the certificate"},
    {"tls", "client_ca", "REGISTRY_HTTP_TLS_CLIENTCAS", NULL, CONFIG_T_STRING,
        CF(cf_tls_client_ca), "", 0, 0, config_validate_optpath,
        CONFIG_F_ENV_ONE,
        "PEM CA certificates for client certificates; empty: none"},
    {"tls", "client_auth", "REGISTRY_HTTP_TLS_CLIENTAUTH", NULL,
        CONFIG_T_CLIENT, CF(cf_tls_client_auth), "require", 0, 0, NULL, 0,
        "with client_ca: require or verify (if given) a client certificate"},
    {"tls", "minimum_version", "REGISTRY_HTTP_TLS_MINIMUMTLS", NULL,
        CONFIG_T_TLSVER, CF(cf_tls_min_version), "tls1.2", 0, 0, NULL, 0,
        "oldest TLS version accepted: tls1.2 or tls1.3"},
    {"tls", "ciphers", "REGISTRY_HTTP_TLS_CIPHERSUITES", NULL, CONFIG_T_STRING,
        CF(cf_tls_ciphers), CONFIG_DEFAULT_CIPHERS, 0, 0,
        config_validate_ciphers, CONFIG_F_CIPHERS,
        "TLS 1.2 cipher list, OpenSSL syntax"},
    {"auth", "htpasswd", "REGISTRY_AUTH_HTPASSWD_PATH", NULL, CONFIG_T_STRING,
        CF(cf_htpasswd), "", 0, 0, config_validate_optpath, 0,
        "htpasswd file (bcrypt); set to require Basic auth"},
    {"auth", "realm", "REGISTRY_AUTH_HTPASSWD_REALM", NULL, CONFIG_T_STRING,
        CF(cf_realm), "registryd", 0, 0, config_validate_realm, 0,
        "realm in the WWW-Authenticate challenge"},
    {"auth", "anonymous_pull", "REGISTRY_AUTH_ANONYMOUSPULL", NULL,
        CONFIG_T_BOOL, CF(cf_anonymous_pull), "false", 0, 0, NULL, 0,
        "let requests without credentials pull; push needs a user"},
    {"auth", "cache_ttl", "REGISTRY_AUTH_CACHE_TTL", NULL, CONFIG_T_DURATION,
        CF(cf_auth_cache_ttl), "300", 0, 86400, NULL, 0,
        "seconds verified credentials are cached; 0: no cache"},
    {"auth", "fail_limit", "REGISTRY_AUTH_FAILLIMIT", NULL, CONFIG_T_INT,
        CF(cf_auth_fail_limit), "10", 0, 100000, NULL, 0,
        "failed logins per minute per user and address; 0: no limit"},
    {"auth", "pending_max", "REGISTRY_AUTH_PENDINGMAX", NULL, CONFIG_T_INT,
        CF(cf_auth_pending_max), "256", 1, 100000, NULL, 0,
        "password checks queued or running; beyond, logins get 429"},
    {"auth", "username", "REGISTRY_USERNAME", NULL, CONFIG_T_STRING,
        CF(cf_username), "", 0, 0, config_validate_user, CONFIG_F_ENV_ONLY,
        "user of a missing htpasswd file to create"},
    {"auth", "password", "REGISTRY_PASSWORD", NULL, CONFIG_T_STRING,
        CF(cf_password), "", 0, 0, NULL, CONFIG_F_ENV_ONLY | CONFIG_F_SECRET,
        "password of that user"},
    {"storage", "driver", "REGISTRY_STORAGE", NULL, CONFIG_T_STRING,
        CF(cf_driver), "filesystem", 0, 0, config_validate_driver, 0,
        "storage driver: filesystem, or s3 (see [s3])"},
    {"storage", "rootdirectory", "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
        NULL, CONFIG_T_STRING, CF(cf_root), "/var/lib/registry", 0, 0,
        config_validate_path, 0, "storage root, registry:2 filesystem layout"},
    {"storage", "delete_enabled", "REGISTRY_STORAGE_DELETE_ENABLED", NULL,
        CONFIG_T_BOOL, CF(cf_delete_enabled), "false", 0, 0, NULL, 0,
        "allow DELETE of manifests, tags and blobs"},
    {"storage", "catalog_refresh", "REGISTRY_STORAGE_CATALOG_REFRESH", NULL,
        CONFIG_T_DURATION, CF(cf_catalog_refresh), "10", 1, 86400, NULL, 0,
        "seconds between rescans of the repository list"},
    {"storage", "upload_sessions_max", "REGISTRY_STORAGE_UPLOAD_SESSIONS_MAX",
        NULL, CONFIG_T_INT, CF(cf_upload_sessions_max), "10000", 1, 1000000,
        NULL, 0, "upload sessions open at once; beyond, POST gets 429"},
    {"storage", "upload_sessions_per_client",
        "REGISTRY_STORAGE_UPLOAD_SESSIONS_PERCLIENT", NULL, CONFIG_T_INT,
        CF(cf_upload_sessions_per_client), "500", 1, 1000000, NULL, 0,
        "upload sessions one client address may hold open at once"},
    {"storage", "upload_purge", "REGISTRY_STORAGE_UPLOAD_PURGE",
        "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED", CONFIG_T_BOOL,
        CF(cf_upload_purge), "true", 0, 0, NULL, 0,
        "delete unfinished uploads older than upload_purge_age"},
    {"storage", "upload_purge_age", "REGISTRY_STORAGE_UPLOAD_PURGE_AGE",
        "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE", CONFIG_T_DURATION,
        CF(cf_upload_purge_age), "604800", 1, 31536000, NULL, 0,
        "seconds after which unfinished uploads are deleted"},
    {"storage", "upload_purge_interval",
        "REGISTRY_STORAGE_UPLOAD_PURGE_INTERVAL",
        "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL",
        CONFIG_T_DURATION, CF(cf_upload_purge_interval), "86400", 1, 31536000,
        NULL, 0, "seconds between purges (one runs at start)"},
    {"storage", "upload_purge_dryrun", "REGISTRY_STORAGE_UPLOAD_PURGE_DRYRUN",
        "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_DRYRUN", CONFIG_T_BOOL,
        CF(cf_upload_purge_dryrun), "false", 0, 0, NULL, 0,
        "only log the uploads a purge would delete"},
    {"storage", "read_only", "REGISTRY_STORAGE_READ_ONLY",
        "REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED", CONFIG_T_BOOL,
        CF(cf_read_only), "false", 0, 0, NULL, 0,
        "refuse pushes and deletes (405), serve pulls"},
    {"storage", "gc_interval", "REGISTRY_STORAGE_GC_INTERVAL", NULL,
        CONFIG_T_DURATION, CF(cf_gc_interval), "0", 0, 31536000, NULL, 0,
        "seconds between online garbage collections; 0: only on SIGUSR1"},
    {"storage", "gc_grace", "REGISTRY_STORAGE_GC_GRACE", NULL,
        CONFIG_T_DURATION, CF(cf_gc_grace), "3600", 0, 2592000, NULL, 0,
        "garbage collection keeps what was used within this many seconds"},
    {"storage", "redirect_disable", "REGISTRY_STORAGE_REDIRECT_DISABLE", NULL,
        CONFIG_T_BOOL, CF(cf_redirect_disable), "false", 0, 0, NULL, 0,
        "s3: serve blob GETs through registryd, not 307 to the store"},
    {"s3", "region", "REGISTRY_STORAGE_S3_REGION", NULL, CONFIG_T_STRING,
        CF(cf_s3_region), "us-east-1", 0, 0, config_validate_nonempty, 0,
        "region the requests are signed for"},
    {"s3", "regionendpoint", "REGISTRY_STORAGE_S3_REGIONENDPOINT", NULL,
        CONFIG_T_STRING, CF(cf_s3_endpoint), "", 0, 0, config_validate_endpoint,
        0,
        "URL of an S3-compatible store (http://127.0.0.1:7480); "
        "empty: AWS"},
    {"s3", "bucket", "REGISTRY_STORAGE_S3_BUCKET", NULL, CONFIG_T_STRING,
        CF(cf_s3_bucket), "", 0, 0, config_validate_bucket, 0,
        "bucket holding the registry"},
    {"s3", "accesskey", "REGISTRY_STORAGE_S3_ACCESSKEY", NULL, CONFIG_T_STRING,
        CF(cf_s3_access_key), "", 0, 0, NULL, CONFIG_F_SECRET, "access key id"},
    {"s3", "secretkey", "REGISTRY_STORAGE_S3_SECRETKEY", NULL, CONFIG_T_STRING,
        CF(cf_s3_secret_key), "", 0, 0, NULL, CONFIG_F_SECRET,
        "secret access key (or secretkeyfile)"},
    {"s3", "secretkeyfile", "REGISTRY_STORAGE_S3_SECRETKEYFILE", NULL,
        CONFIG_T_STRING, CF(cf_s3_secret_key_file), "", 0, 0,
        config_validate_optpath, 0,
        "file holding the secret access key (first line)"},
    {"s3", "rootdirectory", "REGISTRY_STORAGE_S3_ROOTDIRECTORY", NULL,
        CONFIG_T_STRING, CF(cf_s3_root), "", 0, 0, NULL, 0,
        "key prefix of the registry in the bucket"},
    {"s3", "secure", "REGISTRY_STORAGE_S3_SECURE", NULL, CONFIG_T_BOOL,
        CF(cf_s3_secure), "true", 0, 0, NULL, 0,
        "https to AWS (regionendpoint says its own scheme)"},
    {"s3", "forcepathstyle", "REGISTRY_STORAGE_S3_FORCEPATHSTYLE", NULL,
        CONFIG_T_STRING, CF(cf_s3_path_style), "", 0, 0,
        config_validate_optbool, 0,
        "host/bucket/key URLs; unset: with regionendpoint only"},
    {"s3", "chunksize", "REGISTRY_STORAGE_S3_CHUNKSIZE", NULL, CONFIG_T_INT,
        CF(cf_s3_chunk_size), "10485760", 5242880, 1073741824, NULL, 0,
        "bytes per multipart part; an upload buffers two"},
    {"log", "level", "REGISTRY_LOG_LEVEL", NULL, CONFIG_T_LOGLEVEL,
        CF(cf_log_level), "info", 0, 0, NULL, 0, "error, warn, info or debug"},
    {"log", "access_log", "REGISTRY_LOG_ACCESSLOG_DISABLED", NULL,
        CONFIG_T_BOOL, CF(cf_access_log), "true", 0, 0, NULL,
        CONFIG_F_ENV_INVERT, "one log line per request"},
    {"log", "format", "REGISTRY_LOG_FORMATTER", NULL, CONFIG_T_STRING,
        CF(cf_log_format), "text", 0, 0, config_validate_logformat, 0,
        "text, or json: one JSON object per line (logstash: json)"},
    {"server", "user", "REGISTRY_SERVER_USER", NULL, CONFIG_T_STRING,
        CF(cf_user), "", 0, 0, config_validate_sysuser, 0,
        "started as root: become this user after binding; empty: stay"},
    {"server", "chown_root", "REGISTRY_SERVER_CHOWN_ROOT", NULL, CONFIG_T_BOOL,
        CF(cf_chown_root), "false", 0, 0, NULL, 0,
        "started as root with user: make user own the storage root first"},
    {"server", "umask", "REGISTRY_SERVER_UMASK", NULL, CONFIG_T_STRING,
        CF(cf_umask), "", 0, 0, config_validate_umask, 0,
        "umask to set at start, octal (0027); empty: the inherited one"},
    {"ui", "enabled", "REGISTRY_UI_ENABLED", NULL, CONFIG_T_BOOL,
        CF(cf_ui_enabled), "true", 0, 0, NULL, 0,
        "serve the web interface at /ui/ (and redirect / there)"},
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/*
 * The section that is not made of rows of config_keys. An array, not a
 * macro, so that cp_section can be compared by address.
 */
static const char config_section_headers[] = "headers";

/* The default response headers, set before the file is read. */
static const struct {
	const char *dh_name;
	const char *dh_value;
} config_default_headers[] = {
    {"X-Content-Type-Options", "nosniff"},
};

/*
 * registry:2 names that are not keys, first match wins (so exact names
 * come before the prefixes that cover them). REGISTRY_PORT* and
 * REGISTRY_SERVICE_* are what Kubernetes injects for a Service called
 * "registry"; they must never stop a pod.
 */
static const struct config_env_rule config_env_rules[] = {
    {"REGISTRY_PROXY_", 1, NULL, CONFIG_ENV_REFUSE,
        "pull-through proxy is not supported by registryd; "
        "refusing to start"},
    {"REGISTRY_AUTH", 0, "htpasswd", CONFIG_ENV_REFUSE,
        "only htpasswd authentication is supported by registryd; "
        "refusing to serve an unprotected registry"},
    {"REGISTRY_AUTH_HTPASSWD_", 1, NULL, CONFIG_ENV_WARN,
        "unknown htpasswd setting, ignored"},
    {"REGISTRY_AUTH_", 1, NULL, CONFIG_ENV_REFUSE,
        "only htpasswd authentication is supported by registryd; "
        "refusing to serve an unprotected registry"},
    {"REGISTRY_HTTP_TLS_LETSENCRYPT_", 1, NULL, CONFIG_ENV_REFUSE,
        "Let's Encrypt is not supported by registryd: get the certificate "
        "with an ACME client and set certificate= and key=; "
        "refusing to serve a plain HTTP registry"},
    {"REGISTRY_HTTP_TLS_", 1, NULL, CONFIG_ENV_WARN,
        "unknown TLS setting, ignored"},
    {"REGISTRY_STORAGE_S3_ENCRYPT", 0, "false", CONFIG_ENV_REFUSE,
        "server-side encryption is not supported by registryd's s3 "
        "driver; refusing to store unencrypted"},
    {"REGISTRY_STORAGE_S3_KEYID", 1, NULL, CONFIG_ENV_REFUSE,
        "server-side encryption is not supported by registryd's s3 "
        "driver; refusing to store unencrypted"},
    {"REGISTRY_STORAGE_S3_SKIPVERIFY", 0, "false", CONFIG_ENV_REFUSE,
        "not verifying the store's TLS certificate is not supported: add "
        "its CA to the system's trusted certificates; refusing to start"},
    {"REGISTRY_STORAGE_S3_", 1, NULL, CONFIG_ENV_WARN,
        "not supported by registryd's s3 driver; ignored"},
    {"REGISTRY_STORAGE_GCS", 1, NULL, CONFIG_ENV_REFUSE,
        "the gcs storage driver is not supported by registryd; "
        "refusing to start"},
    {"REGISTRY_STORAGE_AZURE", 1, NULL, CONFIG_ENV_REFUSE,
        "the azure storage driver is not supported by registryd; "
        "refusing to start"},
    {"REGISTRY_STORAGE_SWIFT", 1, NULL, CONFIG_ENV_REFUSE,
        "the swift storage driver is not supported by registryd; "
        "refusing to start"},
    {"REGISTRY_STORAGE_OSS", 1, NULL, CONFIG_ENV_REFUSE,
        "the oss storage driver is not supported by registryd; "
        "refusing to start"},
    {"REGISTRY_STORAGE_INMEMORY", 1, NULL, CONFIG_ENV_REFUSE,
        "the inmemory storage driver is not supported by registryd; "
        "refusing to start"},
    {"REGISTRY_MIDDLEWARE_", 1, NULL, CONFIG_ENV_REFUSE,
        "middleware is not supported by registryd; refusing to start"},
    {"REGISTRY_HTTP_PREFIX", 0, "/", CONFIG_ENV_REFUSE,
        "a URL prefix is not supported by registryd; refusing to start"},
    {"REGISTRY_HTTP_NET", 0, "tcp", CONFIG_ENV_REFUSE,
        "only tcp listeners are supported by registryd; "
        "refusing to start"},
    {"REGISTRY_STORAGE_MAINTENANCE_", 1, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    {"REGISTRY_STORAGE_REDIRECT_", 1, NULL, CONFIG_ENV_ACCEPT, NULL},
    {"REGISTRY_STORAGE_CACHE_", 1, NULL, CONFIG_ENV_ACCEPT, NULL},
    {"REGISTRY_STORAGE_TAG_", 1, NULL, CONFIG_ENV_ACCEPT, NULL},
    {"REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS", 0, NULL, CONFIG_ENV_ACCEPT,
        NULL},
    {"REGISTRY_VERSION", 0, NULL, CONFIG_ENV_ACCEPT, NULL},
    {"REGISTRY_PORT", 1, NULL, CONFIG_ENV_ACCEPT, NULL},
    {"REGISTRY_SERVICE_", 1, NULL, CONFIG_ENV_ACCEPT, NULL},
    {"REGISTRY_REPORTING_", 1, NULL, CONFIG_ENV_ACCEPT, NULL},
    {"REGISTRY_LOG_FIELDS_", 1, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    {"REGISTRY_LOG_HOOKS_", 1, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    /* registryd's debug listener always serves /metrics. */
    {"REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED", 0, NULL, CONFIG_ENV_ACCEPT,
        NULL},
    {"REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH", 0, "/metrics", CONFIG_ENV_WARN,
        "registryd serves metrics at /metrics only; ignored"},
    {"REGISTRY_HTTP_DEBUG_", 1, NULL, CONFIG_ENV_WARN,
        "the debug listener serves /metrics and the probes only (no pprof, "
        "expvar or TLS); ignored"},
    {"REGISTRY_HTTP_HOST", 0, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    {"REGISTRY_HTTP_RELATIVEURLS", 0, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    {"REGISTRY_HTTP_HTTP2_", 1, NULL, CONFIG_ENV_WARN,
        "HTTP/2 is not supported by registryd; ignored"},
    {"REGISTRY_HTTP_H2C_", 1, NULL, CONFIG_ENV_WARN,
        "HTTP/2 is not supported by registryd; ignored"},
    {"REGISTRY_NOTIFICATIONS_", 1, NULL, CONFIG_ENV_WARN,
        "notifications are not supported by registryd; "
        "no events will be sent"},
    {"REGISTRY_REDIS_", 1, NULL, CONFIG_ENV_WARN,
        "not needed by registryd; ignored"},
    {"REGISTRY_HEALTH_", 1, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    {"REGISTRY_VALIDATION_", 1, NULL, CONFIG_ENV_WARN,
        "registryd always validates manifests; ignored"},
    {"REGISTRY_COMPATIBILITY_", 1, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    {"REGISTRY_CATALOG_", 1, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    /* The file to read, as in registry:2: main.c takes it. */
    {"REGISTRY_CONFIGURATION_PATH", 0, NULL, CONFIG_ENV_ACCEPT, NULL},
};

#define CONFIG_NRULES (sizeof(config_env_rules) / sizeof(config_env_rules[0]))

/* State of one config_load: where we are and what we have seen. */
struct config_parse {
	struct config *cp_cf;
	const char *cp_file;
	int cp_line;
	int cp_errors;
	const char *cp_section; /* current section, or NULL */
	int cp_bad_section;     /* keys follow a rejected [section] */
	int cp_auth_htpasswd;   /* REGISTRY_AUTH=htpasswd was given */
	unsigned char cp_seen[CONFIG_NKEYS];           /* key set in file */
	unsigned char cp_hdr_seen[CONFIG_MAX_HEADERS]; /* header in file */
	/* A YAML file: the item being applied, and what was said once. */
	const struct config_yaml_item *cp_yaml;    /* item being applied */
	const char *cp_yaml_key;                   /* "http.addr", or NULL */
	int cp_yaml_line[CONFIG_NKEYS];            /* line a key was set on */
	unsigned char cp_yaml_rule[CONFIG_NRULES]; /* rule reported */
};

static void config_report(const char *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void config_file_error(struct config_parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static int config_set(struct config *, const struct config_key *, const char *,
    int, char *, size_t);
static int config_parse_bool(const char *, int *);
static int config_parse_duration(const char *, uint64_t *);
static int config_defaults(struct config *);
static int config_read_file(struct config_parse *, const char *, int);
static void config_read_yaml(struct config_parse *, const char *, FILE *);
static int config_read_line(FILE *, char *, size_t, size_t *, size_t *);
static void config_parse_line(struct config_parse *, char *);
static int config_unquote(char *, char *, size_t);
static int config_section_is_known(const char *);
static int
config_header_set(struct config *, const char *, const char *, char *, size_t);
static int config_header_name_is_valid(const char *);
static int config_header_value_is_valid(const char *);
static int config_env_list_value(const char *, char *, size_t, int *);
static int config_list_normalize(const char *, char *, size_t);
static int config_go_ciphers_map(const char *, char *, size_t);
static void config_check(struct config_parse *);
static void config_env(struct config_parse *, char **);
static int config_env_one(struct config_parse *, const char *, const char *);
static void config_env_report(struct config_parse *, const char *,
    const struct config_env_rule *, int, const char *, ...)
    __attribute__((format(printf, 5, 6)));
static const struct config_key *config_key_by_env(const char *, size_t *);
static int config_env_is_prefix(const char *);
static int config_yaml_item(const struct config_yaml_item *, void *);
static void config_env_headers(struct config_parse *, const char *);
static int config_env_headers_map(struct config_parse *, const char *);
static int config_env_headers_lines(struct config_parse *, const char *);
static int config_env_header_add(struct config_parse *, const char *,
    const char *, unsigned char *);
static const char *
config_flow_scalar(const char *, const char *, char *, size_t);
static void config_headers_compact(struct config *);
static char *config_trim(char *);
static const char *config_level_name(int);
static void config_dump_string(const char *);

/* ---- reporting ---- */

/*
 * Print "where:line: message" (line 0: "where: message") on stderr. The
 * log module is not set up yet when the configuration is read, and
 * check-config wants exactly these lines.
 */
static void
config_report(const char *where, int line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(stderr, "%s:%d: ", where, line);
	else
		fprintf(stderr, "%s: ", where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
config_file_error(struct config_parse *cp, const char *fmt, ...)
{
	char msg[CONFIG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_report(cp->cp_file, cp->cp_line, "%s", msg);
	cp->cp_errors++;
}

/* ---- values ---- */

static char *
config_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s &&
	    (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int
config_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/*
 * Seconds as "90", or Go-style units as registry:2 writes them ("90s",
 * "5m", "168h", "1h30m"). The total is capped early so that no sum or
 * product can overflow; the caller checks the key's own bounds.
 */
static int
config_parse_duration(const char *s, uint64_t *out)
{
	const uint64_t cap = UINT32_MAX;
	uint64_t total = 0, n, mult;
	const char *p = s, *d;

	if (*s == '\0')
		return -1;
	while (*p != '\0') {
		for (d = p; *p >= '0' && *p <= '9'; p++)
			;
		if (util_strtou64(d, (size_t)(p - d), cap, &n) == -1)
			return -1;
		switch (*p) {
		case '\0':
			/* A bare number is seconds, but only on its own. */
			if (d != s)
				return -1;
			mult = 1;
			break;
		case 's':
			mult = 1;
			p++;
			break;
		case 'm':
			mult = 60;
			p++;
			break;
		case 'h':
			mult = 3600;
			p++;
			break;
		default:
			return -1;
		}
		total += n * mult;
		if (total > cap)
			return -1;
	}
	*out = total;
	return 0;
}

/*
 * Parse value for key k into cf. from_env applies CONFIG_F_ENV_INVERT.
 * Returns 0, or -1 with a message (without the key's name) in err.
 */
static int
config_set(struct config *cf, const struct config_key *k, const char *value,
    int from_env, char *err, size_t errlen)
{
	char *base = (char *)cf + k->ck_offset;
	char list[CONFIG_VALUE_MAX + 1];
	char **sp;
	char *copy;
	uint64_t n;
	int *ip = (int *)(void *)base;
	int b;
	size_t i;

	if (strlen(value) > CONFIG_VALUE_MAX) {
		snprintf(err, errlen, "value longer than %d bytes",
		    CONFIG_VALUE_MAX);
		return -1;
	}
	switch (k->ck_type) {
	case CONFIG_T_STRING:
		/* Lists are stored as "a,b,c", blanks around items dropped. */
		if (k->ck_flags & CONFIG_F_LIST) {
			if (config_list_normalize(value, list, sizeof(list)) ==
			    -1) {
				snprintf(err, errlen,
				    "empty item or more than %d items",
				    CONFIG_LIST_ITEMS);
				return -1;
			}
			value = list;
		}
		if (k->ck_validate != NULL &&
		    k->ck_validate(value, err, errlen) == -1)
			return -1;
		if ((copy = strdup(value)) == NULL) {
			snprintf(err, errlen, "%s", strerror(errno));
			return -1;
		}
		sp = (char **)(void *)base;
		free(*sp);
		*sp = copy;
		return 0;
	case CONFIG_T_INT:
		if (util_strtou64(value, strlen(value), k->ck_max, &n) == -1 ||
		    n < k->ck_min) {
			snprintf(err, errlen,
			    "expected a number from %llu "
			    "to %llu",
			    (unsigned long long)k->ck_min,
			    (unsigned long long)k->ck_max);
			return -1;
		}
		*ip = (int)n;
		return 0;
	case CONFIG_T_DURATION:
		if (config_parse_duration(value, &n) == -1 || n < k->ck_min ||
		    n > k->ck_max) {
			snprintf(err, errlen,
			    "expected seconds from %llu to "
			    "%llu, or a duration such as 90s, 5m, 1h",
			    (unsigned long long)k->ck_min,
			    (unsigned long long)k->ck_max);
			return -1;
		}
		*ip = (int)n;
		return 0;
	case CONFIG_T_BOOL:
		if (config_parse_bool(value, &b) == -1) {
			snprintf(err, errlen,
			    "expected true|false|yes|no|on|off|1|0");
			return -1;
		}
		if (from_env && (k->ck_flags & CONFIG_F_ENV_INVERT))
			b = !b;
		*ip = b;
		return 0;
	case CONFIG_T_LOGLEVEL:
		for (i = 0;
		     i < sizeof(config_levels) / sizeof(config_levels[0]);
		     i++) {
			if (strcasecmp(value, config_levels[i].ln_name) == 0) {
				*ip = config_levels[i].ln_level;
				return 0;
			}
		}
		snprintf(err, errlen, "expected error|warn|info|debug");
		return -1;
	case CONFIG_T_TLSVER:
		for (i = 0; i < sizeof(config_tls_versions) /
		         sizeof(config_tls_versions[0]);
		     i++) {
			if (strcasecmp(value, config_tls_versions[i].tv_name) ==
			    0) {
				*ip = config_tls_versions[i].tv_version;
				return 0;
			}
		}
		if (strcasecmp(value, "tls1.0") == 0 ||
		    strcasecmp(value, "tls1.1") == 0) {
			snprintf(err, errlen,
			    "%.16s is obsolete and insecure (RFC 8996); "
			    "expected tls1.2 or tls1.3",
			    value);
			return -1;
		}
		snprintf(err, errlen, "expected tls1.2 or tls1.3");
		return -1;
	case CONFIG_T_CLIENT:
		for (i = 0; i < sizeof(config_client_modes) /
		         sizeof(config_client_modes[0]);
		     i++) {
			if (strcasecmp(value, config_client_modes[i].ca_name) ==
			    0) {
				*ip = config_client_modes[i].ca_mode;
				return 0;
			}
		}
		snprintf(err, errlen, "expected require or verify");
		return -1;
	}
	snprintf(err, errlen, "internal error: bad key type");
	return -1;
}

/*
 * addr: ":port", "host:port" or "[v6addr]:port", port 1..65535. The host
 * is only checked for shape here: resolving it is the server's job, and a
 * name that does not resolve is reported when it tries to listen.
 */
static int
config_validate_addr(const char *s, char *err, size_t errlen)
{
	const char *colon, *p;
	char v6[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	uint64_t port;
	size_t hlen;

	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL || p[1] != ':')
			goto bad;
		hlen = (size_t)(p - s - 1);
		if (hlen == 0 || hlen >= sizeof(v6))
			goto bad;
		memcpy(v6, s + 1, hlen);
		v6[hlen] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1) {
			snprintf(err, errlen, "'%s' is not an IPv6 address",
			    v6);
			return -1;
		}
		colon = p + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			goto bad;
		hlen = (size_t)(colon - s);
		if (hlen > CONFIG_HOST_MAX)
			goto bad;
		for (p = s; p < colon; p++) {
			if (!isalnum((unsigned char)*p) && *p != '.' &&
			    *p != '-' && *p != '_')
				goto bad;
		}
	}
	if (util_strtou64(colon + 1, strlen(colon + 1), 65535, &port) == -1 ||
	    port == 0) {
		snprintf(err, errlen, "expected a port from 1 to 65535");
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen,
	    "expected [host]:port, such as :5000, "
	    "127.0.0.1:5000 or [::1]:5000");
	return -1;
}

/* An optional address (debug_addr=): empty, or as addr= takes it. */
static int
config_validate_optaddr(const char *s, char *err, size_t errlen)
{
	if (*s == '\0')
		return 0;
	return config_validate_addr(s, err, errlen);
}

/* An optional path (certificate=, htpasswd=): empty, or fits PATH_MAX. */
static int
config_validate_optpath(const char *s, char *err, size_t errlen)
{
	if (*s == '\0')
		return 0;
	return config_validate_path(s, err, errlen);
}

/*
 * A normalized comma list (config_list_normalize): call fn on each item.
 * Returns 0, or the first -1 of fn.
 */
static int
config_list_each(const char *s, int (*fn)(const char *, char *, size_t),
    char *err, size_t errlen)
{
	char item[CONFIG_VALUE_MAX + 1];
	const char *p = s, *c;
	size_t len;

	while (*p != '\0') {
		if ((c = strchr(p, ',')) == NULL)
			c = p + strlen(p);
		len = (size_t)(c - p);
		memcpy(item, p, len);
		item[len] = '\0';
		if (fn(item, err, errlen) == -1)
			return -1;
		p = *c == ',' ? c + 1 : c;
	}
	return 0;
}

/* One trust_proxy item: an IPv4 or IPv6 address. */
static int
config_validate_proxy(const char *s, char *err, size_t errlen)
{
	unsigned char a[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1)
		return 0;
	snprintf(err, errlen, "'%.64s' is not an IP address", s);
	return -1;
}

/*
 * trust_proxy: IP addresses, no names (resolving them would block) and
 * no networks, so that the list says exactly who is believed.
 */
static int
config_validate_proxies(const char *s, char *err, size_t errlen)
{
	return config_list_each(s, config_validate_proxy, err, errlen);
}

/*
 * One cors_origins item: an origin as browsers send it (RFC 6454),
 * "http://host" or "https://host:port", no path, no trailing slash.
 */
static int
config_validate_origin(const char *s, char *err, size_t errlen)
{
	const char *p;

	if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else
		goto bad;
	if (*p == '\0')
		goto bad;
	for (; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr(".-_:[]", *p) == NULL)
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen,
	    "'%.64s' is not an origin such as https://ui.example.com or *", s);
	return -1;
}

/* cors_origins: "*" alone, or a list of origins. */
static int
config_validate_origins(const char *s, char *err, size_t errlen)
{
	if (strcmp(s, "*") == 0)
		return 0;
	return config_list_each(s, config_validate_origin, err, errlen);
}

/*
 * ciphers: OpenSSL cipher list syntax. Only the characters are checked
 * here; the TLS module hands it to SSL_CTX_set_cipher_list, which knows
 * the names.
 */
static int
config_validate_ciphers(const char *s, char *err, size_t errlen)
{
	const char *p;

	if (*s == '\0') {
		snprintf(err, errlen, "must not be empty");
		return -1;
	}
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) &&
		    strchr(":+-!@=_,.", *p) == NULL) {
			snprintf(err, errlen,
			    "expected an OpenSSL cipher list such as "
			    "ECDHE+AESGCM:ECDHE+CHACHA20");
			return -1;
		}
	}
	return 0;
}

/*
 * realm: goes into WWW-Authenticate as a quoted-string, so printable
 * ASCII without '"' and '\\'.
 */
static int
config_validate_realm(const char *s, char *err, size_t errlen)
{
	const char *p;

	if (*s == '\0' || strlen(s) > CONFIG_REALM_MAX)
		goto bad;
	for (p = s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			goto bad;
	return 0;
bad:
	snprintf(err, errlen,
	    "expected 1 to %d printable characters without quotes or "
	    "backslashes",
	    CONFIG_REALM_MAX);
	return -1;
}

/* REGISTRY_USERNAME: what an htpasswd line can hold. */
static int
config_validate_user(const char *s, char *err, size_t errlen)
{
	const char *p;

	if (strlen(s) >= 128)
		goto bad;
	for (p = s; *p != '\0'; p++)
		if (*p == ':' || (unsigned char)*p < 0x20 || *p == 0x7f)
			goto bad;
	return 0;
bad:
	snprintf(err, errlen,
	    "a user name is at most 127 bytes, without ':' or control "
	    "characters");
	return -1;
}

/* [log] format: what log_format_parse knows. */
static int
config_validate_logformat(const char *s, char *err, size_t errlen)
{
	if (log_format_parse(s) != -1)
		return 0;
	snprintf(err, errlen, "expected text, json or logstash");
	return -1;
}

/*
 * [server] user: empty, or a system user name (useradd's rules: letters,
 * digits, '.', '_', '-', not starting with '-', 32 bytes at most). Whether
 * it exists is checked when the server drops privileges.
 */
static int
config_validate_sysuser(const char *s, char *err, size_t errlen)
{
	const char *p;

	if (*s == '\0')
		return 0;
	if (strlen(s) > 32 || *s == '-')
		goto bad;
	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-')
			goto bad;
	return 0;
bad:
	snprintf(err, errlen,
	    "expected a user name: letters, digits, '.', '_', '-', "
	    "at most 32 bytes");
	return -1;
}

/* [server] umask: empty, or three or four octal digits (0027). */
static int
config_validate_umask(const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (n == 0 ||
	    ((n == 3 || (n == 4 && s[0] == '0')) && strspn(s, "01234567") == n))
		return 0;
	snprintf(err, errlen, "expected an octal umask such as 0027 or 0022");
	return -1;
}

/* rootdirectory: any non-empty path that fits PATH_MAX. */
static int
config_validate_path(const char *s, char *err, size_t errlen)
{
	if (*s == '\0') {
		snprintf(err, errlen, "must not be empty");
		return -1;
	}
	if (strlen(s) >= 4096) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	return 0;
}

/* The storage drivers: filesystem, s3. */
static int
config_validate_driver(const char *s, char *err, size_t errlen)
{
	if (strcmp(s, "filesystem") == 0 || strcmp(s, "s3") == 0)
		return 0;
	snprintf(err, errlen,
	    "only the filesystem and s3 storage drivers are supported by "
	    "registryd; refusing to start");
	return -1;
}

static int
config_validate_nonempty(const char *s, char *err, size_t errlen)
{
	if (*s != '\0')
		return 0;
	snprintf(err, errlen, "must not be empty");
	return -1;
}

/* An S3 endpoint: "" (AWS), or an http:// or https:// URL. */
static int
config_validate_endpoint(const char *s, char *err, size_t errlen)
{
	if (*s == '\0' || strncmp(s, "http://", 7) == 0 ||
	    strncmp(s, "https://", 8) == 0)
		return 0;
	/* A bare host[:port], as registry:2 takes it: secure says https. */
	if (strspn(s,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789.-:[]") == strlen(s) &&
	    strchr(".-:[", *s) == NULL)
		return 0;
	snprintf(err, errlen,
	    "expected an http:// or https:// URL, or host[:port]");
	return -1;
}

/* An optional boolean: empty (not set), or true|false|yes|no|on|off|1|0. */
static int
config_validate_optbool(const char *s, char *err, size_t errlen)
{
	int b;

	if (*s == '\0' || config_parse_bool(s, &b) == 0)
		return 0;
	snprintf(err, errlen, "expected true|false|yes|no|on|off|1|0");
	return -1;
}

int
config_s3_path_style(const struct config *cf)
{
	int b;

	if (cf->cf_s3_path_style != NULL && *cf->cf_s3_path_style != '\0' &&
	    config_parse_bool(cf->cf_s3_path_style, &b) == 0)
		return b;
	return cf->cf_s3_endpoint != NULL && *cf->cf_s3_endpoint != '\0';
}

/* S3 bucket names: 3 to 63 of [a-z0-9.-] (empty: not set). */
static int
config_validate_bucket(const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s), i;

	if (len == 0)
		return 0;
	if (len < 3 || len > 63)
		goto bad;
	for (i = 0; i < len; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '-' && s[i] != '_')
			goto bad;
	return 0;
bad:
	snprintf(err, errlen, "a bucket name is 3 to 63 of a-z 0-9 . - _");
	return -1;
}

/* ---- response headers ---- */

/* RFC 9110 token: the characters allowed in a field name. */
static int
config_header_name_is_valid(const char *s)
{
	const char *p;

	if (*s == '\0' || strlen(s) > CONFIG_HDR_NAME_MAX)
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) &&
		    strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return 0;
	}
	return 1;
}

/*
 * A field value: visible ASCII, obs-text, space and tab. Refusing CR and
 * LF is what matters: one would let the file inject response lines.
 */
static int
config_header_value_is_valid(const char *s)
{
	const unsigned char *p;

	if (strlen(s) > CONFIG_HDR_VALUE_MAX)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return 0;
	}
	return 1;
}

/*
 * Add header name or replace its value (names compare case-insensitively).
 * An empty value removes the header when loading ends, which is how the
 * default X-Content-Type-Options can be turned off. Returns the slot, or
 * -1 with a message in err.
 */
static int
config_header_set(struct config *cf, const char *name, const char *value,
    char *err, size_t errlen)
{
	char *n = NULL, *v = NULL;
	size_t i;
	int slot;

	if (!config_header_name_is_valid(name)) {
		snprintf(err, errlen, "invalid header name");
		return -1;
	}
	for (i = 0; i < sizeof(config_reserved_headers) /
	         sizeof(config_reserved_headers[0]);
	     i++) {
		if (strcasecmp(name, config_reserved_headers[i]) == 0) {
			snprintf(err, errlen,
			    "header %s is set by "
			    "registryd itself",
			    config_reserved_headers[i]);
			return -1;
		}
	}
	if (!config_header_value_is_valid(value)) {
		snprintf(err, errlen,
		    "invalid value for header %s: control "
		    "characters or longer than %d bytes",
		    name, CONFIG_HDR_VALUE_MAX);
		return -1;
	}
	for (slot = 0; slot < cf->cf_nheaders; slot++)
		if (strcasecmp(cf->cf_headers[slot].ch_name, name) == 0)
			break;
	if (slot == CONFIG_MAX_HEADERS) {
		snprintf(err, errlen, "too many headers (at most %d)",
		    CONFIG_MAX_HEADERS);
		return -1;
	}
	if ((n = strdup(name)) == NULL || (v = strdup(value)) == NULL) {
		free(n);
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	free(cf->cf_headers[slot].ch_name);
	free(cf->cf_headers[slot].ch_value);
	cf->cf_headers[slot].ch_name = n;
	cf->cf_headers[slot].ch_value = v;
	if (slot == cf->cf_nheaders)
		cf->cf_nheaders++;
	return slot;
}

/* Drop the headers whose value is empty (removed by the user). */
static void
config_headers_compact(struct config *cf)
{
	int i, j;

	for (i = 0, j = 0; i < cf->cf_nheaders; i++) {
		if (cf->cf_headers[i].ch_value[0] == '\0') {
			free(cf->cf_headers[i].ch_name);
			free(cf->cf_headers[i].ch_value);
		} else
			cf->cf_headers[j++] = cf->cf_headers[i];
	}
	for (i = j; i < cf->cf_nheaders; i++) {
		cf->cf_headers[i].ch_name = NULL;
		cf->cf_headers[i].ch_value = NULL;
	}
	cf->cf_nheaders = j;
}

/* ---- defaults ---- */

static int
config_defaults(struct config *cf)
{
	char err[CONFIG_ERR_MAX];
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (config_set(cf, &config_keys[i], config_keys[i].ck_default,
		        0, err, sizeof(err)) == -1) {
			config_report("default", 0, "%s: %s",
			    config_keys[i].ck_key, err);
			return -1;
		}
	}
	for (i = 0; i <
	     sizeof(config_default_headers) / sizeof(config_default_headers[0]);
	     i++) {
		if (config_header_set(cf, config_default_headers[i].dh_name,
		        config_default_headers[i].dh_value, err,
		        sizeof(err)) == -1) {
			config_report("default", 0, "%s", err);
			return -1;
		}
	}
	return 0;
}

/* ---- the INI file ---- */

static int
config_section_is_known(const char *name)
{
	size_t i;

	if (strcmp(name, config_section_headers) == 0)
		return 1;
	for (i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(name, config_keys[i].ck_section) == 0)
			return 1;
	return 0;
}

/*
 * A value may be double-quoted to keep leading or trailing blanks; inside
 * quotes, \" and \\ are the only escapes. Unquotes s into out. Returns 0,
 * or -1 with s untouched when the quoting is broken.
 */
static int
config_unquote(char *s, char *out, size_t outsz)
{
	size_t o = 0;
	char *p;

	if (*s != '"') {
		if (util_strlcpy(out, s, outsz) >= outsz)
			return -1;
		return 0;
	}
	for (p = s + 1; *p != '"'; p++) {
		if (*p == '\0')
			return -1;
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = *p;
	}
	out[o] = '\0';
	/* Nothing but blanks may follow the closing quote. */
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	return *p == '\0' ? 0 : -1;
}

static void
config_parse_line(struct config_parse *cp, char *line)
{
	char value[CONFIG_LINE_MAX + 1], err[CONFIG_ERR_MAX];
	char *s, *eq, *key, *end;
	const struct config_key *k = NULL;
	size_t i;
	int slot;

	s = config_trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		return;

	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != '\0') {
			config_file_error(cp, "expected [section]");
			cp->cp_section = NULL;
			cp->cp_bad_section = 1;
			return;
		}
		*end = '\0';
		s = config_trim(s + 1);
		if (!config_section_is_known(s)) {
			config_file_error(cp, "unknown section [%.64s]", s);
			cp->cp_section = NULL;
			cp->cp_bad_section = 1;
			return;
		}
		cp->cp_bad_section = 0;
		/* Point at the table's copy: line is reused for the next. */
		if (strcmp(s, config_section_headers) == 0)
			cp->cp_section = config_section_headers;
		else
			for (i = 0; i < CONFIG_NKEYS; i++)
				if (strcmp(s, config_keys[i].ck_section) == 0) {
					cp->cp_section =
					    config_keys[i].ck_section;
					break;
				}
		return;
	}

	if ((eq = strchr(s, '=')) == NULL) {
		config_file_error(cp, "expected key = value");
		return;
	}
	*eq = '\0';
	key = config_trim(s);
	if (*key == '\0') {
		config_file_error(cp, "expected key = value");
		return;
	}
	if (config_unquote(config_trim(eq + 1), value, sizeof(value)) == -1) {
		config_file_error(cp,
		    "%.64s: unterminated quote or text "
		    "after closing quote",
		    key);
		return;
	}
	if (cp->cp_section == NULL) {
		/* After a bad section header this was reported already. */
		if (!cp->cp_bad_section)
			config_file_error(cp,
			    "key '%.64s' outside of a "
			    "section",
			    key);
		return;
	}

	if (cp->cp_section == config_section_headers) {
		if ((slot = config_header_set(cp->cp_cf, key, value, err,
		         sizeof(err))) == -1) {
			config_file_error(cp, "%.64s: %s", key, err);
			return;
		}
		if (cp->cp_hdr_seen[slot]) {
			config_file_error(cp, "duplicate header '%.64s'", key);
			return;
		}
		cp->cp_hdr_seen[slot] = 1;
		return;
	}

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (config_keys[i].ck_section == cp->cp_section &&
		    !(config_keys[i].ck_flags & CONFIG_F_ENV_ONLY) &&
		    strcmp(config_keys[i].ck_key, key) == 0) {
			k = &config_keys[i];
			break;
		}
	}
	if (k == NULL) {
		config_file_error(cp, "unknown key '%.64s' in [%s]", key,
		    cp->cp_section);
		return;
	}
	/*
	 * A second line for the same key is an error rather than "last
	 * wins": in a hand-edited file it is nearly always a forgotten
	 * line, and the one that wins would be a guess.
	 */
	if (cp->cp_seen[i]) {
		config_file_error(cp, "duplicate key '%s' in [%s]", key,
		    cp->cp_section);
		return;
	}
	cp->cp_seen[i] = 1;
	if (config_set(cp->cp_cf, k, value, 0, err, sizeof(err)) == -1)
		config_file_error(cp, "%s: %s", k->ck_key, err);
}

/*
 * Read one line into buf (without the newline). *total counts the bytes
 * of the file so far. Returns 1 for a line, 0 at the end, -1 on a read
 * error, -2 for a line longer than the buffer (the rest is skipped), -3
 * for a NUL byte, -4 when the file is larger than CONFIG_FILE_MAX.
 */
static int
config_read_line(FILE *fp, char *buf, size_t size, size_t *total, size_t *len)
{
	int c, rv = 1;

	*len = 0;
	for (;;) {
		if ((c = getc(fp)) == EOF) {
			if (ferror(fp))
				return -1;
			if (*len == 0 && rv == 1)
				return 0;
			break;
		}
		if (++*total > CONFIG_FILE_MAX)
			return -4;
		if (c == '\n')
			break;
		if (c == '\0')
			rv = -3;
		else if (*len + 1 >= size) {
			if (rv == 1)
				rv = -2;
		} else
			buf[(*len)++] = (char)c;
	}
	buf[*len] = '\0';
	return rv;
}

/* ---- registry:2's config.yml ---- */

/*
 * One item of a YAML file (config_yaml.c names it as registry:2's
 * environment would): the verdict its REGISTRY_* variable gets, reported
 * as "file:line: key: message". A key of the table must be a value, and
 * set once; a mapping is entered unless it is a key. Returns 1 to skip a
 * mapping (or a refused driver), else 0.
 */
static int
config_yaml_item(const struct config_yaml_item *it, void *arg)
{
	struct config_parse *cp = arg;
	const struct config_key *k;
	size_t i;
	int rv;

	cp->cp_line = it->cy_line;
	cp->cp_yaml = it;
	cp->cp_yaml_key = it->cy_key;
	rv = 0;
	k = config_key_by_env(it->cy_env, &i);
	/*
	 * storage: is a mapping whose driver entry (config_yaml.c) gives
	 * REGISTRY_STORAGE=<driver>, the key of the same name.
	 */
	if (k != NULL && it->cy_kind == CONFIG_YAML_MAP &&
	    strcmp(it->cy_env, "REGISTRY_STORAGE") == 0)
		k = NULL;
	if (strcmp(it->cy_env, CONFIG_ENV_HEADERS1) == 0) {
		if (it->cy_kind != CONFIG_YAML_MAP) {
			config_file_error(cp,
			    "%s: expected header names, each with a list of "
			    "values",
			    it->cy_key);
			rv = 1;
		}
	} else if (k != NULL &&
	    (it->cy_kind == CONFIG_YAML_MAP ||
	        it->cy_kind == CONFIG_YAML_OTHER)) {
		config_file_error(cp, "%s: expected a value, not a %s",
		    it->cy_key,
		    it->cy_kind == CONFIG_YAML_MAP ? "mapping"
		                                   : "list of mappings");
		rv = 1;
	} else if (k != NULL && (k->ck_flags & CONFIG_F_ENV_ONLY)) {
		config_file_error(cp,
		    "%s: only from the environment (%s), not from a file",
		    it->cy_key, k->ck_env);
		rv = 1;
	} else if (k != NULL && cp->cp_yaml_line[i] != 0) {
		config_file_error(cp, "%s: set twice (also on line %d)",
		    it->cy_key, cp->cp_yaml_line[i]);
		rv = 1;
	} else if (it->cy_kind != CONFIG_YAML_MAP) {
		if (k != NULL)
			cp->cp_yaml_line[i] = it->cy_line;
		rv = config_env_one(cp, it->cy_env, it->cy_value) == -1;
	} else if (!config_env_is_prefix(it->cy_env)) {
		config_env_report(cp, it->cy_env, NULL, 0,
		    "warning: unknown setting, ignored");
		rv = 1;
	}
	cp->cp_yaml = NULL;
	cp->cp_yaml_key = NULL;
	return rv;
}

/* Read path as registry:2's YAML (fp open on it, at its start). */
static void
config_read_yaml(struct config_parse *cp, const char *path, FILE *fp)
{
	char err[CONFIG_ERR_MAX];
	int line;

	cp->cp_file = path;
	if (config_yaml_read(fp, CONFIG_FILE_MAX, config_yaml_item, cp, err,
	        sizeof(err), &line) == -1) {
		config_report(path, line, "%s", err);
		cp->cp_errors++;
	}
}

/* ---- reading a file ---- */

/*
 * Read the file at path, INI or registry:2's YAML (config_yaml_sniff).
 * Returns -1 only when the file could not be used at all.
 */
static int
config_read_file(struct config_parse *cp, const char *path, int required)
{
	char line[CONFIG_LINE_MAX + 1];
	size_t total = 0, len;
	FILE *fp;
	int rv;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !required)
			return 0;
		config_report(path, 0, "%s", strerror(errno));
		cp->cp_errors++;
		return -1;
	}
	len = fread(line, 1, 512, fp);
	if (!ferror(fp) && config_yaml_sniff(path, line, len)) {
		rewind(fp);
		config_read_yaml(cp, path, fp);
		fclose(fp);
		return 0;
	}
	rewind(fp);
	cp->cp_file = path;
	cp->cp_line = 0;
	for (;;) {
		rv = config_read_line(fp, line, sizeof(line), &total, &len);
		if (rv == 0)
			break;
		cp->cp_line++;
		if (rv == -1) {
			config_file_error(cp, "%s", strerror(errno));
			break;
		}
		if (rv == -4) {
			config_file_error(cp, "file larger than %d bytes",
			    CONFIG_FILE_MAX);
			break;
		}
		if (rv == -2) {
			config_file_error(cp, "line longer than %d bytes",
			    CONFIG_LINE_MAX);
			continue;
		}
		if (rv == -3) {
			config_file_error(cp, "NUL byte in line");
			continue;
		}
		/* Skip a UTF-8 byte order mark left by some editors. */
		if (cp->cp_line == 1 && len >= 3 &&
		    memcmp(line, "\xef\xbb\xbf", 3) == 0)
			memmove(line, line + 3, len - 2);
		config_parse_line(cp, line);
	}
	fclose(fp);
	return 0;
}

/* ---- the environment ---- */

/*
 * registry:2 header values are YAML lists: REGISTRY_HTTP_HEADERS_X=[a],
 * or ["a", "b"]. Strip the brackets and quotes and join the items with
 * ", ", which HTTP treats as repeated headers. A value without brackets
 * is taken as it is. *nitems (may be NULL) gets the number of items, 1
 * without brackets. Returns 0, or -1 when out is too small or a quote is
 * not closed.
 */
static int
config_env_list_value(const char *s, char *out, size_t outsz, int *nitems)
{
	const char *p, *end;
	size_t o = 0, len;
	int n = 0;
	char q;

	if (nitems != NULL)
		*nitems = 1;
	len = strlen(s);
	if (len < 2 || s[0] != '[' || s[len - 1] != ']')
		return util_strlcpy(out, s, outsz) >= outsz ? -1 : 0;
	p = s + 1;
	end = s + len - 1;
	out[0] = '\0';
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end)
			break;
		n++;
		if (o > 0) {
			if (o + 2 >= outsz)
				return -1;
			out[o++] = ',';
			out[o++] = ' ';
		}
		if (*p == '"' || *p == '\'') {
			q = *p++;
			while (p < end && *p != q) {
				if (o + 1 >= outsz)
					return -1;
				out[o++] = *p++;
			}
			if (p == end)
				return -1;
			p++;
		} else {
			while (p < end && *p != ',') {
				if (o + 1 >= outsz)
					return -1;
				out[o++] = *p++;
			}
			while (
			    o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
				o--;
		}
		out[o] = '\0';
	}
	out[o] = '\0';
	if (nitems != NULL)
		*nitems = n;
	return 0;
}

/*
 * A comma list "a, b ,c" as "a,b,c" in out. An empty string is an empty
 * list. Returns 0, or -1 for an empty item, more than CONFIG_LIST_ITEMS
 * items or when out is too small.
 */
static int
config_list_normalize(const char *s, char *out, size_t outsz)
{
	const char *p = s, *b, *e;
	size_t o = 0;
	int n = 0;

	out[0] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 0;
	for (;;) {
		for (b = p; *b == ' ' || *b == '\t'; b++)
			;
		for (e = b; *e != ',' && *e != '\0'; e++)
			;
		p = e;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e == b || ++n > CONFIG_LIST_ITEMS)
			return -1;
		if (o + (size_t)(e - b) + 2 > outsz)
			return -1;
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, b, (size_t)(e - b));
		o += (size_t)(e - b);
		out[o] = '\0';
		if (*p == '\0')
			return 0;
		p++;
	}
}

/*
 * REGISTRY_HTTP_TLS_CIPHERSUITES: registry:2 takes Go names in a YAML
 * list ("[TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...]"); map them to an
 * OpenSSL list. A value that is not a list of TLS_* names is taken as an
 * OpenSSL list already. Returns 0, or -1 with the unknown name in out.
 */
static int
config_go_ciphers_map(const char *s, char *out, size_t outsz)
{
	char items[CONFIG_VALUE_MAX + 1], norm[CONFIG_VALUE_MAX + 1];
	const char *p, *c;
	char name[128];
	size_t len, i, o = 0;

	if (config_env_list_value(s, items, sizeof(items), NULL) == -1 ||
	    config_list_normalize(items, norm, sizeof(norm)) == -1 ||
	    strncmp(norm, "TLS_", 4) != 0)
		return util_strlcpy(out, s, outsz) >= outsz ? -1 : 0;
	out[0] = '\0';
	for (p = norm; *p != '\0'; p = *c == ',' ? c + 1 : c) {
		if ((c = strchr(p, ',')) == NULL)
			c = p + strlen(p);
		len = (size_t)(c - p);
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, p, len);
		name[len] = '\0';
		for (i = 0; i <
		     sizeof(config_go_ciphers) / sizeof(config_go_ciphers[0]);
		     i++)
			if (strcmp(name, config_go_ciphers[i].cs_go) == 0)
				break;
		if (i ==
		    sizeof(config_go_ciphers) / sizeof(config_go_ciphers[0])) {
			(void)util_strlcpy(out, name, outsz);
			return -1;
		}
		if (config_go_ciphers[i].cs_openssl == NULL)
			continue;
		len = strlen(config_go_ciphers[i].cs_openssl);
		if (o + len + 2 > outsz)
			return -1;
		if (o > 0)
			out[o++] = ':';
		memcpy(out + o, config_go_ciphers[i].cs_openssl, len + 1);
		o += len;
	}
	/* Only TLS 1.3 suites: keep the default TLS 1.2 list. */
	if (o == 0)
		(void)util_strlcpy(out, CONFIG_DEFAULT_CIPHERS, outsz);
	return 0;
}

/* ---- REGISTRY_HTTP_HEADERS ---- */

/*
 * One scalar of a YAML/JSON flow collection at s: "double quoted" (JSON
 * escapes \" \\ \/ \t), 'single quoted' ('' is a quote) or bare up to
 * a character of stops (blanks around it dropped). Into out. Returns what
 * follows it, or NULL when it is malformed or longer than out.
 */
static const char *
config_flow_scalar(const char *s, const char *stops, char *out, size_t outsz)
{
	size_t o = 0;
	const char *b, *e;
	char q, c;

	s += strspn(s, CONFIG_FLOW_BLANKS);
	if (*s == '"' || *s == '\'') {
		q = *s++;
		for (;; s++) {
			if (*s == '\0')
				return NULL;
			c = *s;
			if (c == q && q == '\'' && s[1] == '\'')
				s++;
			else if (c == q)
				break;
			else if (c == '\\' && q == '"') {
				switch (*++s) {
				case '"':
				case '\\':
				case '/':
					c = *s;
					break;
				case 't':
					c = '\t';
					break;
				default:
					return NULL;
				}
			}
			if (o + 1 >= outsz)
				return NULL;
			out[o++] = c;
		}
		out[o] = '\0';
		s++;
	} else {
		b = s;
		for (e = s; *e != '\0' && strchr(stops, *e) == NULL; e++)
			;
		s = e;
		while (e > b && strchr(CONFIG_FLOW_BLANKS, e[-1]) != NULL)
			e--;
		if ((size_t)(e - b) >= outsz)
			return NULL;
		memcpy(out, b, (size_t)(e - b));
		out[e - b] = '\0';
	}
	return s + strspn(s, CONFIG_FLOW_BLANKS);
}

/*
 * Set one header of REGISTRY_HTTP_HEADERS; seen marks the slots it set,
 * so that a name given twice is an error. Returns 0 or -1 (reported).
 */
static int
config_env_header_add(struct config_parse *cp, const char *name,
    const char *value, unsigned char *seen)
{
	char err[CONFIG_ERR_MAX];
	int slot;

	if ((slot = config_header_set(cp->cp_cf, name, value, err,
	         sizeof(err))) == -1) {
		config_report(CONFIG_ENV_HEADERS1, 0, "%.64s: %s", name, err);
		return -1;
	}
	if (seen[slot]) {
		config_report(CONFIG_ENV_HEADERS1, 0,
		    "header %.64s given twice", name);
		return -1;
	}
	seen[slot] = 1;
	return 0;
}

/*
 * registry:2's form: a YAML flow map (JSON is one) of header names to
 * lists of values, {"Name": ["v1", "v2"]}. The values are joined with
 * ", " (repeated headers). A single string where registry:2 wants a list
 * is taken as a list of one. Returns 0, or -1 (reported).
 */
static int
config_env_headers_map(struct config_parse *cp, const char *s)
{
	char name[CONFIG_HDR_NAME_MAX + 1], item[CONFIG_HDR_VALUE_MAX + 1];
	char value[CONFIG_HDR_VALUE_MAX + 1];
	unsigned char seen[CONFIG_MAX_HEADERS];
	size_t o, n;

	memset(seen, 0, sizeof(seen));
	s++; /* '{' */
	for (;;) {
		s += strspn(s, CONFIG_FLOW_BLANKS);
		if (*s == '}')
			break;
		if ((s = config_flow_scalar(s, ":", name, sizeof(name))) ==
		        NULL ||
		    *s++ != ':' || name[0] == '\0')
			goto bad;
		s += strspn(s, CONFIG_FLOW_BLANKS);
		value[0] = '\0';
		if (*s == '[') {
			s++;
			for (o = 0;;) {
				s += strspn(s, CONFIG_FLOW_BLANKS);
				if (*s == ']')
					break;
				if ((s = config_flow_scalar(s, ",]", item,
				         sizeof(item))) == NULL)
					goto bad;
				n = strlen(item);
				if (o + n + 3 > sizeof(value))
					goto bad;
				if (o > 0) {
					memcpy(value + o, ", ", 2);
					o += 2;
				}
				memcpy(value + o, item, n + 1);
				o += n;
				if (*s == ',')
					s++;
				else if (*s != ']')
					goto bad;
			}
			s++; /* ']' */
			s += strspn(s, CONFIG_FLOW_BLANKS);
		} else if ((s = config_flow_scalar(s, ",}", value,
		                sizeof(value))) == NULL)
			goto bad;
		if (config_env_header_add(cp, name, value, seen) == -1)
			return -1;
		if (*s == ',')
			s++;
		else if (*s != '}')
			goto bad;
	}
	s++; /* '}' */
	if (s[strspn(s, CONFIG_FLOW_BLANKS)] == '\0')
		return 0;
bad:
	config_report(CONFIG_ENV_HEADERS1, 0,
	    "expected {\"Name\": [\"value\"], ...} or Name=value lines; "
	    "a value is at most %d bytes",
	    CONFIG_HDR_VALUE_MAX);
	return -1;
}

/*
 * The form guides write: Name=value, or Name: value (a YAML block map),
 * one header per line. Lines, because values may hold commas and
 * semicolons but never a newline. A value in [brackets] is a YAML list,
 * as in REGISTRY_HTTP_HEADERS_<Name>. Returns 0, or -1 (reported).
 */
static int
config_env_headers_lines(struct config_parse *cp, const char *s)
{
	char line[CONFIG_VALUE_MAX + 1], hval[CONFIG_HDR_VALUE_MAX + 1];
	unsigned char seen[CONFIG_MAX_HEADERS];
	const char *nl;
	char *name, *value, *sep, *eq, *colon;
	size_t len;
	int n = 0;

	memset(seen, 0, sizeof(seen));
	for (; *s != '\0'; s = *nl == '\n' ? nl + 1 : nl) {
		n++;
		if ((nl = strchr(s, '\n')) == NULL)
			nl = s + strlen(s);
		len = (size_t)(nl - s);
		if (len >= sizeof(line))
			goto bad;
		memcpy(line, s, len);
		line[len] = '\0';
		name = config_trim(line);
		if (*name == '\0')
			continue;
		/* A header name holds neither '=' nor ':'. */
		eq = strchr(name, '=');
		colon = strchr(name, ':');
		sep = eq == NULL || (colon != NULL && colon < eq) ? colon : eq;
		if (sep == NULL || sep == name)
			goto bad;
		*sep = '\0';
		value = config_trim(sep + 1);
		name = config_trim(name);
		if (config_env_list_value(value, hval, sizeof(hval), NULL) ==
		    -1)
			goto bad;
		if (config_env_header_add(cp, name, hval, seen) == -1)
			return -1;
	}
	return 0;
bad:
	config_report(CONFIG_ENV_HEADERS1, 0,
	    "line %d: expected Name=value (one header per line) or "
	    "{\"Name\": [\"value\"]}; a value is at most %d bytes",
	    n, CONFIG_HDR_VALUE_MAX);
	return -1;
}

/*
 * REGISTRY_HTTP_HEADERS: several response headers in one variable, as a
 * map (config_env_headers_map) or as lines (config_env_headers_lines).
 * Each name is set as [headers] or REGISTRY_HTTP_HEADERS_<Name> sets it:
 * headers it does not name keep their values (registry:2 replaces its
 * whole map; here the default X-Content-Type-Options stays unless named
 * with an empty value). Applied before REGISTRY_HTTP_HEADERS_<Name>,
 * which wins, as in registry:2, where the longer name comes later.
 */
static void
config_env_headers(struct config_parse *cp, const char *value)
{
	const char *s = value + strspn(value, CONFIG_FLOW_BLANKS);

	if (*s == '\0')
		return;
	if ((*s == '{' ? config_env_headers_map(cp, s)
	               : config_env_headers_lines(cp, s)) == -1)
		cp->cp_errors++;
}

/*
 * Report a problem with setting name: "NAME: message" for a variable of
 * the environment, "file:line: key: message" for an item of a YAML file.
 * For a YAML file a rule (r, may be NULL) speaks once, naming the keys its
 * prefix covers ("health", not every key under it). error counts it.
 */
static void
config_env_report(struct config_parse *cp, const char *name,
    const struct config_env_rule *r, int error, const char *fmt, ...)
{
	char msg[CONFIG_ERR_MAX], key[CONFIG_ERR_MAX];
	const char *p;
	size_t i;
	int n, line = cp->cp_line;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (error)
		cp->cp_errors++;
	if (cp->cp_yaml_key == NULL) {
		config_report(name, 0, "%s", msg);
		return;
	}
	(void)util_strlcpy(key, cp->cp_yaml_key, sizeof(key));
	if (r != NULL) {
		i = (size_t)(r - config_env_rules);
		if (cp->cp_yaml_rule[i])
			return;
		cp->cp_yaml_rule[i] = 1;
		/*
		 * A prefix rule covers as many keys as its name has parts
		 * after REGISTRY_: "REGISTRY_HEALTH_" is health,
		 * "REGISTRY_STORAGE_S3" storage.s3.
		 */
		if (r->er_prefix) {
			p = r->er_name + strlen(CONFIG_ENV_PREFIX);
			n = p[strlen(p) - 1] == '_' ? 0 : 1;
			for (; *p != '\0'; p++)
				n += *p == '_';
			if (n >= 1 && n <= cp->cp_yaml->cy_depth)
				line = cp->cp_yaml->cy_lines[n - 1];
			for (i = 0; key[i] != '\0'; i++)
				if (key[i] == '.' && --n == 0) {
					key[i] = '\0';
					break;
				}
		}
	}
	config_report(cp->cp_file, line, "%s: %s", key, msg);
}

/*
 * 1 when name + "_" begins a name that means something: a key, a rule, a
 * response header. A YAML mapping under any other name is unknown as a
 * whole (one warning rather than one per entry).
 */
static int
config_env_is_prefix(const char *name)
{
	char pre[256];
	size_t i, n;

	n = (size_t)snprintf(pre, sizeof(pre), "%s_", name);
	if (n >= sizeof(pre))
		return 0;
	for (i = 0; i < CONFIG_NKEYS; i++)
		if (strncmp(config_keys[i].ck_env, pre, n) == 0 ||
		    (config_keys[i].ck_env_alias != NULL &&
		        strncmp(config_keys[i].ck_env_alias, pre, n) == 0))
			return 1;
	for (i = 0; i < CONFIG_NRULES; i++)
		if (strncmp(config_env_rules[i].er_name, pre, n) == 0 ||
		    (config_env_rules[i].er_prefix &&
		        strncmp(pre, config_env_rules[i].er_name,
		            strlen(config_env_rules[i].er_name)) == 0))
			return 1;
	return strncmp(CONFIG_ENV_HEADERS, pre, n) == 0;
}

/* The key whose env name (or alias) is name, and its index, or NULL. */
static const struct config_key *
config_key_by_env(const char *name, size_t *index)
{
	const struct config_key *k;
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		k = &config_keys[i];
		if (strcmp(name, k->ck_env) == 0 ||
		    (k->ck_env_alias != NULL &&
		        strcmp(name, k->ck_env_alias) == 0)) {
			if (index != NULL)
				*index = i;
			return k;
		}
	}
	return NULL;
}

/*
 * Apply one REGISTRY_* setting, from the environment or from an item of
 * a YAML file (config_yaml_item): a key of the table, a response header,
 * REGISTRY_AUTH, or a name of config_env_rules. Returns 0, or -1 when it
 * was refused (reported and counted).
 */
static int
config_env_one(struct config_parse *cp, const char *name, const char *value)
{
	char err[CONFIG_ERR_MAX], hval[CONFIG_HDR_VALUE_MAX + 1];
	char list[CONFIG_VALUE_MAX + 1];
	const struct config_env_rule *r;
	const struct config_key *k;
	size_t i, nlen;
	int a, b, n;

	if ((k = config_key_by_env(name, NULL)) != NULL) {
		/* registry:2 writes lists in YAML: "[a, b]". */
		if ((k->ck_flags & (CONFIG_F_LIST | CONFIG_F_ENV_ONE)) &&
		    strlen(value) <= CONFIG_VALUE_MAX) {
			if (config_env_list_value(value, list, sizeof(list),
			        &n) == -1) {
				config_env_report(cp, name, NULL, 1,
				    "invalid value: unterminated quote");
				return -1;
			}
			if ((k->ck_flags & CONFIG_F_ENV_ONE) && n > 1) {
				config_env_report(cp, name, NULL, 1,
				    "only one file is supported; concatenate "
				    "the PEM files into one");
				return -1;
			}
			value = list;
		} else if ((k->ck_flags & CONFIG_F_CIPHERS) &&
		    strlen(value) <= CONFIG_VALUE_MAX) {
			if (config_go_ciphers_map(value, list, sizeof(list)) ==
			    -1) {
				config_env_report(cp, name, NULL, 1,
				    "unknown cipher suite '%.64s'", list);
				return -1;
			}
			value = list;
		}
		if (config_set(cp->cp_cf, k, value, 1, err, sizeof(err)) ==
		    -1) {
			config_env_report(cp, name, NULL, 1, "%s", err);
			return -1;
		}
		return 0;
	}

	nlen = strlen(CONFIG_ENV_HEADERS);
	if (strncmp(name, CONFIG_ENV_HEADERS, nlen) == 0 &&
	    name[nlen] != '\0') {
		if (config_env_list_value(value, hval, sizeof(hval), NULL) ==
		    -1) {
			config_env_report(cp, name, NULL, 1,
			    "invalid value: unterminated quote or longer "
			    "than %d bytes",
			    CONFIG_HDR_VALUE_MAX);
			return -1;
		}
		if (config_header_set(cp->cp_cf, name + nlen, hval, err,
		        sizeof(err)) == -1) {
			config_env_report(cp, name, NULL, 1, "%s", err);
			return -1;
		}
		return 0;
	}

	/*
	 * REGISTRY_AUTH=htpasswd is registry:2's switch; the path is what
	 * turns auth on here, and config_check insists that one is given.
	 * An empty value is no auth section at all.
	 */
	if (strcmp(name, "REGISTRY_AUTH") == 0 &&
	    (strcasecmp(value, "htpasswd") == 0 || *value == '\0')) {
		if (*value != '\0')
			cp->cp_auth_htpasswd = 1;
		return 0;
	}
	for (i = 0; i < CONFIG_NRULES; i++) {
		r = &config_env_rules[i];
		if (r->er_prefix
		        ? strncmp(name, r->er_name, strlen(r->er_name)) != 0
		        : strcmp(name, r->er_name) != 0)
			continue;
		/* "false" also covers "0", "no" and "off". */
		if (r->er_ok != NULL &&
		    (strcasecmp(value, r->er_ok) == 0 ||
		        (config_parse_bool(value, &a) == 0 &&
		            config_parse_bool(r->er_ok, &b) == 0 && a == b)))
			return 0;
		switch (r->er_action) {
		case CONFIG_ENV_ACCEPT:
			return 0;
		case CONFIG_ENV_WARN:
			config_env_report(cp, name, r, 0, "warning: %s",
			    r->er_msg);
			return 0;
		case CONFIG_ENV_REFUSE:
			config_env_report(cp, name, r, 1, "%s", r->er_msg);
			return -1;
		}
		return 0;
	}
	config_env_report(cp, name, NULL, 0,
	    "warning: unknown setting, ignored");
	return 0;
}

/*
 * Apply every REGISTRY_* entry of envp, in order, REGISTRY_HTTP_HEADERS
 * first (config_env_headers).
 */
static void
config_env(struct config_parse *cp, char **envp)
{
	const size_t hlen = strlen(CONFIG_ENV_HEADERS1);
	char name[256];
	const char *eq;
	size_t nlen;
	char **e;

	if (envp == NULL)
		return;
	for (e = envp; *e != NULL; e++)
		if (strncmp(*e, CONFIG_ENV_HEADERS1, hlen) == 0 &&
		    (*e)[hlen] == '=')
			config_env_headers(cp, *e + hlen + 1);
	for (; *envp != NULL; envp++) {
		if (strncmp(*envp, CONFIG_ENV_HEADERS1, hlen) == 0 &&
		    (*envp)[hlen] == '=')
			continue;
		if (strncmp(*envp, CONFIG_ENV_PREFIX,
		        strlen(CONFIG_ENV_PREFIX)) != 0)
			continue;
		if ((eq = strchr(*envp, '=')) == NULL)
			continue;
		nlen = (size_t)(eq - *envp);
		if (nlen >= sizeof(name)) {
			config_report("REGISTRY_*", 0,
			    "warning: %.64s...: "
			    "name too long, ignored",
			    *envp);
			continue;
		}
		memcpy(name, *envp, nlen);
		name[nlen] = '\0';
		(void)config_env_one(cp, name, eq + 1);
	}
}

/* ---- checks across keys ---- */

/*
 * What no single key can check. Reported as "FILE: [section] message"
 * (or "environment: ..." without a file), since the keys may come from
 * the file, the environment, or both.
 */
static void
config_check(struct config_parse *cp)
{
	struct config *cf = cp->cp_cf;
	const char *where = cp->cp_file != NULL ? cp->cp_file : "environment";

	if ((*cf->cf_tls_cert == '\0') != (*cf->cf_tls_key == '\0')) {
		config_report(where, 0,
		    "[tls] certificate and key go together");
		cp->cp_errors++;
	}
	if (*cf->cf_tls_client_ca != '\0' && *cf->cf_tls_cert == '\0') {
		config_report(where, 0,
		    "[tls] client_ca needs certificate and key");
		cp->cp_errors++;
	}
	/* No CA, no client certificates, whatever client_auth says. */
	if (*cf->cf_tls_client_ca == '\0')
		cf->cf_tls_client_auth = CONFIG_CLIENT_NONE;
	if (cp->cp_auth_htpasswd && *cf->cf_htpasswd == '\0') {
		config_report("REGISTRY_AUTH", 0,
		    "htpasswd needs REGISTRY_AUTH_HTPASSWD_PATH; "
		    "refusing to serve an unprotected registry");
		cp->cp_errors++;
	}
	if (strcmp(cf->cf_driver, "s3") == 0) {
		if (*cf->cf_s3_bucket == '\0') {
			config_report(where, 0,
			    "the s3 driver needs [s3] bucket "
			    "(REGISTRY_STORAGE_S3_BUCKET)");
			cp->cp_errors++;
		}
		if (*cf->cf_s3_access_key == '\0' ||
		    (*cf->cf_s3_secret_key == '\0') ==
		        (*cf->cf_s3_secret_key_file == '\0')) {
			config_report(where, 0,
			    "the s3 driver needs [s3] accesskey and either "
			    "secretkey or secretkeyfile "
			    "(REGISTRY_STORAGE_S3_ACCESSKEY, "
			    "REGISTRY_STORAGE_S3_SECRETKEY)");
			cp->cp_errors++;
		}
	}
	if ((*cf->cf_username == '\0') != (*cf->cf_password == '\0')) {
		config_report(where, 0,
		    "REGISTRY_USERNAME and REGISTRY_PASSWORD go together");
		cp->cp_errors++;
	}
}

/* ---- interface ---- */

/*
 * config_load: fill cf with the defaults, then the INI file at path (a
 * missing file is fine unless required), then the REGISTRY_* variables of
 * envp (may be NULL). Every problem is printed on stderr as
 * "file:line: message" or "REGISTRY_X: message", and loading goes on so
 * that one run shows them all. Returns 0, or -1 when anything was an
 * error; warnings do not fail. cf owns its strings afterwards either way:
 * the caller calls config_free.
 */
int
config_load(struct config *cf, const char *path, int required, char **envp)
{
	struct config_parse cp;

	memset(cf, 0, sizeof(*cf));
	memset(&cp, 0, sizeof(cp));
	cp.cp_cf = cf;
	if (config_defaults(cf) == -1)
		return -1;
	if (path != NULL)
		(void)config_read_file(&cp, path, required);
	config_env(&cp, envp);
	config_headers_compact(cf);
	config_check(&cp);
	return cp.cp_errors > 0 ? -1 : 0;
}

/*
 * config_free: free every string of cf and clear it. Safe on a struct
 * that config_load filled only in part, and twice in a row.
 */
void
config_free(struct config *cf)
{
	size_t i;
	int h;

	if (cf == NULL)
		return;
	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (config_keys[i].ck_type == CONFIG_T_STRING) {
			char **sp = (char **)(void *)((char *)cf +
			    config_keys[i].ck_offset);

			if (*sp != NULL &&
			    (config_keys[i].ck_flags & CONFIG_F_SECRET))
				explicit_bzero(*sp, strlen(*sp));
			free(*sp);
			*sp = NULL;
		}
	}
	for (h = 0; h < CONFIG_MAX_HEADERS; h++) {
		free(cf->cf_headers[h].ch_name);
		free(cf->cf_headers[h].ch_value);
	}
	memset(cf, 0, sizeof(*cf));
}

/* The name of an int of an enumerated type, for config_dump. */
static const char *
config_enum_name(enum config_type type, int v)
{
	size_t i;

	if (type == CONFIG_T_TLSVER) {
		for (i = 0; i < sizeof(config_tls_versions) /
		         sizeof(config_tls_versions[0]);
		     i++)
			if (config_tls_versions[i].tv_version == v)
				return config_tls_versions[i].tv_name;
		return "tls1.2";
	}
	for (i = 0;
	     i < sizeof(config_client_modes) / sizeof(config_client_modes[0]);
	     i++)
		if (config_client_modes[i].ca_mode == v)
			return config_client_modes[i].ca_name;
	/* CONFIG_CLIENT_NONE: no client_ca; require is what it would be. */
	return "require";
}

/* The first name of level in config_levels. */
static const char *
config_level_name(int level)
{
	size_t i;

	for (i = 0; i < sizeof(config_levels) / sizeof(config_levels[0]); i++)
		if (config_levels[i].ln_level == level)
			return config_levels[i].ln_name;
	return "info";
}

/*
 * Print " value" after "key =", nothing for an empty value, and quote it
 * when reading it back would otherwise change it.
 */
static void
config_dump_string(const char *s)
{
	const char *p;
	size_t len = strlen(s);

	if (len == 0)
		return;
	putchar(' ');
	if (s[0] != ' ' && s[0] != '\t' && s[0] != '"' && s[len - 1] != ' ' &&
	    s[len - 1] != '\t') {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		putchar(*p);
	}
	putchar('"');
}

/*
 * config_dump: print the effective configuration on stdout as an INI file
 * that config_load reads back, every key of the table with its
 * description and environment name. The secret is shown as "(set)".
 */
void
config_dump(const struct config *cf)
{
	const struct config_key *k;
	const char *section = NULL, *v;
	const char *base;
	size_t i;
	int n, h;

	printf("# registryd effective configuration\n");
	for (i = 0; i < CONFIG_NKEYS; i++) {
		k = &config_keys[i];
		base = (const char *)cf + k->ck_offset;
		if (section == NULL || strcmp(section, k->ck_section) != 0) {
			section = k->ck_section;
			printf("\n[%s]\n", section);
		}
		printf("# %s (%s%s)\n", k->ck_desc, k->ck_env,
		    (k->ck_flags & CONFIG_F_ENV_INVERT) ? ", inverted" : "");
		/* No INI key: shown as a comment, so the dump reads back. */
		if (k->ck_flags & CONFIG_F_ENV_ONLY)
			printf("# %s =", k->ck_env);
		else
			printf("%s =", k->ck_key);
		switch (k->ck_type) {
		case CONFIG_T_STRING:
			v = *(char *const *)(const void *)base;
			if (v == NULL)
				v = "";
			if ((k->ck_flags & CONFIG_F_SECRET) && *v != '\0')
				v = "(set)";
			config_dump_string(v);
			break;
		case CONFIG_T_INT:
		case CONFIG_T_DURATION:
			printf(" %d", *(const int *)(const void *)base);
			break;
		case CONFIG_T_BOOL:
			n = *(const int *)(const void *)base;
			printf(" %s", n ? "true" : "false");
			break;
		case CONFIG_T_LOGLEVEL:
			n = *(const int *)(const void *)base;
			printf(" %s", config_level_name(n));
			break;
		case CONFIG_T_TLSVER:
		case CONFIG_T_CLIENT:
			n = *(const int *)(const void *)base;
			printf(" %s", config_enum_name(k->ck_type, n));
			break;
		}
		putchar('\n');
	}
	printf("\n[%s]\n", config_section_headers);
	printf("# extra response headers (%s<Name>)\n", CONFIG_ENV_HEADERS);
	for (h = 0; h < cf->cf_nheaders; h++) {
		printf("%s =", cf->cf_headers[h].ch_name);
		config_dump_string(cf->cf_headers[h].ch_value);
		putchar('\n');
	}
}
