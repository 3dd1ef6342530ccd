/*
 * Unit tests for log.c: JSON lines a log shipper can always parse (quotes,
 * control bytes, broken UTF-8, truncation), the access line in both
 * formats, and the journal's stderr (JOURNAL_STREAM matching stderr's
 * device and inode, not merely set).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../src/log.c"
#include "fixture.h"
#include "tap.h"

#define CAPTURE "log-capture.txt"

static char out[65536];
static struct capture cap;

/* Send stderr to CAPTURE (emptied). */
static void
log_capture_start(void)
{
	capture_start(&cap, 2, CAPTURE);
}

/* Restore stderr; what was written is in out. */
static void
log_capture_end(void)
{
	capture_end(&cap, out, sizeof(out));
}

/* log_json_str alone: s escaped within max bytes. */
static const char *
json_str(const char *s, size_t max)
{
	static char line[LOG_JLINE_MAX];
	size_t off = 0;

	log_json_str(line, sizeof(line), &off, s, max);
	line[off] = '\0';
	return line;
}

/*
 * 1 when s, escaped, is a JSON string that a strict parser (jansson
 * rejects overlong forms, surrogates and code points above U+10FFFF)
 * reads back, and prefix of s is not in it raw.
 */
static int
strict_json(const char *s, const char *prefix)
{
	const char *j = json_str(s, 1000);
	json_error_t e;
	json_t *v;
	int rv;

	if ((v = json_loads(j, JSON_DECODE_ANY, &e)) == NULL) {
		printf("#   not JSON: %s (%s)\n", j, e.text);
		return 0;
	}
	rv = json_is_string(v) && strstr(j, prefix) == NULL;
	json_decref(v);
	return rv;
}

/* Every line of out parses as a JSON object; the last one in *last. */
static int
all_json(json_t **last)
{
	char *line, *save = NULL, *copy = strdup(out);
	json_error_t e;
	json_t *j;
	int n = 0;

	*last = NULL;
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if ((j = json_loads(line, 0, &e)) == NULL || !json_is_object(j)) {
			printf("#   not JSON: %s (%s)\n", line, e.text);
			json_decref(j);
			free(copy);
			return -1;
		}
		json_decref(*last);
		*last = j;
		n++;
	}
	free(copy);
	return n;
}

