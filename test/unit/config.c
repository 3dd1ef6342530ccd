/*
 * Unit tests for config.c: defaults, the INI parser with the exact text of
 * every error, the REGISTRY_* overlay and its refusals, and config_dump.
 * Runs in a throw-away directory so that messages name "registryd.conf".
 */

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_fixture.h"
#include "tap.h"

#include "../../src/config.c"

#define CONF "registryd.conf"

/* Load text as CONF (required) with envp; returns config_load's value. */
static int
load(struct config *cf, const char *text, char **envp)
{
	put_file(CONF, text, text != NULL ? strlen(text) : 0);
	return capture_load(cf, CONF, 1, envp);
}

/* The file holds text and loading it fails with exactly msg (+ "\n"). */
static void
expect_error(const char *text, const char *msg)
{
	struct config cf;
	char want[1024];
	int rv;

	rv = load(&cf, text, NULL);
	snprintf(want, sizeof(want), "%s\n", msg);
	ok(rv == -1 && strcmp(captured, want) == 0, "error: %s", msg);
	if (rv != -1 || strcmp(captured, want) != 0)
		printf("#   rv %d, stderr \"%s\"\n", rv, captured);
	config_free(&cf);
}

/* One env variable alone fails with msg (exact) or passes silently. */
static void
expect_env(const char *var, int want_rv, const char *msg)
{
	struct config cf;
	char *envp[2];
	char want[1024], name[256];
	size_t i, o = 0;
	int rv;

	envp[0] = (char *)(uintptr_t)var;
	envp[1] = NULL;
	rv = capture_load(&cf, NULL, 0, envp);
	snprintf(want, sizeof(want), "%s%s", msg, *msg ? "\n" : "");
	/* One TAP line: a newline in the value is shown as \n. */
	for (i = 0; var[i] != '\0' && o + 3 < sizeof(name); i++) {
		if (var[i] == '\n' || var[i] == '\r') {
			name[o++] = '\\';
			name[o++] = var[i] == '\n' ? 'n' : 'r';
		} else
			name[o++] = var[i];
	}
	name[o] = '\0';
	ok(rv == want_rv && strcmp(captured, want) == 0, "env %s", name);
	if (rv != want_rv || strcmp(captured, want) != 0)
		printf("#   rv %d, stderr \"%s\"\n", rv, captured);
	config_free(&cf);
}

static void
test_defaults(void)
{
	struct config cf;
	int rv;

	rv = capture_load(&cf, "does-not-exist.conf", 0, NULL);
	is_int(rv, 0, "missing optional file is fine");
	is_str(captured, "", "and says nothing");
	is_str(cf.cf_addr, ":5000", "default addr");
	is_str(cf.cf_secret, "", "default secret");
	is_int(cf.cf_max_connections, SERVER_MAX_CONNECTIONS,
	    "default max_connections");
	is_int(cf.cf_conns_per_addr, SERVER_MAX_CONNECTIONS_PER_ADDRESS,
	    "default max_connections_per_address");
	is_int(cf.cf_header_timeout, 30, "default header_timeout");
	is_int(cf.cf_body_timeout, 60, "default body_timeout");
	is_int(cf.cf_write_timeout, 60, "default write_timeout");
	is_int(cf.cf_idle_timeout, 60, "default idle_timeout");
	is_int(cf.cf_drain_timeout, 30, "default drain_timeout");
	is_str(cf.cf_root, "/var/lib/registry", "default rootdirectory");
	is_int(cf.cf_delete_enabled, 0, "default delete_enabled");
	is_int(cf.cf_catalog_refresh, 10, "default catalog_refresh");
	is_int(cf.cf_upload_purge_age, 604800, "default upload_purge_age");
	is_int(cf.cf_upload_sessions_max, 10000, "default upload_sessions_max");
	is_int(cf.cf_upload_sessions_per_client, 500,
	    "default upload_sessions_per_client");
	is_int(cf.cf_log_level, LOG_LVL_INFO, "default level");
	is_int(cf.cf_access_log, 1, "default access_log");
	is_int(cf.cf_nheaders, 1, "one default header");
	is_str(header(&cf, "X-Content-Type-Options"), "nosniff",
	    "default nosniff");
	config_free(&cf);
	config_free(&cf);
	ok(cf.cf_addr == NULL, "config_free twice is safe");

	rv = capture_load(&cf, "does-not-exist.conf", 1, NULL);
	is_int(rv, -1, "missing required file fails");
	is_str(captured, "does-not-exist.conf: No such file or directory\n",
	    "missing required file message");
	config_free(&cf);

	if (mkdir("adir", 0700) == -1) {
		perror("adir");
		exit(2);
	}
	rv = capture_load(&cf, "adir", 1, NULL);
	is_int(rv, -1, "a directory as config fails");
	is_str(captured, "adir:1: Is a directory\n", "directory message");
	config_free(&cf);
}

static void
test_full_file(void)
{
	struct config cf;
	int rv;

	rv = load(&cf,
	    "# registryd test\n"
	    "; other comment\n"
	    "\n"
	    "[http]\n"
	    "addr = 127.0.0.1:6000\n"
	    "  secret=\"  s3cr\\\"et \"  \n"
	    "max_connections = 10\n"
	    "max_connections_per_address = 3\n"
	    "header_timeout = 5s\n"
	    "body_timeout = 2m\n"
	    "write_timeout = 1h\n"
	    "idle_timeout = 15\n"
	    "drain_timeout = 0\n"
	    "\t[storage]\n"
	    "rootdirectory = /srv/registry\n"
	    "delete_enabled = yes\n"
	    "catalog_refresh = 1h30m\n"
	    "upload_purge_age = 168h\n"
	    "[log]\n"
	    "level = debug\n"
	    "access_log = off\n"
	    "[headers]\n"
	    "Strict-Transport-Security = max-age=63072000\n"
	    "X-Frame-Options = DENY\n",
	    NULL);
	is_int(rv, 0, "full file loads");
	is_str(captured, "", "full file: no messages");
	is_str(cf.cf_addr, "127.0.0.1:6000", "addr");
	is_str(cf.cf_secret, "  s3cr\"et ", "quoted secret keeps blanks");
	is_int(cf.cf_max_connections, 10, "max_connections");
	is_int(cf.cf_conns_per_addr, 3, "max_connections_per_address");
	is_int(cf.cf_header_timeout, 5, "header_timeout 5s");
	is_int(cf.cf_body_timeout, 120, "body_timeout 2m");
	is_int(cf.cf_write_timeout, 3600, "write_timeout 1h");
	is_int(cf.cf_idle_timeout, 15, "idle_timeout 15");
	is_int(cf.cf_drain_timeout, 0, "drain_timeout 0");
	is_str(cf.cf_root, "/srv/registry", "rootdirectory");
	is_int(cf.cf_delete_enabled, 1, "delete_enabled yes");
	is_int(cf.cf_catalog_refresh, 5400, "catalog_refresh 1h30m");
	is_int(cf.cf_upload_purge_age, 604800, "upload_purge_age 168h");
	is_int(cf.cf_log_level, LOG_LVL_DEBUG, "level debug");
	is_int(cf.cf_access_log, 0, "access_log off");
	is_int(cf.cf_nheaders, 3, "default + two headers");
	is_str(header(&cf, "Strict-Transport-Security"), "max-age=63072000",
	    "HSTS header");
	is_str(header(&cf, "X-Frame-Options"), "DENY", "X-Frame-Options");
	is_str(header(&cf, "X-Content-Type-Options"), "nosniff",
	    "default header kept");
	config_free(&cf);

	/* CRLF line ends, a byte order mark, and removing the default. */
	rv = load(&cf,
	    "\xef\xbb\xbf[log]\r\nlevel = warning\r\n"
	    "[headers]\r\nx-content-type-options =\r\n",
	    NULL);
	is_int(rv, 0, "BOM and CRLF load");
	is_int(cf.cf_log_level, LOG_LVL_WARN, "level warning (logrus name)");
	is_int(cf.cf_nheaders, 0, "empty value removes default header");
	config_free(&cf);
}

