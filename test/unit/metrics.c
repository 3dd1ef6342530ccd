/*
 * Unit tests for metrics.c: the text exposition format (escaping of
 * label values and help text, how numbers are spelt, histogram lines
 * cumulated and ending in +Inf, every sample under its family's TYPE),
 * what a request counts where, and the bounds on series.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/metrics.c"
#include "tap.h"

static char *text;
static size_t textlen;

/* Everything metrics_write writes, in text (freed by the next call). */
static const char *
scrape(void)
{
	FILE *f;

	free(text);
	text = NULL;
	if ((f = open_memstream(&text, &textlen)) == NULL) {
		perror("open_memstream");
		exit(2);
	}
	if (metrics_write(f) == -1)
		printf("# metrics_write failed\n");
	fclose(f);
	return text;
}

/* 1 when line (whole, without its newline) is in s. */
static int
has_line(const char *s, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = s; (p = strstr(p, line)) != NULL; p++)
		if ((p == s || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/*
 * The format's structure: each line is a "# HELP name", a "# TYPE name
 * type" right after its HELP, or a sample of the family last typed
 * (name, name_bucket/_sum/_count for a histogram) with balanced quotes,
 * and no family is typed twice. Returns NULL or what is wrong.
 */
static const char *
check_format(const char *s)
{
	static char why[512];
	char fam[128] = "", type[32] = "", seen[8192] = " ", name[160];
	const char *p = s, *eol, *q;
	size_t n;
	int after_help = 0, inq;

	while (*p != '\0') {
		if ((eol = strchr(p, '\n')) == NULL)
			return "last line without newline";
		if (strncmp(p, "# HELP ", 7) == 0) {
			n = strcspn(p + 7, " \n");
			if (n == 0 || n >= sizeof(fam))
				return "HELP without a name";
			memcpy(fam, p + 7, n);
			fam[n] = '\0';
			snprintf(name, sizeof(name), " %s ", fam);
			if (strstr(seen, name) != NULL) {
				snprintf(why, sizeof(why), "%s twice", fam);
				return why;
			}
			if (strlen(seen) + strlen(name) < sizeof(seen))
				strcat(seen, name + 1);
			after_help = 1;
		} else if (strncmp(p, "# TYPE ", 7) == 0) {
			if (!after_help || strncmp(p + 7, fam, strlen(fam)) != 0 ||
			    p[7 + strlen(fam)] != ' ')
				return "TYPE not after its HELP";
			n = (size_t)(eol - (p + 8 + strlen(fam)));
			if (n >= sizeof(type))
				return "long type";
			memcpy(type, p + 8 + strlen(fam), n);
			type[n] = '\0';
			if (strcmp(type, "counter") != 0 &&
			    strcmp(type, "gauge") != 0 &&
			    strcmp(type, "histogram") != 0)
				return "unknown type";
			after_help = 0;
		} else {
			n = strcspn(p, "{ ");
			if (n >= sizeof(name))
				return "long name";
			memcpy(name, p, n);
			name[n] = '\0';
			if (strcmp(name, fam) != 0 &&
			    !(strcmp(type, "histogram") == 0 &&
			        strncmp(name, fam, strlen(fam)) == 0 &&
			        (strcmp(name + strlen(fam), "_bucket") == 0 ||
			            strcmp(name + strlen(fam), "_sum") == 0 ||
			            strcmp(name + strlen(fam), "_count") == 0))) {
				snprintf(why, sizeof(why), "%s not of %s", name,
				    fam);
				return why;
			}
			q = p + n;
			if (*q == '{') {
				for (inq = 0, q++; q < eol; q++) {
					if (inq && *q == '\\')
						q++;
					else if (*q == '"')
						inq = !inq;
					else if (!inq && *q == '}')
						break;
				}
				if (q >= eol)
					return "unbalanced labels";
				q++;
			}
			if (*q != ' ' || q + 1 >= eol)
				return "no value";
			after_help = 0;
		}
		p = eol + 1;
	}
	return NULL;
}

static void
test_escape(void)
{
	char out[64];
	size_t n;

	n = metrics_escape(out, sizeof(out), "a\\b\"c\nd", 1);
	is_str(out, "a\\\\b\\\"c\\nd", "label value: \\, \" and newline escaped");
	is_int(n, 10, "its length");
	metrics_escape(out, sizeof(out), "say \"hi\"\\\n", 0);
	is_str(out, "say \"hi\"\\\\\\n", "help text keeps double quotes");
	n = metrics_escape(out, 5, "\"\"\"\"", 1);
	is_int(n, 8, "truncated: the length needed");
	is_str(out, "\\\"\\\"", "truncated: terminated, within size");
	metrics_escape(out, sizeof(out), "", 1);
	is_str(out, "", "empty value");
}

static void
test_values(void)
{
	static const struct {
		double v;
		const char *want;
	} t[] = {
	    {0, "0"},
	    {1, "1"},
	    {-3, "-3"},
	    {0.005, "0.005"},
	    {2.5, "2.5"},
	    {1048576, "1048576"},
	    {2147483648.0, "2147483648"},
	    {0.1 + 0.2, "0.30000000000000004"},
	    {1e300, "1e+300"},
	    {18446744073709551615.0, "1.8446744073709552e+19"},
	};
	char out[32];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		metrics_format_value(out, sizeof(out), t[i].v);
		is_str(out, t[i].want, "value %zu", i);
	}
	metrics_format_value(out, sizeof(out), 1.0 / 0.0);
	is_str(out, "+Inf", "+Inf");
	metrics_format_value(out, sizeof(out), -1.0 / 0.0);
	is_str(out, "-Inf", "-Inf");
	metrics_format_value(out, sizeof(out), 0.0 / 0.0);
	is_str(out, "NaN", "NaN");
}

static void
test_sample(void)
{
	const char *l[] = {"a", "x\"y", "b", "back\\slash\n", NULL};
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	metrics_family(f, "t_total", "counter", "Help with \\ and\nnewline.");
	metrics_sample(f, "t_total", l, 42);
	metrics_sample(f, "t_total", NULL, 0.25);
	fclose(f);
	is_str(buf,
	    "# HELP t_total Help with \\\\ and\\nnewline.\n"
	    "# TYPE t_total counter\n"
	    "t_total{a=\"x\\\"y\",b=\"back\\\\slash\\n\"} 42\n"
	    "t_total 0.25\n",
	    "family and samples, escaped");
	ok(check_format(buf) == NULL, "the checker takes it");
	free(buf);
}

static void
test_requests(void)
{
	struct metrics_request r;
	const char *s, *why;

	metrics_reset();
	memset(&r, 0, sizeof(r));
	r.mr_handler = "blob_upload_chunk";
	r.mr_method = "PATCH";
	r.mr_status = 202;
	r.mr_bytes_in = 5000;
	r.mr_usec = 3000; /* 0.003 s */
	metrics_request(&r);
	r.mr_usec = 70000000; /* 70 s */
	r.mr_bytes_in = 3000000000ULL;
	metrics_request(&r);
	r.mr_handler = "manifest";
	r.mr_method = "HEAD";
	r.mr_status = 404;
	r.mr_bytes_in = 0;
	r.mr_bytes_out = 0;
	r.mr_usec = 100;
	metrics_request(&r);
	r.mr_handler = NULL;
	r.mr_method = "PROPFIND";
	r.mr_status = 499;
	metrics_request(&r);
	metrics_in_flight("blob", 1);
	metrics_in_flight("blob", 1);
	metrics_in_flight("blob", -1);
	metrics_connections(3);
	metrics_connections(-1);
	metrics_auth_failure(METRICS_AUTH_MISSING);
	metrics_auth_failure(METRICS_AUTH_INVALID);
	metrics_auth_failure(METRICS_AUTH_INVALID);

	s = scrape();
	why = check_format(s);
	ok(why == NULL, "well formed%s%s", why ? ": " : "", why ? why : "");
	ok(has_line(s, "registry_http_requests_total{code=\"202\",handler="
	                "\"blob_upload_chunk\",method=\"patch\"} 2"),
	    "requests by code, handler, method (lower case)");
	ok(has_line(s, "registry_http_requests_total{code=\"404\",handler="
	                "\"manifest\",method=\"head\"} 1"),
	    "a HEAD is a head");
	ok(has_line(s, "registry_http_requests_total{code=\"499\",handler="
	                "\"other\",method=\"other\"} 1"),
	    "no handler and an odd method: other, other");
	ok(strstr(s, "PROPFIND") == NULL, "the odd method never a label");
	ok(has_line(s, "registry_http_request_duration_seconds_bucket{handler="
	                "\"blob_upload_chunk\",method=\"patch\",le=\"0.0025\"} "
	                "0") == 0,
	    "no bucket that is not a bound");
	ok(has_line(s, "registry_http_request_duration_seconds_bucket{handler="
	                "\"blob_upload_chunk\",method=\"patch\",le=\"0.005\"} 1"),
	    "3 ms in the 5 ms bucket");
	ok(has_line(s, "registry_http_request_duration_seconds_bucket{handler="
	                "\"blob_upload_chunk\",method=\"patch\",le=\"60\"} 1"),
	    "70 s not in the 60 s bucket");
	ok(has_line(s, "registry_http_request_duration_seconds_bucket{handler="
	                "\"blob_upload_chunk\",method=\"patch\",le=\"300\"} 2"),
	    "but in the 300 s one (cumulated)");
	ok(has_line(s, "registry_http_request_duration_seconds_bucket{handler="
	                "\"blob_upload_chunk\",method=\"patch\",le=\"+Inf\"} 2"),
	    "+Inf holds them all");
	ok(has_line(s, "registry_http_request_duration_seconds_sum{handler="
	                "\"blob_upload_chunk\",method=\"patch\"} 70.003"),
	    "duration sum in seconds");
	ok(has_line(s, "registry_http_request_duration_seconds_count{handler="
	                "\"blob_upload_chunk\",method=\"patch\"} 2"),
	    "duration count");
	ok(has_line(s, "registry_http_request_size_bytes_bucket{handler="
	                "\"blob_upload_chunk\",le=\"8192\"} 1"),
	    "5000 bytes in the 8 KiB bucket");
	ok(has_line(s, "registry_http_request_size_bytes_bucket{handler="
	                "\"blob_upload_chunk\",le=\"2147483648\"} 1"),
	    "3 GB above the last bound");
	ok(has_line(s, "registry_http_request_size_bytes_bucket{handler="
	                "\"blob_upload_chunk\",le=\"+Inf\"} 2"),
	    "size +Inf");
	ok(has_line(s, "registry_http_request_size_bytes_sum{handler="
	                "\"blob_upload_chunk\"} 3000005000"),
	    "bytes in: the sum");
	ok(has_line(s, "registry_http_in_flight_requests{handler=\"blob\"} 1"),
	    "in flight");
	ok(has_line(s, "registry_http_in_flight_requests{handler=\"other\"} 0"),
	    "other is always listed");
	ok(has_line(s, "registryd_http_connections 2"), "connections");
	ok(has_line(s, "registryd_auth_failures_total{reason=\"invalid\"} 2"),
	    "auth failures by reason");
	ok(has_line(s, "registryd_auth_failures_total{reason=\"limited\"} 0"),
	    "every reason listed");
	ok(strstr(s, "registryd_metrics_dropped_total") == NULL,
	    "nothing dropped, not listed");
	ok(strstr(s, "handler=\"blob\",method") == NULL,
	    "no duration series for a handler without requests");
	ok(strstr(s, "\"blob_upload_chunk\"") < strstr(s, "\"manifest\"") &&
	        strstr(s, "\"manifest\"") < strstr(s, "handler=\"other\""),
	    "series in handler order");
}

static void
test_bounds(void)
{
	static char names[METRICS_HANDLERS + 5][16];
	struct metrics_request r;
	const char *s;
	int i;

	metrics_reset();
	memset(&r, 0, sizeof(r));
	r.mr_method = "GET";
	r.mr_status = 200;
	for (i = 0; i < METRICS_HANDLERS + 5; i++) {
		snprintf(names[i], sizeof(names[i]), "h%02d", i);
		r.mr_handler = names[i];
		metrics_request(&r);
	}
	s = scrape();
	ok(has_line(s, "registry_http_requests_total{code=\"200\",handler="
	                "\"h30\",method=\"get\"} 1"),
	    "handlers up to the table size");
	ok(strstr(s, "\"h31\"") == NULL, "none beyond");
	ok(has_line(s, "registry_http_requests_total{code=\"200\",handler="
	                "\"other\",method=\"get\"} 6"),
	    "the rest count as other");

	metrics_reset();
	r.mr_handler = "blob";
	for (i = 0; i < METRICS_SERIES + 10; i++) {
		r.mr_method = metrics_methods[i % MM_N];
		r.mr_status = 100 + i / MM_N;
		metrics_request(&r);
	}
	s = scrape();
	ok(has_line(s, "registryd_metrics_dropped_total 10"),
	    "triples beyond the table are counted as dropped");
	ok(check_format(s) == NULL, "still well formed");
	ok(has_line(s, "registry_http_request_duration_seconds_count{handler="
	                "\"blob\",method=\"get\"} 258"),
	    "dropped requests still have their duration");
}

/* The start time is the wall clock when main recorded it, no /proc. */
static void
test_start_time(void)
{
	struct timespec before, after;
	double t;

	ok(metrics_start_time() == 0, "no start time before it is recorded");
	clock_gettime(CLOCK_REALTIME, &before);
	metrics_process_started();
	clock_gettime(CLOCK_REALTIME, &after);
	t = metrics_start_time();
	ok(t >= (double)before.tv_sec && t <= (double)after.tv_sec + 1,
	    "start time is the wall clock when recorded");
}

int
main(void)
{
	test_escape();
	test_values();
	test_sample();
	test_requests();
	test_bounds();
	test_start_time();
	free(text);
	done_testing();
}
