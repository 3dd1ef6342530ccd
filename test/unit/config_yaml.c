/*
 * Unit tests for config_yaml.c through config_load: registry:2's
 * config.yml files as they ship and as the guides write them, the exact
 * text of every verdict (the same as the REGISTRY_* variable would get,
 * with file, line and key), what libyaml refuses, and the bounds of the
 * walk. Runs in a throw-away directory so that messages name "c.yml".
 */

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config_fixture.h"
#include "tap.h"

#include "../../src/config_yaml.c"

#include "config.h"
#include "log.h"

#define YML "c.yml"

static int
load(struct config *cf, const char *text, char **envp)
{
	put_file(YML, text, strlen(text));
	return capture_load(cf, YML, 1, envp);
}

/* text loads with rv want_rv and exactly the lines msgs on stderr. */
static void
expect(const char *name, const char *text, int want_rv, const char *msgs)
{
	struct config cf;
	int rv;

	rv = load(&cf, text, NULL);
	ok(rv == want_rv && strcmp(captured, msgs) == 0, "%s", name);
	if (rv != want_rv || strcmp(captured, msgs) != 0)
		printf("#   rv %d, stderr \"%s\"\n", rv, captured);
	config_free(&cf);
}

static void
test_sniff(void)
{
	ok(config_yaml_sniff("/etc/docker/registry/config.yml", "", 0),
	    "sniff: .yml");
	ok(config_yaml_sniff("x.YAML", "[http]\n", 7), "sniff: .YAML");
	ok(!config_yaml_sniff("registryd.conf", "[http]\n", 7),
	    "sniff: [section]");
	ok(!config_yaml_sniff("r.conf", "# c\n\naddr = :5000\n", 18),
	    "sniff: key = value");
	ok(config_yaml_sniff("r.conf", "# c\n\nversion: 0.1\n", 17),
	    "sniff: key: value after a comment");
	ok(config_yaml_sniff("r", "\xef\xbb\xbfhttp:\n  addr: :5000\n", 24),
	    "sniff: BOM, then key:");
	ok(config_yaml_sniff("r", "---\n", 4), "sniff: ---");
	ok(config_yaml_sniff("r", "%YAML 1.1\n", 10), "sniff: directive");
	ok(!config_yaml_sniff("r", "addr:5000\n", 10),
	    "sniff: no blank after the colon");
	ok(!config_yaml_sniff("r", "", 0), "sniff: empty");
	ok(!config_yaml_sniff("a.yml/x", "", 0), "sniff: .yml directory");
}