static void
test_json_str(void)
{
	char big[LOG_JSTR_MAX * 2];

	is_str(json_str("plain", 100), "\"plain\"", "plain string");
	is_str(json_str("a\"b\\c", 100), "\"a\\\"b\\\\c\"", "quote, backslash");
	is_str(json_str("x\ny\tz\x01\x7f", 100),
	    "\"x\\u000ay\\u0009z\\u0001\\u007f\"", "control bytes");
	is_str(json_str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3", 100),
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3\"", "UTF-8 kept");
	is_str(json_str("a\xff" "b\xc0\xaf", 100),
	    "\"a\\ufffdb\\ufffd\\ufffd\"", "invalid bytes: U+FFFD");
	is_str(json_str("end\xc3", 100), "\"end\\ufffd\"",
	    "sequence cut by the end");
	is_str(json_str("\xe2\x82x", 100), "\"\\ufffd\\ufffdx\"",
	    "sequence cut by an ASCII byte");
	/*
	 * Well-formed means the shortest form of a scalar value (Unicode
	 * table 3-7): no overlong forms, no surrogates, nothing above
	 * U+10FFFF. Each byte of a rejected sequence becomes U+FFFD.
	 */
	is_str(json_str("\xe0\x80\xaf", 100), "\"\\ufffd\\ufffd\\ufffd\"",
	    "overlong 3-byte '/': U+FFFD per byte");
	is_str(json_str("\xe0\x9f\xbf", 100), "\"\\ufffd\\ufffd\\ufffd\"",
	    "overlong 3-byte U+07FF");
	is_str(json_str("\xf0\x80\x80\xaf", 100),
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "overlong 4-byte '/'");
	is_str(json_str("\xf0\x8f\xbf\xbf", 100),
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "overlong 4-byte U+FFFF");
	is_str(json_str("\xed\xa0\x80", 100), "\"\\ufffd\\ufffd\\ufffd\"",
	    "surrogate U+D800");
	is_str(json_str("\xed\xbf\xbf", 100), "\"\\ufffd\\ufffd\\ufffd\"",
	    "surrogate U+DFFF");
	is_str(json_str("\xed\xa0\xbd\xed\xb0\xb3", 100),
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"",
	    "surrogate pair (CESU-8)");
	is_str(json_str("\xf4\x90\x80\x80", 100),
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "U+110000, above U+10FFFF");
	is_str(json_str("\xf4\xbf\xbf\xbf", 100),
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "U+13FFFF");
	is_str(json_str("\xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 "
	                "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf",
	        100),
	    "\"\xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 "
	    "\xf4\x8f\xbf\xbf\"",
	    "the boundaries kept: U+0800 U+D7FF U+E000 U+10000 U+10FFFF");
	ok(strict_json("\xe0\x80\xaf\xf0\x80\x80\xaf\xed\xa0\x80\xf4\x90"
	               "\x80\x80\xc0\xaf\xff\xe2\x82",
	       "\xe0\x80\xaf\xf0\x80\x80\xaf\xed\xa0\x80\xf4\x90\x80\x80"),
	    "every escaped form parses as strict JSON (jansson checks "
	    "UTF-8)");
	is_str(json_str("abcdef", 4), "\"abcd\"", "truncated at max");
	is_str(json_str("ab\"cd", 3), "\"ab\"", "no half escape");
	is_str(json_str("a\xe2\x82\xac", 3), "\"a\"", "no half character");
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(strlen(json_str(big, LOG_JSTR_MAX)), LOG_JSTR_MAX + 2,
	    "long string capped");
}

static void
test_json_lines(void)
{
	struct log_request lr = {"127.0.0.1:4242", "PUT",
	    "/v2/a\"b/\xff/manifests/x", 201, 1234, 56, "alice",
	    "sha256:0123", 0};
	char big[LOG_LINE_MAX * 3];
	json_t *j;

	unsetenv("JOURNAL_STREAM");
	log_init(LOG_LVL_DEBUG, 1);
	log_set_format(LOG_FMT_JSON);
	log_capture_start();
	log_info("hello \"%s\"", "world");
	log_warnx("bad\nthing");
	errno = ENOENT;
	log_warn("open %s", "x");
	log_access(&lr);
	log_capture_end();
	is_int(all_json(&j), 4, "four JSON lines");
	if (j != NULL) {
		is_str(json_string_value(json_object_get(j, "msg")),
		    "response completed", "access: msg");
		is_str(json_string_value(json_object_get(j, "level")), "info",
		    "access: level");
		is_str(json_string_value(
			   json_object_get(j, "http.request.method")),
		    "PUT", "access: method");
		is_str(json_string_value(json_object_get(j, "http.request.uri")),
		    "/v2/a\"b/\xef\xbf\xbd/manifests/x",
		    "access: path, broken byte replaced");
		is_int(json_integer_value(
			   json_object_get(j, "http.response.status")),
		    201, "access: status");
		is_int(json_integer_value(
			   json_object_get(j, "http.response.written")),
		    1234, "access: bytes");
		is_str(json_string_value(
			   json_object_get(j, "http.response.duration")),
		    "56ms", "access: duration");
		is_str(json_string_value(json_object_get(j, "auth.user.name")),
		    "alice", "access: user");
		is_str(json_string_value(json_object_get(j, "digest")),
		    "sha256:0123", "access: digest");
		ok(json_object_get(j, "http.response.aborted") == NULL,
		    "access: not aborted, no field");
		json_decref(j);
	}
	ok(strstr(out, "\"level\":\"warning\",\"msg\":\"open x: No such file "
	               "or directory\"") != NULL,
	    "warning with strerror");
	ok(strstr(out, "\"msg\":\"bad\\u000athing\"") != NULL,
	    "newline in a message stays on its line");

	/* A response that did not go out whole. */
	lr.lr_aborted = 1;
	log_capture_start();
	log_access(&lr);
	log_capture_end();
	is_int(all_json(&j), 1, "aborted: one JSON line");
	if (j != NULL) {
		is_str(json_string_value(json_object_get(j, "msg")),
		    "response aborted", "aborted: msg");
		ok(json_is_true(json_object_get(j, "http.response.aborted")),
		    "aborted: http.response.aborted");
		json_decref(j);
	}
	lr.lr_aborted = 0;

	/* A message longer than any line: still one JSON object. */
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	lr.lr_path = big;
	lr.lr_user = NULL;
	lr.lr_digest = "";
	log_capture_start();
	log_info("%s", big);
	log_access(&lr);
	log_capture_end();
	is_int(all_json(&j), 2, "overlong message and path: JSON lines");
	if (j != NULL) {
		ok(json_object_get(j, "auth.user.name") == NULL,
		    "no user: no field");
		ok(json_object_get(j, "digest") == NULL, "no digest: no field");
		json_decref(j);
	}
	log_set_format(LOG_FMT_TEXT);
}

