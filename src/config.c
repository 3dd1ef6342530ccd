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

#include "bounds.h"
#include "config.h"
#include "log.h"
#include "util.h"

#define CONFIG_LINE_MAX      4096          /* bytes per INI line */
#define CONFIG_FILE_MAX      (1024 * 1024) /* bytes per INI file */
#define CONFIG_VALUE_MAX     4096          /* bytes per value (env too) */
#define CONFIG_HDR_NAME_MAX  128           /* response header name */
#define CONFIG_HDR_VALUE_MAX 1024          /* response header value */
#define CONFIG_ERR_MAX       256           /* one error message */
#define CONFIG_HOST_MAX      253           /* DNS name in addr= */

#define CONFIG_ENV_PREFIX  "REGISTRY_"
#define CONFIG_ENV_HEADERS "REGISTRY_HTTP_HEADERS_"

#define CONFIG_STR(x)  CONFIG_STR2(x)
#define CONFIG_STR2(x) #x

/* How a value is parsed and stored. */
enum config_type {
	CONFIG_T_STRING,   /* char *, malloc'd */
	CONFIG_T_INT,      /* int, decimal in [min, max] */
	CONFIG_T_BOOL,     /* int 0/1: true|false|yes|no|on|off|1|0 */
	CONFIG_T_DURATION, /* int seconds: "90", "90s", "5m", "1h30m" */
	CONFIG_T_LOGLEVEL, /* int LOG_LVL_*: error|warn|info|debug */
};

#define CONFIG_F_SECRET     0x01 /* config_dump hides the value */
#define CONFIG_F_ENV_INVERT 0x02 /* env bool means the opposite */

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

static int config_validate_addr(const char *, char *, size_t);
static int config_validate_path(const char *, char *, size_t);

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
    {"http", "header_timeout", "REGISTRY_HTTP_HEADER_TIMEOUT", NULL,
        CONFIG_T_DURATION, CF(cf_header_timeout), "30", 1, 3600, NULL, 0,
        "seconds to receive a request's headers, from its first byte"},
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
    {"storage", "rootdirectory", "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
        NULL, CONFIG_T_STRING, CF(cf_root), "/var/lib/registry", 0, 0,
        config_validate_path, 0, "storage root, registry:2 filesystem layout"},
    {"storage", "delete_enabled", "REGISTRY_STORAGE_DELETE_ENABLED", NULL,
        CONFIG_T_BOOL, CF(cf_delete_enabled), "false", 0, 0, NULL, 0,
        "allow DELETE of manifests, tags and blobs"},
    {"storage", "catalog_refresh", "REGISTRY_STORAGE_CATALOG_REFRESH", NULL,
        CONFIG_T_DURATION, CF(cf_catalog_refresh), "10", 1, 86400, NULL, 0,
        "seconds between rescans of the repository list"},
    {"storage", "upload_purge_age", "REGISTRY_STORAGE_UPLOAD_PURGE_AGE",
        "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE", CONFIG_T_DURATION,
        CF(cf_upload_purge_age), "604800", 60, 31536000, NULL, 0,
        "seconds after which unfinished uploads are deleted"},
    {"log", "level", "REGISTRY_LOG_LEVEL", NULL, CONFIG_T_LOGLEVEL,
        CF(cf_log_level), "info", 0, 0, NULL, 0, "error, warn, info or debug"},
    {"log", "access_log", "REGISTRY_LOG_ACCESSLOG_DISABLED", NULL,
        CONFIG_T_BOOL, CF(cf_access_log), "true", 0, 0, NULL,
        CONFIG_F_ENV_INVERT, "one log line per request"},
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
    {"REGISTRY_AUTH", 1, NULL, CONFIG_ENV_REFUSE,
        "authentication is not supported yet by this build; "
        "refusing to serve an unprotected registry"},
    {"REGISTRY_HTTP_TLS_", 1, NULL, CONFIG_ENV_REFUSE,
        "TLS is not supported yet by this build; "
        "refusing to serve a plain HTTP registry"},
    {"REGISTRY_STORAGE", 0, "filesystem", CONFIG_ENV_REFUSE,
        "only the filesystem storage driver is supported by registryd; "
        "refusing to start"},
    {"REGISTRY_STORAGE_S3", 1, NULL, CONFIG_ENV_REFUSE,
        "the s3 storage driver is not supported by registryd; "
        "refusing to start"},
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
    {"REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED", 0, "false",
        CONFIG_ENV_REFUSE,
        "read-only mode is not supported by registryd; "
        "refusing to start a writable registry"},
    {"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED", 0, "true",
        CONFIG_ENV_WARN,
        "registryd always purges stale uploads "
        "(see upload_purge_age); ignored"},
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
    {"REGISTRY_LOG_FORMATTER", 0, "text", CONFIG_ENV_WARN,
        "registryd writes plain text log lines; ignored"},
    {"REGISTRY_LOG_FIELDS_", 1, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    {"REGISTRY_LOG_HOOKS_", 1, NULL, CONFIG_ENV_WARN,
        "not supported by registryd; ignored"},
    {"REGISTRY_HTTP_DEBUG_", 1, NULL, CONFIG_ENV_WARN,
        "the debug server is not supported by registryd; ignored"},
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
    {"REGISTRY_CONFIGURATION_PATH", 0, NULL, CONFIG_ENV_WARN,
        "registryd reads its INI file (registryd.conf(5)), "
        "not registry:2 YAML; ignored"},
};