/* The config.yml of the registry:2 image (2.8) and of Debian's package. */
static void
test_stock(void)
{
	struct config cf;
	int rv;

	rv = load(&cf,
	    "version: 0.1\n"
	    "log:\n"
	    "  fields:\n"
	    "    service: registry\n"
	    "storage:\n"
	    "  cache:\n"
	    "    blobdescriptor: inmemory\n"
	    "  filesystem:\n"
	    "    rootdirectory: /var/lib/registry\n"
	    "http:\n"
	    "  addr: :5000\n"
	    "  headers:\n"
	    "    X-Content-Type-Options: [nosniff]\n"
	    "health:\n"
	    "  storagedriver:\n"
	    "    enabled: true\n"
	    "    interval: 10s\n"
	    "    threshold: 3\n",
	    NULL);
	is_int(rv, 0, "registry:2 image config.yml loads");
	is_str(captured,
	    "c.yml:3: log.fields: warning: not supported by registryd; "
	    "ignored\n"
	    "c.yml:14: health: warning: not supported by registryd; "
	    "ignored\n",
	    "two warnings, once per setting, at its line");
	is_str(cf.cf_addr, ":5000", "addr");
	is_str(cf.cf_root, "/var/lib/registry", "rootdirectory");
	is_str(header(&cf, "X-Content-Type-Options"), "nosniff", "header list");
	is_int(cf.cf_nheaders, 1, "one header");
	config_free(&cf);

	rv = load(&cf,
	    "version: 0.1\n"
	    "log:\n"
	    "  fields:\n"
	    "    service: registry\n"
	    "storage:\n"
	    "  cache:\n"
	    "    blobdescriptor: inmemory\n"
	    "  filesystem:\n"
	    "    rootdirectory: /var/lib/docker-registry\n"
	    "  delete:\n"
	    "    enabled: true\n"
	    "http:\n"
	    "  addr: :5000\n"
	    "  headers:\n"
	    "    X-Content-Type-Options: [nosniff]\n"
	    "auth:\n"
	    "  htpasswd:\n"
	    "    realm: basic-realm\n"
	    "    path: /etc/docker/registry\n"
	    "health:\n"
	    "  storagedriver:\n"
	    "    enabled: true\n"
	    "    interval: 10s\n"
	    "    threshold: 3\n",
	    NULL);
	is_int(rv, 0, "Debian docker-registry config.yml loads");
	is_str(cf.cf_root, "/var/lib/docker-registry", "Debian rootdirectory");
	is_int(cf.cf_delete_enabled, 1, "storage.delete.enabled");
	is_str(cf.cf_htpasswd, "/etc/docker/registry", "auth.htpasswd.path");
	is_str(cf.cf_realm, "basic-realm", "auth.htpasswd.realm");
	config_free(&cf);

	/* The newer image's file: debug server, tag concurrency, level. */
	rv = load(&cf,
	    "version: 0.1\n"
	    "log:\n"
	    "  level: debug\n"
	    "  fields:\n"
	    "    service: registry\n"
	    "    environment: development\n"
	    "storage:\n"
	    "    delete:\n"
	    "      enabled: true\n"
	    "    cache:\n"
	    "        blobdescriptor: inmemory\n"
	    "    filesystem:\n"
	    "        rootdirectory: /var/lib/registry\n"
	    "    tag:\n"
	    "      concurrencylimit: 5\n"
	    "http:\n"
	    "    addr: :5000\n"
	    "    debug:\n"
	    "        addr: :5001\n"
	    "        prometheus:\n"
	    "            enabled: true\n"
	    "            path: /metrics\n"
	    "health:\n"
	    "  storagedriver:\n"
	    "    enabled: true\n"
	    "    interval: 10s\n"
	    "    threshold: 3\n",
	    NULL);
	is_int(rv, 0, "newer image config.yml loads");
	is_int(cf.cf_log_level, LOG_LVL_DEBUG, "log.level");
	is_str(cf.cf_debug_addr, ":5001", "http.debug.addr: the debug listener");
	ok(strstr(captured, "http.debug") == NULL,
	    "http.debug.prometheus taken as it is (path /metrics)");
	config_free(&cf);
}