static void
test_errors(void)
{
	struct config cf;
	char buf[CONFIG_LINE_MAX + 64];
	int rv;

	expect_error("[http]\nadr = :5000\n",
	    CONF ":2: unknown key 'adr' in [http]");
	expect_error("[log]\n\nlevel = loud\n",
	    CONF ":3: level: expected error|warn|info|debug");
	expect_error("[proxy]\nremoteurl = x\n",
	    CONF ":1: unknown section [proxy]");
	expect_error("[http\n", CONF ":1: expected [section]");
	expect_error("[http] x\n", CONF ":1: expected [section]");
	expect_error("[http]\naddr\n", CONF ":2: expected key = value");
	expect_error("[http]\n= 5\n", CONF ":2: expected key = value");
	expect_error("addr = :5000\n",
	    CONF ":1: key 'addr' outside of a section");
	expect_error("[http]\naddr = :1\n[log]\n[http]\naddr = :2\n",
	    CONF ":5: duplicate key 'addr' in [http]");
	expect_error("[headers]\nX-A = 1\nx-a = 2\n",
	    CONF ":3: duplicate header 'x-a'");
	expect_error("[headers]\nContent-Length = 5\n",
	    CONF ":2: Content-Length: header Content-Length is set by "
	         "registryd itself");
	expect_error("[headers]\nX(A) = 5\n",
	    CONF ":2: X(A): invalid header name");
	expect_error("[http]\nsecret = \"abc\n",
	    CONF ":2: secret: unterminated quote or text after closing quote");
	expect_error("[http]\nsecret = \"abc\" x\n",
	    CONF ":2: secret: unterminated quote or text after closing quote");
	expect_error("[http]\nmax_connections = 0\n",
	    CONF ":2: max_connections: expected a number from 1 to 65536");
	expect_error("[http]\nmax_connections = 65537\n",
	    CONF ":2: max_connections: expected a number from 1 to 65536");
	expect_error("[http]\nmax_connections_per_address = 0\n",
	    CONF ":2: max_connections_per_address: expected a number from 1 "
	         "to 65536");
	expect_error("[http]\nmax_connections = -1\n",
	    CONF ":2: max_connections: expected a number from 1 to 65536");
	expect_error("[http]\nheader_timeout = 0\n",
	    CONF ":2: header_timeout: expected seconds from 1 to 3600, or a "
	         "duration such as 90s, 5m, 1h");
	expect_error("[http]\nheader_timeout = 2h\n",
	    CONF ":2: header_timeout: expected seconds from 1 to 3600, or a "
	         "duration such as 90s, 5m, 1h");
	expect_error("[storage]\ndelete_enabled = maybe\n",
	    CONF ":2: delete_enabled: expected true|false|yes|no|on|off|1|0");
	expect_error("[storage]\nrootdirectory =\n",
	    CONF ":2: rootdirectory: must not be empty");
	expect_error("[storage]\nupload_purge_age = 0\n",
	    CONF ":2: upload_purge_age: expected seconds from 1 to "
	         "31536000, or a duration such as 90s, 5m, 1h");
	expect_error("[storage]\nupload_sessions_per_client = 0\n",
	    CONF ":2: upload_sessions_per_client: expected a number from 1 to "
	         "1000000");
	expect_error("[storage]\nupload_purge_interval = 0\n",
	    CONF ":2: upload_purge_interval: expected seconds from 1 to "
	         "31536000, or a duration such as 90s, 5m, 1h");

	/* A NUL byte and an overlong line, each reported, then go on. */
	put_file(CONF, "[http]\nad\0dr = x\n", 17);
	rv = capture_load(&cf, CONF, 1, NULL);
	ok(rv == -1 && strcmp(captured, CONF ":2: NUL byte in line\n") == 0,
	    "NUL byte");
	config_free(&cf);
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "[http]\nsecret = ");
	memset(buf + strlen(buf), 'a', CONFIG_LINE_MAX);
	strcat(buf, "\naddr = :7000\n");
	rv = load(&cf, buf, NULL);
	ok(rv == -1 &&
	        strcmp(captured,
	            CONF ":2: line longer than 4096 "
	                 "bytes\n") == 0,
	    "overlong line");
	is_str(cf.cf_addr, ":7000", "parsing goes on after a long line");
	config_free(&cf);

	/* Every error of a file is shown in one run. */
	rv = load(&cf, "[http]\nadr = 1\n[log]\nlevel = x\nbogus\n", NULL);
	is_str(captured,
	    CONF ":2: unknown key 'adr' in [http]\n" CONF
	         ":4: level: expected error|warn|info|debug\n" CONF
	         ":5: expected key = value\n",
	    "all errors reported");
	config_free(&cf);

	/* Keys after a rejected section are not reported again. */
	rv = load(&cf, "[nope]\na = 1\nb = 2\n", NULL);
	is_str(captured, CONF ":1: unknown section [nope]\n",
	    "one error for a bad section");
	config_free(&cf);

	/* Too many headers. */
	{
		char big[8192];
		size_t o;
		int i;

		o = (size_t)snprintf(big, sizeof(big), "[headers]\n");
		for (i = 0; i < CONFIG_MAX_HEADERS; i++)
			o += (size_t)snprintf(big + o, sizeof(big) - o,
			    "X-H%d = v\n", i);
		rv = load(&cf, big, NULL);
		is_int(rv, -1, "33 headers fail");
		is_str(captured,
		    CONF ":33: X-H31: too many headers "
		         "(at most 32)\n",
		    "too many headers message");
		config_free(&cf);
	}
}