/* State of one config_load: where we are and what we have seen. */
struct config_parse {
	struct config *cp_cf;
	const char *cp_file;
	int cp_line;
	int cp_errors;
	const char *cp_section; /* current section, or NULL */
	int cp_bad_section;     /* keys follow a rejected [section] */
	unsigned char cp_seen[CONFIG_NKEYS];           /* key set in file */
	unsigned char cp_hdr_seen[CONFIG_MAX_HEADERS]; /* header in file */
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
static int config_read_line(FILE *, char *, size_t, size_t *, size_t *);
static void config_parse_line(struct config_parse *, char *);
static int config_unquote(char *, char *, size_t);
static int config_section_is_known(const char *);
static int
config_header_set(struct config *, const char *, const char *, char *, size_t);
static int config_header_name_is_valid(const char *);
static int config_header_value_is_valid(const char *);
static int config_env_list_value(const char *, char *, size_t);
static void config_env(struct config_parse *, char **);
static void config_env_one(struct config_parse *, const char *, const char *);
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

/* Returns -1 only when the file could not be used at all. */
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
 * is taken as it is. Returns 0, or -1 when out is too small or a quote
 * is not closed.
 */
static int
config_env_list_value(const char *s, char *out, size_t outsz)
{
	const char *p, *end;
	size_t o = 0, len;
	char q;

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
	return 0;
}

static void
config_env_one(struct config_parse *cp, const char *name, const char *value)
{
	char err[CONFIG_ERR_MAX], hval[CONFIG_HDR_VALUE_MAX + 1];
	const struct config_env_rule *r;
	size_t i, nlen;
	int a, b;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(name, config_keys[i].ck_env) == 0 ||
		    (config_keys[i].ck_env_alias != NULL &&
		        strcmp(name, config_keys[i].ck_env_alias) == 0)) {
			if (config_set(cp->cp_cf, &config_keys[i], value, 1,
			        err, sizeof(err)) == -1) {
				config_report(name, 0, "%s", err);
				cp->cp_errors++;
			}
			return;
		}
	}

	nlen = strlen(CONFIG_ENV_HEADERS);
	if (strncmp(name, CONFIG_ENV_HEADERS, nlen) == 0 &&
	    name[nlen] != '\0') {
		if (config_env_list_value(value, hval, sizeof(hval)) == -1) {
			config_report(name, 0,
			    "invalid value: unterminated "
			    "quote or longer than %d bytes",
			    CONFIG_HDR_VALUE_MAX);
			cp->cp_errors++;
			return;
		}
		if (config_header_set(cp->cp_cf, name + nlen, hval, err,
		        sizeof(err)) == -1) {
			config_report(name, 0, "%s", err);
			cp->cp_errors++;
		}
		return;
	}

	for (i = 0; i < sizeof(config_env_rules) / sizeof(config_env_rules[0]);
	     i++) {
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
			return;
		switch (r->er_action) {
		case CONFIG_ENV_ACCEPT:
			break;
		case CONFIG_ENV_WARN:
			config_report(name, 0, "warning: %s", r->er_msg);
			break;
		case CONFIG_ENV_REFUSE:
			config_report(name, 0, "%s", r->er_msg);
			cp->cp_errors++;
			break;
		}
		return;
	}
	config_report(name, 0, "warning: unknown setting, ignored");
}

/* Apply every REGISTRY_* entry of envp, in order. */
static void
config_env(struct config_parse *cp, char **envp)
{
	char name[256];
	const char *eq;
	size_t nlen;

	if (envp == NULL)
		return;
	for (; *envp != NULL; envp++) {
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
		config_env_one(cp, name, eq + 1);
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