/* What the guides write: HTTPS, htpasswd, CORS headers for a web UI. */
static void
test_guide(void)
{
	struct config cf;
	char *envp[3];
	int rv;

	rv = load(&cf,
	    "version: 0.1\n"
	    "log:\n"
	    "  level: info\n"
	    "  formatter: text\n"
	    "  accesslog:\n"
	    "    disabled: true\n"
	    "storage:\n"
	    "  filesystem:\n"
	    "    rootdirectory: /srv/registry\n"
	    "  delete:\n"
	    "    enabled: true\n"
	    "  maintenance:\n"
	    "    uploadpurging:\n"
	    "      enabled: true\n"
	    "      age: 72h\n"
	    "      interval: 12h\n"
	    "      dryrun: false\n"
	    "    readonly:\n"
	    "      enabled: false\n"
	    "http:\n"
	    "  addr: 0.0.0.0:443\n"
	    "  secret: 'a shared secret'\n"
	    "  draintimeout: 20s\n"
	    "  headers:\n"
	    "    X-Content-Type-Options: [nosniff]\n"
	    "    Access-Control-Allow-Origin: ['https://ui.example.com']\n"
	    "    Access-Control-Allow-Methods: ['HEAD', 'GET', 'OPTIONS', "
	    "'DELETE']\n"
	    "    Access-Control-Allow-Headers:\n"
	    "      - Authorization\n"
	    "      - Accept\n"
	    "    Access-Control-Max-Age: [1728000]\n"
	    "    Access-Control-Allow-Credentials: [true]\n"
	    "    Strict-Transport-Security: \"max-age=63072000; "
	    "includeSubDomains\"\n"
	    "  tls:\n"
	    "    certificate: /certs/domain.crt\n"
	    "    key: /certs/domain.key\n"
	    "    minimumtls: tls1.3\n"
	    "    clientcas:\n"
	    "      - /certs/ca.pem\n"
	    "    ciphersuites:\n"
	    "      - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
	    "      - TLS_AES_128_GCM_SHA256\n"
	    "auth:\n"
	    "  htpasswd:\n"
	    "    realm: Registry Realm\n"
	    "    path: /auth/htpasswd\n",
	    NULL);
	is_int(rv, 0, "guide config loads");
	is_str(captured, "", "silently");
	is_str(cf.cf_addr, "0.0.0.0:443", "addr");
	is_str(cf.cf_secret, "a shared secret", "quoted secret");
	is_int(cf.cf_drain_timeout, 20, "draintimeout");
	is_int(cf.cf_access_log, 0, "accesslog.disabled: true");
	is_int(cf.cf_upload_purge_age, 72 * 3600, "uploadpurging.age");
	is_int(cf.cf_upload_purge_interval, 12 * 3600,
	    "uploadpurging.interval");
	is_str(cf.cf_tls_cert, "/certs/domain.crt", "tls.certificate");
	is_str(cf.cf_tls_key, "/certs/domain.key", "tls.key");
	is_str(cf.cf_tls_client_ca, "/certs/ca.pem", "tls.clientcas of one");
	is_str(cf.cf_tls_ciphers, "ECDHE-RSA-AES128-GCM-SHA256",
	    "Go cipher names mapped");
	is_str(cf.cf_htpasswd, "/auth/htpasswd", "htpasswd path");
	is_str(cf.cf_realm, "Registry Realm", "realm");
	is_str(header(&cf, "Access-Control-Allow-Methods"),
	    "HEAD, GET, OPTIONS, DELETE", "flow list joined");
	is_str(header(&cf, "Access-Control-Allow-Headers"),
	    "Authorization, Accept", "block list joined");
	is_str(header(&cf, "Access-Control-Max-Age"), "1728000",
	    "number in a list");
	is_str(header(&cf, "Strict-Transport-Security"),
	    "max-age=63072000; includeSubDomains", "scalar header value");
	config_free(&cf);

	/* The environment still wins over the file. */
	envp[0] = "REGISTRY_HTTP_ADDR=127.0.0.1:5999";
	envp[1] = "REGISTRY_STORAGE_DELETE_ENABLED=false";
	envp[2] = NULL;
	rv = load(&cf,
	    "http:\n  addr: :5000\nstorage:\n  delete:\n    enabled: true\n",
	    envp);
	is_int(rv, 0, "file and environment");
	is_str(cf.cf_addr, "127.0.0.1:5999", "REGISTRY_HTTP_ADDR wins");
	is_int(cf.cf_delete_enabled, 0, "REGISTRY_STORAGE_DELETE_ENABLED wins");
	config_free(&cf);

	/* registryd's own settings, under the path of their env name. */
	rv = load(&cf, "http:\n  max_connections: 77\n", NULL);
	is_int(rv, 0, "registryd key by its env path");
	is_int(cf.cf_max_connections, 77, "http.max_connections");
	config_free(&cf);

	expect("empty document", "---\n", 0, "");
	expect("comments only", "# nothing\n", 0, "");
}