static void
test_addr(void)
{
	static const char *good[] = {
	    ":5000",
	    "127.0.0.1:5000",
	    "localhost:80",
	    "[::1]:5000",
	    "[::]:65535",
	    "registry.example.com:443",
	};
	static const char *bad[] = {
	    "5000",
	    ":0",
	    ":65536",
	    ":",
	    "[::1",
	    "[::1]5000",
	    "[zz]:5",
	    "::1:5000",
	    "a b:5",
	    ":50x0",
	    "",
	};
	char err[CONFIG_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		is_int(config_validate_addr(good[i], err, sizeof(err)), 0,
		    "addr '%s' accepted", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(config_validate_addr(bad[i], err, sizeof(err)), -1,
		    "addr '%s' refused", bad[i]);
	expect_error("[http]\naddr = 5000\n",
	    CONF ":2: addr: expected [host]:port, such as :5000, "
	         "127.0.0.1:5000 or [::1]:5000");
	expect_error("[http]\naddr = :0\n",
	    CONF ":2: addr: expected a port from 1 to 65535");
}

/* [http] debug_addr: empty (none) or an address as addr= takes it. */
static void
test_debug_addr(void)
{
	struct config cf;

	is_int(load(&cf, "", NULL), 0, "empty file");
	is_str(cf.cf_debug_addr, "", "default debug_addr: none");
	config_free(&cf);
	is_int(load(&cf, "[http]\ndebug_addr = 127.0.0.1:5001\n", NULL), 0,
	    "debug_addr set");
	is_str(cf.cf_debug_addr, "127.0.0.1:5001", "debug_addr kept");
	config_free(&cf);
	expect_error("[http]\ndebug_addr = 5001\n",
	    CONF ":2: debug_addr: expected [host]:port, such as :5000, "
	         "127.0.0.1:5000 or [::1]:5000");
	/* registry:2's names for its debug server. */
	expect_env("REGISTRY_HTTP_DEBUG_ADDR=[::1]:5001", 0, "");
	expect_env("REGISTRY_HTTP_DEBUG_ADDR=localhost", -1,
	    "REGISTRY_HTTP_DEBUG_ADDR: expected [host]:port, such as :5000, "
	    "127.0.0.1:5000 or [::1]:5000");
	expect_env("REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED=true", 0, "");
	expect_env("REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH=/metrics", 0, "");
	expect_env("REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH=/prom", 0,
	    "REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH: warning: registryd serves "
	    "metrics at /metrics only; ignored");
	expect_env("REGISTRY_HTTP_DEBUG_TLS_CERTIFICATE=/x", 0,
	    "REGISTRY_HTTP_DEBUG_TLS_CERTIFICATE: warning: the debug listener "
	    "serves /metrics and the probes only (no pprof, expvar or TLS); "
	    "ignored");
}

static void
test_values(void)
{
	static const struct {
		const char *s;
		int rv;
		uint64_t v;
	} durations[] = {
	    {"0", 0, 0},
	    {"90", 0, 90},
	    {"90s", 0, 90},
	    {"5m", 0, 300},
	    {"168h", 0, 604800},
	    {"1h30m", 0, 5400},
	    {"1h30m15s", 0, 5415},
	    {"", -1, 0},
	    {"m", -1, 0},
	    {"5x", -1, 0},
	    {"5m3", -1, 0},
	    {"-1", -1, 0},
	    {" 5", -1, 0},
	    {"5 m", -1, 0},
	    {"99999999999h", -1, 0},
	    {"2000000h", -1, 0},
	};
	static const char *yes[] = {"true", "TRUE", "yes", "on", "1"};
	static const char *no[] = {"false", "No", "off", "0"};
	uint64_t v;
	size_t i;
	int b;

	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		v = 12345;
		is_int(config_parse_duration(durations[i].s, &v),
		    durations[i].rv, "duration '%s'", durations[i].s);
		if (durations[i].rv == 0)
			is_int((long long)v, (long long)durations[i].v,
			    "duration '%s' value", durations[i].s);
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ok(config_parse_bool(yes[i], &b) == 0 && b == 1, "bool '%s'",
		    yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ok(config_parse_bool(no[i], &b) == 0 && b == 0, "bool '%s'",
		    no[i]);
	is_int(config_parse_bool("2", &b), -1, "bool '2' refused");
	is_int(config_parse_bool("", &b), -1, "bool '' refused");
}

/* Load with the file text and two variables; 0 or -1. */
static int
load2(struct config *cf, const char *text, const char *v1, const char *v2)
{
	char *envp[3];

	envp[0] = (char *)(uintptr_t)v1;
	envp[1] = (char *)(uintptr_t)v2;
	envp[2] = NULL;
	if (text == NULL)
		return capture_load(cf, NULL, 0, envp);
	return load(cf, text, envp);
}

static void
test_env_headers(void)
{
	struct config cf;
	int rv;

	/* registry:2's form: a JSON (YAML flow) map of lists. */
	rv = load2(&cf, "[headers]\nX-File = from file\n",
	    "REGISTRY_HTTP_HEADERS={\"X-A\": [\"a\"], "
	    "\"Access-Control-Allow-Methods\": [\"GET, POST\", \"PUT\"],\n"
	    " \"X-Content-Type-Options\": [], \"X-Esc\": [\"q\\\"\\\\/\"]}",
	    NULL);
	is_int(rv, 0, "REGISTRY_HTTP_HEADERS map loads");
	is_str(captured, "", "map: no messages");
	is_str(header(&cf, "X-A"), "a", "map: one value");
	is_str(header(&cf, "Access-Control-Allow-Methods"), "GET, POST, PUT",
	    "map: values joined with \", \"");
	ok(header(&cf, "X-Content-Type-Options") == NULL,
	    "map: an empty list removes the default header");
	is_str(header(&cf, "X-Esc"), "q\"\\/", "map: JSON escapes");
	is_str(header(&cf, "X-File"), "from file",
	    "map: headers of the file it does not name stay");
	config_free(&cf);

	/* YAML flow without quotes; a string where registry:2 wants a list. */
	rv = load2(&cf, NULL,
	    "REGISTRY_HTTP_HEADERS={X-B: [b1, 'b''2'], "
	    "X-S: \"single\", X-T: bare value}",
	    NULL);
	is_int(rv, 0, "YAML flow map loads");
	is_str(header(&cf, "X-B"), "b1, b'2", "flow: bare and quoted items");
	is_str(header(&cf, "X-S"), "single", "flow: a string is one value");
	is_str(header(&cf, "X-T"), "bare value", "flow: a bare string");
	is_str(header(&cf, "X-Content-Type-Options"), "nosniff",
	    "flow: the default header stays");
	config_free(&cf);

	/* Name=value lines, Name: value too; values keep ',' and ';'. */
	rv = load2(&cf, NULL,
	    "REGISTRY_HTTP_HEADERS=X-C=c1, c2\n"
	    "Strict-Transport-Security=max-age=31536000; includeSubDomains\r\n"
	    "\n  X-D: [d1, d2]\nX-E: a=b\nX-Content-Type-Options=\n",
	    NULL);
	is_int(rv, 0, "Name=value lines load");
	is_str(captured, "", "lines: no messages");
	is_str(header(&cf, "X-C"), "c1, c2", "lines: value with a comma");
	is_str(header(&cf, "Strict-Transport-Security"),
	    "max-age=31536000; includeSubDomains",
	    "lines: value with '=' and ';', CRLF");
	is_str(header(&cf, "X-D"), "d1, d2", "lines: Name: [list]");
	is_str(header(&cf, "X-E"), "a=b", "lines: Name: value with '='");
	ok(header(&cf, "X-Content-Type-Options") == NULL,
	    "lines: an empty value removes the header");
	config_free(&cf);

	/* REGISTRY_HTTP_HEADERS_<Name> wins, in either order. */
	rv = load2(&cf, NULL, "REGISTRY_HTTP_HEADERS_X-W=[specific]",
	    "REGISTRY_HTTP_HEADERS={\"X-W\": [\"map\"], \"X-M\": [\"m\"]}");
	ok(rv == 0 && strcmp(header(&cf, "X-W"), "specific") == 0 &&
	        strcmp(header(&cf, "X-M"), "m") == 0,
	    "REGISTRY_HTTP_HEADERS_<Name> given first still wins");
	config_free(&cf);
	rv = load2(&cf, NULL, "REGISTRY_HTTP_HEADERS=X-W=line",
	    "REGISTRY_HTTP_HEADERS_X-W=specific");
	ok(rv == 0 && strcmp(header(&cf, "X-W"), "specific") == 0,
	    "REGISTRY_HTTP_HEADERS_<Name> given last wins");
	config_free(&cf);
	expect_env("REGISTRY_HTTP_HEADERS=", 0, "");
	expect_env("REGISTRY_HTTP_HEADERS={}", 0, "");

	/* Anything else stops the start, naming the variable. */
	expect_env("REGISTRY_HTTP_HEADERS={\"X-A\": [\"a\"]", -1,
	    "REGISTRY_HTTP_HEADERS: expected {\"Name\": [\"value\"], ...} or "
	    "Name=value lines; a value is at most 1024 bytes");
	expect_env("REGISTRY_HTTP_HEADERS={\"X-A\": [\"a\"]} x", -1,
	    "REGISTRY_HTTP_HEADERS: expected {\"Name\": [\"value\"], ...} or "
	    "Name=value lines; a value is at most 1024 bytes");
	expect_env("REGISTRY_HTTP_HEADERS={\"X-A\": [\"\\u0041\"]}", -1,
	    "REGISTRY_HTTP_HEADERS: expected {\"Name\": [\"value\"], ...} or "
	    "Name=value lines; a value is at most 1024 bytes");
	expect_env("REGISTRY_HTTP_HEADERS=X-A=1\njust words", -1,
	    "REGISTRY_HTTP_HEADERS: line 2: expected Name=value (one header "
	    "per line) or {\"Name\": [\"value\"]}; a value is at most 1024 "
	    "bytes");
	expect_env("REGISTRY_HTTP_HEADERS==value", -1,
	    "REGISTRY_HTTP_HEADERS: line 1: expected Name=value (one header "
	    "per line) or {\"Name\": [\"value\"]}; a value is at most 1024 "
	    "bytes");
	expect_env("REGISTRY_HTTP_HEADERS=X-A=1\nx-a=2", -1,
	    "REGISTRY_HTTP_HEADERS: header x-a given twice");
	expect_env("REGISTRY_HTTP_HEADERS={\"Content-Length\": [\"1\"]}", -1,
	    "REGISTRY_HTTP_HEADERS: Content-Length: header Content-Length is "
	    "set by registryd itself");
	expect_env("REGISTRY_HTTP_HEADERS=Bad Name=x", -1,
	    "REGISTRY_HTTP_HEADERS: Bad Name: invalid header name");
	expect_env("REGISTRY_HTTP_HEADERS={\"X-A\": [\"a\rb\"]}", -1,
	    "REGISTRY_HTTP_HEADERS: X-A: invalid value for header X-A: control "
	    "characters or longer than 1024 bytes");
}

static void
test_env(void)
{
	struct config cf;
	char *envp[16];
	int rv;

	/* file < env; untouched keys keep the file's value. */
	envp[0] = "PATH=/bin";
	envp[1] = "REGISTRY_HTTP_ADDR=:7000";
	envp[2] = "REGISTRY_STORAGE_DELETE_ENABLED=true";
	envp[3] = "REGISTRY_LOG_ACCESSLOG_DISABLED=true";
	envp[4] = "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE=24h";
	envp[5] = "REGISTRY_HTTP_DRAINTIMEOUT=10s";
	envp[6] = "REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin="
	          "[\"https://a.example\", 'https://b.example']";
	envp[7] = "REGISTRY_HTTP_HEADERS_X-Content-Type-Options=[nosniff2]";
	envp[8] = "REGISTRY_HTTP_HEADERS_X-Plain=plain value";
	envp[9] = "REGISTRY_HTTP_HEADERS_X-Frame-Options=";
	envp[10] = "REGISTRY_STORAGE=filesystem";
	envp[11] = "REGISTRY_PORT_5000_TCP=tcp://10.0.0.1:5000";
	envp[12] = "REGISTRY_HTTP_SECRET=hunter2";
	envp[13] = "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/data";
	envp[14] = "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL=1h";
	envp[15] = NULL;
	rv = load(&cf,
	    "[http]\naddr = :6000\nidle_timeout = 7\n"
	    "[log]\nlevel = error\n[headers]\nX-Frame-Options = DENY\n",
	    envp);
	is_int(rv, 0, "env overlay loads");
	is_str(captured, "", "env overlay: no messages");
	is_str(cf.cf_addr, ":7000", "env beats file");
	is_int(cf.cf_idle_timeout, 7, "file value kept without env");
	is_int(cf.cf_log_level, LOG_LVL_ERROR, "file level kept");
	is_int(cf.cf_delete_enabled, 1, "REGISTRY_STORAGE_DELETE_ENABLED");
	is_int(cf.cf_access_log, 0, "ACCESSLOG_DISABLED=true: no access log");
	is_int(cf.cf_upload_purge_age, 86400, "registry:2 purge age alias");
	is_int(cf.cf_upload_purge_interval, 3600,
	    "registry:2 purge interval alias");
	is_int(cf.cf_upload_purge, 1, "purging on by default");
	is_int(cf.cf_upload_purge_dryrun, 0, "no dry run by default");
	is_int(cf.cf_read_only, 0, "writable by default");
	is_int(cf.cf_gc_interval, 0, "no online garbage collection by default");
	is_int(cf.cf_gc_grace, 3600, "garbage collection grace: an hour");
	is_int(cf.cf_drain_timeout, 10, "registry:2 draintimeout alias");
	is_str(cf.cf_secret, "hunter2", "secret from env");
	is_str(cf.cf_root, "/data", "root from env");
	is_str(header(&cf, "Access-Control-Allow-Origin"),
	    "https://a.example, https://b.example", "YAML list header");
	is_str(header(&cf, "X-Content-Type-Options"), "nosniff2",
	    "env overrides default header");
	is_str(header(&cf, "X-Plain"), "plain value", "plain header value");
	ok(header(&cf, "X-Frame-Options") == NULL, "empty env removes header");
	is_int(cf.cf_nheaders, 3, "three headers");
	config_free(&cf);

	/* Env values use the same validators, named by the variable. */
	expect_env("REGISTRY_HTTP_MAX_CONNECTIONS_PER_ADDRESS=32", 0, "");
	expect_env("REGISTRY_HTTP_MAX_CONNECTIONS_PER_ADDRESS=-1", -1,
	    "REGISTRY_HTTP_MAX_CONNECTIONS_PER_ADDRESS: expected a number from "
	    "1 to 65536");
	expect_env("REGISTRY_LOG_LEVEL=loud", -1,
	    "REGISTRY_LOG_LEVEL: expected error|warn|info|debug");
	expect_env("REGISTRY_HTTP_ADDR=5000", -1,
	    "REGISTRY_HTTP_ADDR: expected [host]:port, such as :5000, "
	    "127.0.0.1:5000 or [::1]:5000");
	expect_env("REGISTRY_LOG_ACCESSLOG_DISABLED=perhaps", -1,
	    "REGISTRY_LOG_ACCESSLOG_DISABLED: expected "
	    "true|false|yes|no|on|off|1|0");
	expect_env("REGISTRY_HTTP_HEADERS_X-A=[\"open]", -1,
	    "REGISTRY_HTTP_HEADERS_X-A: invalid value: unterminated quote or "
	    "longer than 1024 bytes");
	expect_env("REGISTRY_HTTP_HEADERS_Bad Name=[x]", -1,
	    "REGISTRY_HTTP_HEADERS_Bad Name: invalid header name");
	expect_env("REGISTRY_HTTP_HEADERS_X-A=a\rb", -1,
	    "REGISTRY_HTTP_HEADERS_X-A: invalid value for header X-A: "
	    "control characters or longer than 1024 bytes");

	/* Settings that would change what the registry is stop the load. */
	expect_env("REGISTRY_PROXY_REMOTEURL=https://registry-1.docker.io", -1,
	    "REGISTRY_PROXY_REMOTEURL: pull-through proxy is not supported "
	    "by registryd; refusing to start");
	expect_env("REGISTRY_AUTH=htpasswd", -1,
	    "REGISTRY_AUTH: htpasswd needs REGISTRY_AUTH_HTPASSWD_PATH; "
	    "refusing to serve an unprotected registry");
	expect_env("REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd", 0, "");
	expect_env("REGISTRY_HTTP_TLS_CERTIFICATE=/certs/c.pem", -1,
	    "environment: [tls] certificate and key go together");
	expect_env("REGISTRY_STORAGE=gcs", -1,
	    "REGISTRY_STORAGE: only the filesystem and s3 storage drivers "
	    "are supported by registryd; refusing to start");
	expect_env("REGISTRY_STORAGE=s3", -1,
	    "environment: the s3 driver needs [s3] bucket "
	    "(REGISTRY_STORAGE_S3_BUCKET)\n"
	    "environment: the s3 driver needs [s3] accesskey and either "
	    "secretkey or secretkeyfile (REGISTRY_STORAGE_S3_ACCESSKEY, "
	    "REGISTRY_STORAGE_S3_SECRETKEY)");
	expect_env("REGISTRY_STORAGE_S3_BUCKET=b", -1,
	    "REGISTRY_STORAGE_S3_BUCKET: a bucket name is 3 to 63 of a-z 0-9 "
	    ". - _");
	expect_env("REGISTRY_STORAGE_S3_REGIONENDPOINT=127.0.0.1:7480", 0, "");
	expect_env("REGISTRY_STORAGE_S3_CHUNKSIZE=1048576", -1,
	    "REGISTRY_STORAGE_S3_CHUNKSIZE: expected a number from 5242880 to "
	    "1073741824");
	expect_env("REGISTRY_STORAGE_S3_ENCRYPT=true", -1,
	    "REGISTRY_STORAGE_S3_ENCRYPT: server-side encryption is not "
	    "supported by registryd's s3 driver; refusing to store "
	    "unencrypted");
	expect_env("REGISTRY_STORAGE_S3_ENCRYPT=false", 0, "");
	expect_env("REGISTRY_STORAGE_S3_STORAGECLASS=STANDARD", 0,
	    "REGISTRY_STORAGE_S3_STORAGECLASS: warning: not supported by "
	    "registryd's s3 driver; ignored");
	/* R10: registry:2's bare host:port endpoint; the scheme is secure's. */
	expect_env("REGISTRY_STORAGE_S3_REGIONENDPOINT=minio:9000", 0, "");
	expect_env("REGISTRY_STORAGE_S3_REGIONENDPOINT=ftp://minio", -1,
	    "REGISTRY_STORAGE_S3_REGIONENDPOINT: expected an http:// or "
	    "https:// URL, or host[:port]");
	expect_env("REGISTRY_STORAGE_S3_FORCEPATHSTYLE=maybe", -1,
	    "REGISTRY_STORAGE_S3_FORCEPATHSTYLE: expected "
	    "true|false|yes|no|on|off|1|0");
	expect_env("REGISTRY_STORAGE_S3_BUCKET=UPPER", -1,
	    "REGISTRY_STORAGE_S3_BUCKET: a bucket name is 3 to 63 of a-z 0-9 "
	    ". - _");
	expect_env("REGISTRY_STORAGE_S3_SKIPVERIFY=true", -1,
	    "REGISTRY_STORAGE_S3_SKIPVERIFY: not verifying the store's TLS "
	    "certificate is not supported: add its CA to the system's trusted "
	    "certificates; refusing to start");
	expect_env("REGISTRY_STORAGE_S3_SKIPVERIFY=false", 0, "");
	{
		char *s3env[] = {"REGISTRY_STORAGE=s3",
		    "REGISTRY_STORAGE_S3_REGIONENDPOINT=minio:9000",
		    "REGISTRY_STORAGE_S3_BUCKET=reg-bucket",
		    "REGISTRY_STORAGE_S3_ACCESSKEY=AK",
		    "REGISTRY_STORAGE_S3_SECRETKEY=SK",
		    "REGISTRY_STORAGE_S3_FORCEPATHSTYLE=false", NULL};
		struct config s3cf;

		ok(capture_load(&s3cf, NULL, 0, s3env) == 0,
		    "s3 with a bare host:port endpoint loads");
		is_int(config_s3_path_style(&s3cf), 0,
		    "an explicit forcepathstyle=false turns path style off "
		    "with an endpoint");
		config_free(&s3cf);
	}
	/* The s3 driver, as registry:2's environment gives it. */
	{
		char *s3env[] = {"REGISTRY_STORAGE=s3",
		    "REGISTRY_STORAGE_S3_REGION=eu-west-1",
		    "REGISTRY_STORAGE_S3_REGIONENDPOINT=http://127.0.0.1:7480",
		    "REGISTRY_STORAGE_S3_BUCKET=reg-bucket",
		    "REGISTRY_STORAGE_S3_ACCESSKEY=AK",
		    "REGISTRY_STORAGE_S3_SECRETKEY=SK",
		    "REGISTRY_STORAGE_S3_ROOTDIRECTORY=/reg",
		    "REGISTRY_STORAGE_S3_SECURE=false",
		    "REGISTRY_STORAGE_S3_CHUNKSIZE=5242880",
		    "REGISTRY_STORAGE_REDIRECT_DISABLE=true", NULL};
		struct config s3cf;

		ok(capture_load(&s3cf, NULL, 0, s3env) == 0 &&
		        captured[0] == '\0',
		    "s3 driver from the environment loads");
		is_str(s3cf.cf_driver, "s3", "driver");
		is_str(s3cf.cf_s3_region, "eu-west-1", "region");
		is_str(s3cf.cf_s3_endpoint, "http://127.0.0.1:7480",
		    "regionendpoint");
		is_str(s3cf.cf_s3_bucket, "reg-bucket", "bucket");
		is_str(s3cf.cf_s3_access_key, "AK", "accesskey");
		is_str(s3cf.cf_s3_secret_key, "SK", "secretkey");
		is_str(s3cf.cf_s3_root, "/reg", "rootdirectory");
		is_int(s3cf.cf_s3_secure, 0, "secure");
		is_str(s3cf.cf_s3_path_style, "", "forcepathstyle default");
		is_int(config_s3_path_style(&s3cf), 1,
		    "unset forcepathstyle: path style with regionendpoint");
		is_int(s3cf.cf_s3_chunk_size, 5242880, "chunksize");
		is_int(s3cf.cf_redirect_disable, 1, "redirect disable");
		config_free(&s3cf);
	}
	{
		char *s3env[] = {"REGISTRY_STORAGE=s3",
		    "REGISTRY_STORAGE_S3_BUCKET=reg-bucket",
		    "REGISTRY_STORAGE_S3_ACCESSKEY=AK",
		    "REGISTRY_STORAGE_S3_SECRETKEY=SK",
		    "REGISTRY_STORAGE_S3_SECRETKEYFILE=/run/secrets/s3", NULL};
		struct config s3cf;

		ok(capture_load(&s3cf, NULL, 0, s3env) == -1,
		    "secretkey and secretkeyfile do not go together");
		config_free(&s3cf);
	}
	expect_env("REGISTRY_HTTP_PREFIX=/reg/", -1,
	    "REGISTRY_HTTP_PREFIX: a URL prefix is not supported by "
	    "registryd; refusing to start");
	expect_env("REGISTRY_HTTP_PREFIX=/", 0, "");
	/* registry:2's read-only maintenance mode is [storage] read_only. */
	{
		char *roenv[] =
		    {"REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=true",
		        "REGISTRY_STORAGE_GC_INTERVAL=1h", NULL};

		rv = load(&cf, "[storage]\ngc_grace = 10m\n", roenv);
		is_int(rv, 0, "read-only and gc settings load");
		is_int(cf.cf_read_only, 1, "registry:2 readonly alias");
		is_int(cf.cf_gc_interval, 3600, "REGISTRY_STORAGE_GC_INTERVAL");
		is_int(cf.cf_gc_grace, 600, "gc_grace from the file");
		config_free(&cf);
	}
	expect_env("REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=true", 0, "");
	expect_env("REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=no", 0, "");
	expect_env("REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=maybe", -1,
	    "REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED: expected "
	    "true|false|yes|no|on|off|1|0");
	/* registry:2's uploadpurging is honoured, not warned about. */
	expect_env("REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED=false",
	    0, "");
	expect_env("REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_DRYRUN=true", 0,
	    "");

	/* Harmless and unknown names: silence or a warning, never failure. */
	expect_env("REGISTRY_FOO=1", 0,
	    "REGISTRY_FOO: warning: unknown setting, ignored");
	expect_env("REGISTRY_LOG_FORMATTER=json", 0, "");
	expect_env("REGISTRY_LOG_FORMATTER=text", 0, "");
	expect_env("REGISTRY_VERSION=0.1", 0, "");
	expect_env("REGISTRY_SERVICE_HOST=10.0.0.1", 0, "");
	expect_env("REGISTRY_STORAGE_REDIRECT_DISABLE=true", 0, "");
	expect_env("REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR=inmemory", 0, "");
	expect_env("REGISTRY_NOTIFICATIONS_ENDPOINTS=x", 0,
	    "REGISTRY_NOTIFICATIONS_ENDPOINTS: warning: notifications are "
	    "not supported by registryd; no events will be sent");
	expect_env("REGISTRYD_X=1", 0, "");
	expect_env("NOT_REGISTRY_AUTH=1", 0, "");

	/* A warning next to an error: both shown, the load fails. */
	envp[0] = "REGISTRY_FOO=1";
	envp[1] = "REGISTRY_PROXY_REMOTEURL=x";
	envp[2] = NULL;
	rv = capture_load(&cf, NULL, 0, envp);
	is_int(rv, -1, "warning plus refusal fails");
	is_str(captured,
	    "REGISTRY_FOO: warning: unknown setting, ignored\n"
	    "REGISTRY_PROXY_REMOTEURL: pull-through proxy is not supported by "
	    "registryd; refusing to start\n",
	    "both messages");
	config_free(&cf);
}

/* Load text (may be NULL: no file) with the NULL-terminated envp. */
static int
load_env(struct config *cf, const char *text, char **envp)
{
	if (text == NULL)
		return capture_load(cf, NULL, 0, envp);
	return load(cf, text, envp);
}

static void
test_tls_auth(void)
{
	struct config cf;
	char *envp[16];
	int rv;

	/* Defaults. */
	rv = capture_load(&cf, NULL, 0, NULL);
	is_int(rv, 0, "defaults load");
	is_str(cf.cf_trust_proxy, "", "default trust_proxy");
	is_str(cf.cf_cors_origins, "", "default cors_origins");
	is_str(cf.cf_tls_cert, "", "default certificate: no TLS");
	is_str(cf.cf_tls_key, "", "default key");
	is_str(cf.cf_tls_client_ca, "", "default client_ca");
	is_int(cf.cf_tls_client_auth, CONFIG_CLIENT_NONE,
	    "no client_ca: no client certificates");
	is_int(cf.cf_tls_min_version, TLS1_2_VERSION, "default tls1.2");
	is_str(cf.cf_tls_ciphers, CONFIG_DEFAULT_CIPHERS, "default ciphers");
	ok(strstr(cf.cf_tls_ciphers, "ECDHE-RSA-CHACHA20-POLY1305") != NULL,
	    "default ciphers: ECDHE and AEAD");
	is_str(cf.cf_htpasswd, "", "default htpasswd: no auth");
	is_str(cf.cf_realm, "registryd", "default realm");
	is_int(cf.cf_anonymous_pull, 0, "default anonymous_pull");
	is_int(cf.cf_auth_cache_ttl, 300, "default cache_ttl");
	is_int(cf.cf_auth_fail_limit, 10, "default fail_limit");
	is_str(cf.cf_username, "", "default username");
	is_str(cf.cf_password, "", "default password");
	config_free(&cf);

	/* Every key in the file. */
	rv = load(&cf,
	    "[http]\n"
	    "trust_proxy = 10.0.0.1 , ::1,192.168.1.2\n"
	    "cors_origins = https://ui.example.com, http://localhost:8080\n"
	    "[tls]\n"
	    "certificate = /etc/registryd/chain.pem\n"
	    "key = /etc/registryd/key.pem\n"
	    "client_ca = /etc/registryd/ca.pem\n"
	    "client_auth = verify\n"
	    "minimum_version = tls1.3\n"
	    "ciphers = ECDHE+AESGCM:!aNULL\n"
	    "[auth]\n"
	    "htpasswd = /etc/registryd/htpasswd\n"
	    "realm = My Registry\n"
	    "anonymous_pull = true\n"
	    "cache_ttl = 5m\n"
	    "fail_limit = 0\n",
	    NULL);
	is_int(rv, 0, "tls and auth keys load");
	is_str(captured, "", "no messages");
	is_str(cf.cf_trust_proxy, "10.0.0.1,::1,192.168.1.2",
	    "trust_proxy stored as a plain comma list");
	is_str(cf.cf_cors_origins,
	    "https://ui.example.com,http://localhost:8080", "cors_origins");
	is_str(cf.cf_tls_cert, "/etc/registryd/chain.pem", "certificate");
	is_str(cf.cf_tls_key, "/etc/registryd/key.pem", "key");
	is_str(cf.cf_tls_client_ca, "/etc/registryd/ca.pem", "client_ca");
	is_int(cf.cf_tls_client_auth, CONFIG_CLIENT_VERIFY, "client_auth");
	is_int(cf.cf_tls_min_version, TLS1_3_VERSION, "minimum_version");
	is_str(cf.cf_tls_ciphers, "ECDHE+AESGCM:!aNULL", "ciphers");
	is_str(cf.cf_htpasswd, "/etc/registryd/htpasswd", "htpasswd");
	is_str(cf.cf_realm, "My Registry", "realm");
	is_int(cf.cf_anonymous_pull, 1, "anonymous_pull");
	is_int(cf.cf_auth_cache_ttl, 300, "cache_ttl 5m");
	is_int(cf.cf_auth_fail_limit, 0, "fail_limit 0");
	config_free(&cf);

	rv = load(&cf,
	    "[tls]\ncertificate = c.pem\nkey = k.pem\nclient_ca = ca.pem\n"
	    "[http]\ncors_origins = *\n",
	    NULL);
	is_int(rv, 0, "client_ca alone");
	is_int(cf.cf_tls_client_auth, CONFIG_CLIENT_REQUIRE,
	    "client_ca without client_auth: require");
	is_str(cf.cf_cors_origins, "*", "cors_origins *");
	config_free(&cf);

	expect_error("[http]\ntrust_proxy = 10.0.0.1, proxy.example.com\n",
	    CONF ":2: trust_proxy: 'proxy.example.com' is not an IP address");
	expect_error("[http]\ntrust_proxy = 10.0.0.0/8\n",
	    CONF ":2: trust_proxy: '10.0.0.0/8' is not an IP address");
	expect_error("[http]\ntrust_proxy = 10.0.0.1,,10.0.0.2\n",
	    CONF ":2: trust_proxy: empty item or more than 64 items");
	expect_error("[http]\ncors_origins = ui.example.com\n",
	    CONF ":2: cors_origins: 'ui.example.com' is not an origin such as "
	         "https://ui.example.com or *");
	expect_error("[http]\ncors_origins = https://ui.example.com/\n",
	    CONF ":2: cors_origins: 'https://ui.example.com/' is not an origin "
	         "such as https://ui.example.com or *");
	expect_error("[http]\ncors_origins = https://a.example, *\n",
	    CONF ":2: cors_origins: '*' is not an origin such as "
	         "https://ui.example.com or *");
	expect_error("[tls]\nminimum_version = tls1.1\n",
	    CONF ":2: minimum_version: tls1.1 is obsolete and insecure "
	         "(RFC 8996); expected tls1.2 or tls1.3");
	expect_error("[tls]\nminimum_version = tls1.0\n",
	    CONF ":2: minimum_version: tls1.0 is obsolete and insecure "
	         "(RFC 8996); expected tls1.2 or tls1.3");
	expect_error("[tls]\nminimum_version = ssl3\n",
	    CONF ":2: minimum_version: expected tls1.2 or tls1.3");
	expect_error("[tls]\nclient_auth = maybe\n",
	    CONF ":2: client_auth: expected require or verify");
	expect_error("[tls]\nciphers =\n",
	    CONF ":2: ciphers: must not be empty");
	expect_error("[tls]\nciphers = AES;rm\n",
	    CONF ":2: ciphers: expected an OpenSSL cipher list such as "
	         "ECDHE+AESGCM:ECDHE+CHACHA20");
	expect_error("[tls]\ncertificate = c.pem\n",
	    CONF ": [tls] certificate and key go together");
	expect_error("[tls]\nkey = k.pem\n",
	    CONF ": [tls] certificate and key go together");
	expect_error("[tls]\nclient_ca = ca.pem\n",
	    CONF ": [tls] client_ca needs certificate and key");
	expect_error("[auth]\nrealm = a\"b\n",
	    CONF ":2: realm: expected 1 to 128 printable characters without "
	         "quotes or backslashes");
	expect_error("[auth]\nrealm =\n",
	    CONF ":2: realm: expected 1 to 128 printable characters without "
	         "quotes or backslashes");
	expect_error("[auth]\nfail_limit = -1\n",
	    CONF ":2: fail_limit: expected a number from 0 to 100000");
	expect_error("[auth]\ncache_ttl = 2d\n",
	    CONF ":2: cache_ttl: expected seconds from 0 to 86400, or a "
	         "duration such as 90s, 5m, 1h");
	expect_error("[auth]\nusername = ci\n",
	    CONF ":2: unknown key 'username' in [auth]");
	expect_error("[auth]\npassword = x\n",
	    CONF ":2: unknown key 'password' in [auth]");

	/* registry:2's environment, as compose files write it. */
	envp[0] = "REGISTRY_AUTH=htpasswd";
	envp[1] = "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd";
	envp[2] = "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm";
	envp[3] = "REGISTRY_HTTP_TLS_CERTIFICATE=/certs/domain.crt";
	envp[4] = "REGISTRY_HTTP_TLS_KEY=/certs/domain.key";
	envp[5] = "REGISTRY_HTTP_TLS_CLIENTCAS=[/certs/ca.pem]";
	envp[6] = "REGISTRY_HTTP_TLS_MINIMUMTLS=tls1.3";
	envp[7] = "REGISTRY_HTTP_TLS_CIPHERSUITES=[TLS_ECDHE_RSA_WITH_AES_128_"
	          "GCM_SHA256, TLS_AES_128_GCM_SHA256, "
	          "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]";
	envp[8] = "REGISTRY_USERNAME=ci";
	envp[9] = "REGISTRY_PASSWORD=hunter2";
	envp[10] = "REGISTRY_AUTH_ANONYMOUSPULL=true";
	envp[11] = "REGISTRY_AUTH_CACHE_TTL=1m";
	envp[12] = "REGISTRY_AUTH_FAILLIMIT=5";
	envp[13] = "REGISTRY_HTTP_TRUSTPROXY=[10.0.0.1, \"10.0.0.2\"]";
	envp[14] = "REGISTRY_HTTP_CORSORIGINS=https://ui.example.com";
	envp[15] = NULL;
	rv = load_env(&cf, "[auth]\nrealm = file realm\n", envp);
	is_int(rv, 0, "registry:2 environment loads");
	is_str(captured, "", "silently");
	is_str(cf.cf_htpasswd, "/auth/htpasswd", "REGISTRY_AUTH_HTPASSWD_PATH");
	is_str(cf.cf_realm, "Registry Realm", "env realm beats the file");
	is_str(cf.cf_tls_cert, "/certs/domain.crt", "TLS certificate");
	is_str(cf.cf_tls_key, "/certs/domain.key", "TLS key");
	is_str(cf.cf_tls_client_ca, "/certs/ca.pem", "YAML list of one CA");
	is_int(cf.cf_tls_client_auth, CONFIG_CLIENT_REQUIRE,
	    "client CA: require");
	is_int(cf.cf_tls_min_version, TLS1_3_VERSION, "MINIMUMTLS");
	is_str(cf.cf_tls_ciphers,
	    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
	    "Go cipher names mapped, TLS 1.3 ones skipped");
	is_str(cf.cf_username, "ci", "REGISTRY_USERNAME");
	is_str(cf.cf_password, "hunter2", "REGISTRY_PASSWORD");
	is_int(cf.cf_anonymous_pull, 1, "REGISTRY_AUTH_ANONYMOUSPULL");
	is_int(cf.cf_auth_cache_ttl, 60, "REGISTRY_AUTH_CACHE_TTL");
	is_int(cf.cf_auth_fail_limit, 5, "REGISTRY_AUTH_FAILLIMIT");
	is_str(cf.cf_trust_proxy, "10.0.0.1,10.0.0.2", "YAML list of proxies");
	is_str(cf.cf_cors_origins, "https://ui.example.com", "CORS origin");
	config_free(&cf);

	expect_env("REGISTRY_AUTH=token", -1,
	    "REGISTRY_AUTH: only htpasswd authentication is supported by "
	    "registryd; refusing to serve an unprotected registry");
	expect_env("REGISTRY_AUTH=silly", -1,
	    "REGISTRY_AUTH: only htpasswd authentication is supported by "
	    "registryd; refusing to serve an unprotected registry");
	expect_env("REGISTRY_AUTH=", 0, "");
	expect_env("REGISTRY_AUTH_TOKEN_REALM=https://auth.example.com/token",
	    -1,
	    "REGISTRY_AUTH_TOKEN_REALM: only htpasswd authentication is "
	    "supported by registryd; refusing to serve an unprotected "
	    "registry");
	expect_env("REGISTRY_AUTH_SILLY_REALM=x", -1,
	    "REGISTRY_AUTH_SILLY_REALM: only htpasswd authentication is "
	    "supported by registryd; refusing to serve an unprotected "
	    "registry");
	expect_env("REGISTRY_HTTP_TLS_LETSENCRYPT_EMAIL=a@example.com", -1,
	    "REGISTRY_HTTP_TLS_LETSENCRYPT_EMAIL: Let's Encrypt is not "
	    "supported by registryd: get the certificate with an ACME client "
	    "and set certificate= and key=; refusing to serve a plain HTTP "
	    "registry");
	expect_env("REGISTRY_HTTP_TLS_MINIMUMTLS=tls1.1", -1,
	    "REGISTRY_HTTP_TLS_MINIMUMTLS: tls1.1 is obsolete and insecure "
	    "(RFC 8996); expected tls1.2 or tls1.3");
	expect_env("REGISTRY_HTTP_TLS_CIPHERSUITES=[TLS_BOGUS_SUITE]", -1,
	    "REGISTRY_HTTP_TLS_CIPHERSUITES: unknown cipher suite "
	    "'TLS_BOGUS_SUITE'");
	expect_env("REGISTRY_HTTP_TRUSTPROXY=[10.0.0.1, proxy]", -1,
	    "REGISTRY_HTTP_TRUSTPROXY: 'proxy' is not an IP address");
	expect_env("REGISTRY_USERNAME=ci", -1,
	    "environment: REGISTRY_USERNAME and REGISTRY_PASSWORD go "
	    "together");
	expect_env("REGISTRY_USERNAME=c:i", -1,
	    "REGISTRY_USERNAME: a user name is at most 127 bytes, without ':' "
	    "or control characters");

	envp[0] = "REGISTRY_HTTP_TLS_CERTIFICATE=/c";
	envp[1] = "REGISTRY_HTTP_TLS_KEY=/k";
	envp[2] = "REGISTRY_HTTP_TLS_CLIENTCAS=[/a.pem, /b.pem]";
	envp[3] = NULL;
	rv = load_env(&cf, NULL, envp);
	ok(rv == -1 &&
	        strcmp(captured,
	            "REGISTRY_HTTP_TLS_CLIENTCAS: only one file is "
	            "supported; concatenate the PEM files into one\n") == 0,
	    "two client CA files refused");
	config_free(&cf);

	/* OpenSSL syntax in the environment passes through. */
	envp[0] = "REGISTRY_HTTP_TLS_CIPHERSUITES=ECDHE+AESGCM";
	envp[1] = NULL;
	rv = load_env(&cf, NULL, envp);
	ok(rv == 0 && strcmp(cf.cf_tls_ciphers, "ECDHE+AESGCM") == 0,
	    "OpenSSL cipher list from the environment");
	config_free(&cf);
}

/* [log] format, REGISTRY_LOG_FORMATTER and [server] user. */
static void
test_service(void)
{
	struct config cf;
	char *envp[2];
	int rv;

	rv = load(&cf, "", NULL);
	is_str(cf.cf_log_format, "text", "default format text");
	is_str(cf.cf_user, "", "default user: none");
	config_free(&cf);

	rv = load(&cf, "[log]\nformat = json\n[server]\nuser = _registry-d.1\n",
	    NULL);
	is_int(rv, 0, "format and user load");
	is_str(cf.cf_log_format, "json", "format json");
	is_int(log_format_parse(cf.cf_log_format), LOG_FMT_JSON,
	    "json is LOG_FMT_JSON");
	is_str(cf.cf_user, "_registry-d.1", "user");
	config_free(&cf);

	/* registry:2's formatter names; logstash lines are JSON lines. */
	envp[0] = "REGISTRY_LOG_FORMATTER=logstash";
	envp[1] = NULL;
	rv = load(&cf, "[log]\nformat = text\n", envp);
	is_int(rv, 0, "REGISTRY_LOG_FORMATTER=logstash loads");
	is_str(captured, "", "logstash: no message");
	is_int(log_format_parse(cf.cf_log_format), LOG_FMT_JSON,
	    "logstash is written as json");
	config_free(&cf);
	is_int(log_format_parse("JSON"), LOG_FMT_JSON, "any case");
	is_int(log_format_parse("Text"), LOG_FMT_TEXT, "text");

	expect_error("[log]\nformat = xml\n",
	    CONF ":2: format: expected text, json or logstash");
	expect_env("REGISTRY_LOG_FORMATTER=gelf", -1,
	    "REGISTRY_LOG_FORMATTER: expected text, json or logstash");
	expect_error("[server]\nuser = -x\n",
	    CONF ":2: user: expected a user name: letters, digits, '.', '_', "
	         "'-', at most 32 bytes");
	expect_error("[server]\nuser = a b\n",
	    CONF ":2: user: expected a user name: letters, digits, '.', '_', "
	         "'-', at most 32 bytes");
	expect_error("[server]\nuser = abcdefghijabcdefghijabcdefghijabc\n",
	    CONF ":2: user: expected a user name: letters, digits, '.', '_', "
	         "'-', at most 32 bytes");

	/* [server] chown_root and umask: what the container image sets. */
	rv = load(&cf, "", NULL);
	is_int(cf.cf_chown_root, 0, "default chown_root false");
	is_str(cf.cf_umask, "", "default umask: inherited");
	config_free(&cf);
	rv = load(&cf, "[server]\nchown_root = true\numask = 0027\n", NULL);
	is_int(rv, 0, "chown_root and umask load");
	is_int(cf.cf_chown_root, 1, "chown_root");
	is_str(cf.cf_umask, "0027", "umask");
	config_free(&cf);
	envp[0] = "REGISTRY_SERVER_UMASK=022";
	envp[1] = NULL;
	rv = load(&cf, "", envp);
	is_int(rv, 0, "REGISTRY_SERVER_UMASK=022");
	is_str(cf.cf_umask, "022", "three digits");
	config_free(&cf);
	expect_error("[server]\numask = 0028\n",
	    CONF ":2: umask: expected an octal umask such as 0027 or 0022");
	expect_error("[server]\numask = 27\n",
	    CONF ":2: umask: expected an octal umask such as 0027 or 0022");
	expect_error("[server]\numask = 10027\n",
	    CONF ":2: umask: expected an octal umask such as 0027 or 0022");
	expect_env("REGISTRY_SERVER_CHOWN_ROOT=maybe", -1,
	    "REGISTRY_SERVER_CHOWN_ROOT: expected "
	    "true|false|yes|no|on|off|1|0");
}

static void
test_dump(void)
{
	struct config cf, cf2;
	struct capture cap;
	char *envp[8];
	int rv;

	envp[0] = "REGISTRY_HTTP_SECRET=hunter2";
	envp[1] = "REGISTRY_HTTP_HEADERS_X-Quoted= spaced ";
	envp[2] = "REGISTRY_USERNAME=ci";
	envp[3] = "REGISTRY_PASSWORD=pa55word";
	envp[4] = "REGISTRY_HTTP_TLS_CERTIFICATE=/c.pem";
	envp[5] = "REGISTRY_HTTP_TLS_KEY=/k.pem";
	envp[6] = "REGISTRY_HTTP_TRUSTPROXY=10.0.0.1, 10.0.0.2";
	envp[7] = NULL;
	rv = load(&cf, "[storage]\ndelete_enabled = on\n", envp);
	is_int(rv, 0, "load for dump");

	capture_start(&cap, 1, "dump.conf");
	config_dump(&cf);
	capture_end(&cap, captured, sizeof(captured));

	ok(strstr(captured, "\n[http]\n") != NULL, "dump has [http]");
	ok(strstr(captured, "\naddr = :5000\n") != NULL, "dump addr");
	ok(strstr(captured, "\nsecret = (set)\n") != NULL, "secret hidden");
	ok(strstr(captured, "hunter2") == NULL, "secret value not shown");
	ok(strstr(captured, "\ndelete_enabled = true\n") != NULL, "dump bool");
	ok(strstr(captured, "\nlevel = info\n") != NULL, "dump level");
	ok(strstr(captured, "\nupload_purge_age = 604800\n") != NULL,
	    "dump duration as seconds");
	ok(strstr(captured, "\nX-Quoted = \" spaced \"\n") != NULL,
	    "dump quotes blanks");
	ok(strstr(captured, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY") !=
	        NULL,
	    "dump names env variables");
	ok(strstr(captured, "\n[tls]\n") != NULL, "dump has [tls]");
	ok(strstr(captured, "\n[auth]\n") != NULL, "dump has [auth]");
	ok(strstr(captured, "\nminimum_version = tls1.2\n") != NULL,
	    "dump minimum_version");
	ok(strstr(captured, "\nclient_auth = require\n") != NULL,
	    "dump client_auth");
	ok(strstr(captured, "\ncertificate = /c.pem\n") != NULL,
	    "dump certificate");
	ok(strstr(captured, "\ntrust_proxy = 10.0.0.1,10.0.0.2\n") != NULL,
	    "dump trust_proxy");
	ok(strstr(captured, "\n# REGISTRY_USERNAME = ci\n") != NULL,
	    "username shown as a comment");
	ok(strstr(captured, "\n# REGISTRY_PASSWORD = (set)\n") != NULL,
	    "password hidden");
	ok(strstr(captured, "pa55word") == NULL, "password value not shown");

	/* The dump reads back to the same configuration (bar the secret). */
	rv = capture_load(&cf2, "dump.conf", 1, NULL);
	is_int(rv, 0, "dump loads back");
	is_str(captured, "", "dump loads back silently");
	is_str(cf2.cf_addr, cf.cf_addr, "round trip addr");
	is_int(cf2.cf_delete_enabled, 1, "round trip bool");
	is_int(cf2.cf_upload_purge_age, cf.cf_upload_purge_age,
	    "round trip duration");
	is_str(header(&cf2, "X-Quoted"), " spaced ", "round trip header");
	is_int(cf2.cf_nheaders, cf.cf_nheaders, "round trip header count");
	is_str(cf2.cf_tls_cert, "/c.pem", "round trip certificate");
	is_str(cf2.cf_trust_proxy, cf.cf_trust_proxy, "round trip trust_proxy");
	is_int(cf2.cf_tls_min_version, cf.cf_tls_min_version,
	    "round trip minimum_version");
	is_str(cf2.cf_tls_ciphers, cf.cf_tls_ciphers, "round trip ciphers");
	is_str(cf2.cf_password, "", "password does not round trip");
	config_free(&cf2);
	config_free(&cf);
}

/* [ui] enabled: on by default, off from the file or the environment. */
static void
test_ui(void)
{
	struct config cf;
	char *envp[] = {"REGISTRY_UI_ENABLED=false", NULL};

	is_int(capture_load(&cf, "does-not-exist.conf", 0, NULL), 0,
	    "[ui] defaults load");
	is_int(cf.cf_ui_enabled, 1, "the web interface is on by default");
	config_free(&cf);
	is_int(load(&cf, "[ui]\nenabled = false\n", NULL), 0, "[ui] section");
	is_int(cf.cf_ui_enabled, 0, "[ui] enabled = false");
	config_free(&cf);
	is_int(load(&cf, "[ui]\nenabled = true\n", envp), 0,
	    "REGISTRY_UI_ENABLED");
	is_str(captured, "", "  a known name: no warning");
	is_int(cf.cf_ui_enabled, 0, "REGISTRY_UI_ENABLED=false beats the file");
	config_free(&cf);
	expect_error("[ui]\nenabled = maybe\n",
	    CONF ":2: enabled: expected true|false|yes|no|on|off|1|0");
}

int
main(void)
{
	char dir[] = "/tmp/registryd-config-XXXXXX";
	char cmd[PATH_MAX];

	if (mkdtemp(dir) == NULL || chdir(dir) == -1) {
		perror("mkdtemp");
		return 2;
	}
	test_defaults();
	test_full_file();
	test_errors();
	test_addr();
	test_debug_addr();
	test_values();
	test_env();
	test_env_headers();
	test_tls_auth();
	test_service();
	test_dump();
	test_ui();
	if (chdir("/") == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return done_testing();
}