static void
test_text_and_journal(void)
{
	struct log_request lr = {"[::1]:80", "GET", "/v2/", 200, 2, 0, NULL,
	    NULL, 0};
	struct stat st;
	char js[64];

	unsetenv("JOURNAL_STREAM");
	log_capture_start();
	log_init(LOG_LVL_INFO, 1);
	log_access(&lr);
	log_debug("not shown");
	log_capture_end();
	ok(strlen(out) > 25 && out[4] == '-' && out[10] == 'T' &&
	        strstr(out, "Z access: [::1]:80 GET /v2/ 200 2 0ms - -\n") !=
	            NULL,
	    "text: timestamp, then the access line");
	ok(strstr(out, "not shown") == NULL, "debug filtered at info");

	lr.lr_status = 499;
	lr.lr_bytes = 0;
	lr.lr_aborted = 1;
	log_capture_start();
	log_access(&lr);
	log_capture_end();
	ok(strstr(out, " access: [::1]:80 GET /v2/ 499 0 0ms - - aborted\n") !=
	        NULL,
	    "text: an aborted line ends in aborted");
	lr.lr_status = 200;
	lr.lr_bytes = 2;
	lr.lr_aborted = 0;

	/* JOURNAL_STREAM naming the capture file: the journal's stream. */
	log_capture_start();
	if (fstat(2, &st) == -1)
		exit(2);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_init(LOG_LVL_DEBUG, 1);
	log_access(&lr);
	log_warnx("w");
	log_debug("d");
	log_capture_end();
	is_str(out,
	    "<6>access: [::1]:80 GET /v2/ 200 2 0ms - -\n"
	    "<4>warn: w\n"
	    "<7>debug: d\n",
	    "journal: priority prefix, no timestamp");

	/* Set, but for another stream (a child of a service). */
	setenv("JOURNAL_STREAM", "1:2", 1);
	log_capture_start();
	log_init(LOG_LVL_INFO, 1);
	log_warnx("w");
	log_capture_end();
	ok(out[0] != '<' && strstr(out, "Z warn: w\n") != NULL,
	    "JOURNAL_STREAM of another stream: timestamp kept");
	setenv("JOURNAL_STREAM", "garbage", 1);
	log_capture_start();
	log_init(LOG_LVL_INFO, 1);
	log_warnx("w");
	log_capture_end();
	ok(out[0] != '<', "malformed JOURNAL_STREAM: not the journal");
	unsetenv("JOURNAL_STREAM");
	log_init(LOG_LVL_ERROR, 0);
}

int
main(void)
{
	char dir[] = "/tmp/registryd-log-XXXXXX";

	if (mkdtemp(dir) == NULL || chdir(dir) == -1) {
		perror("mkdtemp");
		return 2;
	}
	test_json_str();
	test_json_lines();
	test_text_and_journal();
	unlink(CAPTURE);
	if (chdir("/") == 0)
		rmdir(dir);
	return done_testing();
}