/* Every refusal names file, line and key; the same text as the env's. */
static void
test_verdicts(void)
{
	expect("s3 driver",
	    "storage:\n  s3:\n    bucket: reg-bucket\n    region: r\n"
	    "    accesskey: a\n    secretkey: s\n    encrypt: false\n"
	    "    storageclass: STANDARD\n",
	    0,
	    "c.yml:2: storage.s3: warning: not supported by registryd's s3 "
	    "driver; ignored\n");
	expect("s3 driver without a bucket",
	    "storage:\n  s3:\n    region: r\n    accesskey: a\n"
	    "    secretkey: s\n",
	    -1,
	    "c.yml: the s3 driver needs [s3] bucket "
	    "(REGISTRY_STORAGE_S3_BUCKET)\n");
	expect("inmemory driver with no value", "storage:\n  inmemory:\n", -1,
	    "c.yml:2: storage.inmemory: only the filesystem and s3 storage "
	    "drivers are supported by registryd; refusing to start\n");
	expect("token auth",
	    "auth:\n  token:\n    realm: https://auth/token\n"
	    "    service: s\n",
	    -1,
	    "c.yml:2: auth.token: only htpasswd authentication is supported by "
	    "registryd; refusing to serve an unprotected registry\n");
	expect("proxy, reported once for the section",
	    "version: 0.1\nproxy:\n  remoteurl: https://registry-1.docker.io\n"
	    "  username: u\n  password: p\n",
	    -1,
	    "c.yml:2: proxy: pull-through proxy is not supported by "
	    "registryd; refusing to start\n");
	expect("middleware (a list of mappings)",
	    "middleware:\n  registry:\n    - name: cloudfront\n", -1,
	    "c.yml:1: middleware: middleware is not supported by registryd; "
	    "refusing to start\n");
	expect("letsencrypt",
	    "http:\n  tls:\n    letsencrypt:\n      cachefile: /c\n", -1,
	    "c.yml:3: http.tls.letsencrypt: Let's Encrypt is not supported by "
	    "registryd: get the certificate with an ACME client and set "
	    "certificate= and key=; refusing to serve a plain HTTP "
	    "registry\n");
	expect("unix listener", "http:\n  net: unix\n  addr: /run/r.sock\n", -1,
	    "c.yml:2: http.net: only tcp listeners are supported by "
	    "registryd; refusing to start\n"
	    "c.yml:3: http.addr: expected [host]:port, such as :5000, "
	    "127.0.0.1:5000 or [::1]:5000\n");
	expect("tcp listener and prefix /", "http:\n  net: tcp\n  prefix: /\n",
	    0, "");
	expect("read-only mode (honoured)",
	    "storage:\n  maintenance:\n    readonly:\n      enabled: true\n",
	    0, "");
	expect("notifications warned once",
	    "notifications:\n  events:\n    includereferences: true\n"
	    "  endpoints:\n    - name: alistener\n      url: https://x\n",
	    0,
	    "c.yml:1: notifications: warning: notifications are not "
	    "supported by registryd; no events will be sent\n");
	expect("unknown keys warned each",
	    "htp:\n  adr: :5000\nfoo: 1\n", 0,
	    "c.yml:1: htp: warning: unknown setting, ignored\n"
	    "c.yml:3: foo: warning: unknown setting, ignored\n");
	expect("bad value", "log:\n  level: loud\n", -1,
	    "c.yml:2: log.level: expected error|warn|info|debug\n");
	expect("a mapping where a value goes", "http:\n  addr:\n    a: 1\n", -1,
	    "c.yml:2: http.addr: expected a value, not a mapping\n");
	expect("a list of mappings where a value goes",
	    "http:\n  secret:\n    - a: 1\n", -1,
	    "c.yml:2: http.secret: expected a value, not a list of "
	    "mappings\n");
	expect("headers as a scalar", "http:\n  headers: nosniff\n", -1,
	    "c.yml:2: http.headers: expected header names, each with a list "
	    "of values\n");
	expect("a reserved header", "http:\n  headers:\n    Location: [x]\n",
	    -1,
	    "c.yml:3: http.headers.Location: header Location is set by "
	    "registryd itself\n");
	expect("two client CAs",
	    "http:\n  tls:\n    clientcas: [/a.pem, /b.pem]\n", -1,
	    "c.yml:3: http.tls.clientcas: only one file is supported; "
	    "concatenate the PEM files into one\n");
	expect("environment-only key", "username: alice\n", -1,
	    "c.yml:1: username: only from the environment "
	    "(REGISTRY_USERNAME), not from a file\n");
	expect("one setting under two names",
	    "http:\n  draintimeout: 5s\n  drain_timeout: 6s\n", -1,
	    "c.yml:3: http.drain_timeout: set twice (also on line 2)\n");
	expect("certificate without key",
	    "http:\n  tls:\n    certificate: /c.pem\n", -1,
	    "c.yml: [tls] certificate and key go together\n");
	expect("htpasswd auth without a path",
	    "auth:\n  htpasswd:\n    realm: r\n", -1,
	    "REGISTRY_AUTH: htpasswd needs REGISTRY_AUTH_HTPASSWD_PATH; "
	    "refusing to serve an unprotected registry\n");
}

/* What is no usable YAML at all. */
static void test_hostile_size(void);

static void
test_structure(void)
{
	char big[4096];
	size_t o = 0;
	int i;

	expect("syntax error", "http:\n  addr: :5000\n x: [\n", -1,
	    "c.yml:3: YAML: did not find expected key while parsing a block "
	    "mapping\n");
	expect("duplicate key", "http:\n  addr: :1\n  Addr: :2\n", -1,
	    "c.yml:3: duplicate key 'http.Addr' (first at line 2)\n");
	expect("duplicate header, any case",
	    "http:\n  headers:\n    X-A: [a]\n    x-a: [b]\n", -1,
	    "c.yml:4: duplicate key 'http.headers.x-a' (first at line 3)\n");
	expect("merge key",
	    "base: &b\n  addr: :1\nhttp:\n  <<: *b\n", -1,
	    "c.yml:4: http: YAML merge keys (<<) are not supported; write the "
	    "keys out\n");
	expect("a list at the top", "- a\n- b\n", -1,
	    "c.yml:1: expected registry:2's settings (version:, http:, "
	    "storage:, ...) at the top\n");
	expect("a mapping as a key", "? {a: 1}\n: x\n", -1,
	    "c.yml:1: a key must be a non-empty string\n");
	expect("NUL in a value", "http:\n  secret: \"a\\0b\"\n", -1,
	    "c.yml:2: http.secret: NUL byte in a value\n");
	expect("both quotes in a list item",
	    "http:\n  headers:\n    X-A: [\"a'b\\\"c\"]\n", -1,
	    "c.yml:3: http.headers.X-A: a list item may hold \" or ', not "
	    "both\n");
	expect("a node inside itself", "a: &x\n  b: *x\n", -1,
	    "c.yml:1: a.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b: nested deeper than 16 "
	    "levels\n");

	/* A billion laughs: each level names the one before ten times. */
	o += (size_t)snprintf(big + o, sizeof(big) - o, "l0: &l0 [x]\n");
	for (i = 1; i < 9; i++) {
		o += (size_t)snprintf(big + o, sizeof(big) - o,
		    "l%d: &l%d\n", i, i);
		for (int j = 0; j < 10; j++)
			o += (size_t)snprintf(big + o, sizeof(big) - o,
			    "  k%d: *l%d\n", j, i - 1);
	}
	expect("alias expansion is bounded", big, -1,
	    "c.yml:1: more than 100000 items (aliases count each time they "
	    "are used)\n");
	test_hostile_size();
}

/*
 * What libyaml and the walk would take time for that grows faster than
 * the file: 20000 nested flow sequences (libyaml's scanner is quadratic
 * in the nesting: 2.7 s, and the file was then accepted), and a mapping
 * of 20000 keys with a duplicate at its end (each key compared with
 * every earlier one: 5 s). CPU time, so that a loaded machine does not
 * fail it.
 */
static void
test_hostile_size(void)
{
	char *text, msg[128];
	size_t o = 0, size = 512 * 1024;
	clock_t t0;
	int i, n = 20000;

	if ((text = malloc(size)) == NULL)
		exit(2);
	o += (size_t)snprintf(text + o, size - o, "x: ");
	for (i = 0; i < n; i++)
		text[o++] = '[';
	for (i = 0; i < n; i++)
		text[o++] = ']';
	text[o++] = '\n';
	text[o] = '\0';
	t0 = clock();
	expect("deep nesting is refused while parsing", text, -1,
	    "c.yml:1: YAML: nested deeper than 64 levels\n");
	ok(clock() - t0 < CLOCKS_PER_SEC, "... at once (%.2f s of CPU)",
	    (double)(clock() - t0) / CLOCKS_PER_SEC);

	o = (size_t)snprintf(text, size, "notes:\n");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, size - o, "  k%d: 0\n", i);
	o += (size_t)snprintf(text + o, size - o, "  K0: 1\n");
	snprintf(msg, sizeof(msg),
	    "c.yml:%d: duplicate key 'notes.K0' (first at line 2)\n", n + 2);
	t0 = clock();
	expect("a duplicate among 20000 keys", text, -1, msg);
	ok(clock() - t0 < CLOCKS_PER_SEC, "... at once (%.2f s of CPU)",
	    (double)(clock() - t0) / CLOCKS_PER_SEC);

	/* The first duplicate in document order is the one reported. */
	expect("two duplicates: the first one",
	    "http:\n  b: 1\n  a: 1\n  A: 2\n  B: 2\n", -1,
	    "c.yml:4: duplicate key 'http.A' (first at line 3)\n");
	free(text);
}

int
main(void)
{
	char dir[] = "/tmp/registryd-config-yaml-XXXXXX";
	char cmd[PATH_MAX];

	if (mkdtemp(dir) == NULL || chdir(dir) == -1) {
		perror("mkdtemp");
		return 2;
	}
	test_sniff();
	test_stock();
	test_guide();
	test_verdicts();
	test_structure();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (chdir("/") == -1 || system(cmd) != 0)
		perror("cleanup");
	return done_testing();
}
