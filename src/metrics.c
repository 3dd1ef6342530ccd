/*
 * metrics.c: the counters behind GET /metrics and the Prometheus text
 * exposition format (version 0.0.4).
 *
 * The HTTP layer reports every request once, when its access line is
 * written (the response has left, or the connection closed first), with
 * the route name the dispatcher gave it; the server reports connections,
 * access.c authentication failures. Everything is counted on the event
 * loop, so nothing here is locked.
 *
 * Memory is fixed: at most METRICS_HANDLERS route names (the router has
 * a dozen) and METRICS_SERIES (handler, method, status) triples. The
 * names are the router's, never a repository, so the series a client
 * can make are bounded by the route table, the eight methods and the
 * statuses the server sends. A triple beyond the table is not counted
 * but is itself counted (registryd_metrics_dropped_total, written only
 * once it is not 0).
 *
 * registry:2's names and labels are kept for what it also measures
 * (registry_http_*, method in lower case, the same duration buckets), so
 * a registry:2 dashboard reads registryd as it is. Differences: the size
 * histograms count body bytes, the duration runs until the last byte of
 * the response has left, and a request whose client went away before any
 * answer is counted with code 499.
 */
#include <math.h> /* isnan, isinf: macros, no libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "metrics.h"

#define METRICS_HANDLERS 32   /* distinct handler labels */
#define METRICS_SERIES   2048 /* distinct (handler, method, code) */

/* Request methods, as registry:2 labels them (lower case). */
enum metrics_method {
	MM_GET,
	MM_HEAD,
	MM_PUT,
	MM_POST,
	MM_PATCH,
	MM_DELETE,
	MM_OPTIONS,
	MM_OTHER,
	MM_N,
};

static const char *const metrics_methods[MM_N] = {"get", "head", "put", "post",
    "patch", "delete", "options", "other"};

/*
 * Upper bounds of the duration buckets: registry:2's (go-metrics'
 * defaults), then 300 s, since a large layer takes minutes to push.
 */
static const double metrics_duration_le[] = {0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 300};
#define METRICS_DURATION_N                                                     \
	(sizeof(metrics_duration_le) / sizeof(metrics_duration_le[0]))

/* Size buckets: registry:2's, 1 KiB doubling to 2 GiB. */
#define METRICS_SIZE_N 22

#define METRICS_BUCKETS_MAX 24 /* the longer of the two, and +Inf */

/*
 * A histogram: mh_bucket[i] counts observations in (le[i-1], le[i]], not
 * cumulated; the last counts those above every bound. Written cumulated.
 */
struct metrics_hist {
	uint64_t mh_bucket[METRICS_BUCKETS_MAX];
	uint64_t mh_count;
	double mh_sum;
};

/* The requests of one (handler, method, code). */
struct metrics_count {
	uint8_t mc_handler; /* index into mt.handlers */
	uint8_t mc_method;  /* enum metrics_method */
	uint16_t mc_code;
	uint64_t mc_n;
};

static struct {
	const char *handlers[METRICS_HANDLERS]; /* [0] is "other" */
	int nhandlers;
	struct metrics_count counts[METRICS_SERIES];
	size_t ncounts;
	uint64_t dropped;
	struct metrics_hist duration[METRICS_HANDLERS][MM_N];
	struct metrics_hist req_size[METRICS_HANDLERS];
	struct metrics_hist resp_size[METRICS_HANDLERS];
	int64_t in_flight[METRICS_HANDLERS];
	int64_t connections;
	uint64_t auth[METRICS_AUTH_NREASONS];
	double started; /* metrics_process_started; 0: not called */
} mt;

static const char *const metrics_auth_reasons[METRICS_AUTH_NREASONS] = {
    [METRICS_AUTH_MISSING] = "missing",
    [METRICS_AUTH_INVALID] = "invalid",
    [METRICS_AUTH_LIMITED] = "limited",
};

static int metrics_handler(const char *);
static enum metrics_method metrics_method(const char *);
static double metrics_size_le(size_t);
static void
metrics_observe(struct metrics_hist *, double, size_t, double (*)(size_t));
static double metrics_duration_bound(size_t);
static void metrics_write_hist(FILE *, const char *, const char *const *,
    const struct metrics_hist *, size_t, double (*)(size_t));
static int metrics_handler_cmp(const void *, const void *);
static int metrics_count_cmp(const void *, const void *);

/* ----------------------------------------------------------------------
 * Counting
 */

/*
 * The index of handler name h, added on first use. Names are constants,
 * so a pointer match is the usual case. A name beyond the table counts
 * as "other".
 */
static int
metrics_handler(const char *h)
{
	int i;

	if (mt.nhandlers == 0) {
		mt.handlers[0] = METRICS_HANDLER_OTHER;
		mt.nhandlers = 1;
	}
	if (h == NULL || *h == '\0')
		return 0;
	/* Pointers first: a strcmp per other name was 3 a request. */
	for (i = 0; i < mt.nhandlers; i++)
		if (mt.handlers[i] == h)
			return i;
	for (i = 0; i < mt.nhandlers; i++)
		if (strcmp(mt.handlers[i], h) == 0)
			return i;
	if (mt.nhandlers == METRICS_HANDLERS)
		return 0;
	mt.handlers[mt.nhandlers] = h;
	return mt.nhandlers++;
}

static enum metrics_method
metrics_method(const char *m)
{
	int i;

	if (m == NULL)
		return MM_OTHER;
	for (i = 0; i < MM_OTHER; i++)
		if (strcasecmp(m, metrics_methods[i]) == 0)
			return (enum metrics_method)i;
	return MM_OTHER;
}

/* The upper bound of size bucket i: 1 KiB << i. */
static double
metrics_size_le(size_t i)
{
	return (double)(1024ULL << i);
}

static double
metrics_duration_bound(size_t i)
{
	return metrics_duration_le[i];
}

/* Add v to h, whose n bounds le(0..n-1) ascend. */
static void
metrics_observe(struct metrics_hist *h, double v, size_t n,
    double (*le)(size_t))
{
	size_t i;

	for (i = 0; i < n && v > le(i); i++)
		;
	h->mh_bucket[i]++;
	h->mh_count++;
	h->mh_sum += v;
}

/* metrics_request: count a finished request. */
void
metrics_request(const struct metrics_request *mr)
{
	int h = metrics_handler(mr->mr_handler);
	enum metrics_method m = metrics_method(mr->mr_method);
	uint16_t code =
	    (uint16_t)(mr->mr_status > 0 && mr->mr_status < 1000 ? mr->mr_status
	                                                         : 0);
	size_t i;

	for (i = 0; i < mt.ncounts; i++)
		if (mt.counts[i].mc_handler == h &&
		    mt.counts[i].mc_method == m && mt.counts[i].mc_code == code)
			break;
	if (i == mt.ncounts) {
		if (mt.ncounts == METRICS_SERIES)
			mt.dropped++;
		else {
			mt.counts[i].mc_handler = (uint8_t)h;
			mt.counts[i].mc_method = (uint8_t)m;
			mt.counts[i].mc_code = code;
			mt.counts[i].mc_n = 0;
			mt.ncounts++;
		}
	}
	if (i < mt.ncounts)
		mt.counts[i].mc_n++;
	metrics_observe(&mt.duration[h][m], (double)mr->mr_usec / 1e6,
	    METRICS_DURATION_N, metrics_duration_bound);
	metrics_observe(&mt.req_size[h], (double)mr->mr_bytes_in,
	    METRICS_SIZE_N, metrics_size_le);
	metrics_observe(&mt.resp_size[h], (double)mr->mr_bytes_out,
	    METRICS_SIZE_N, metrics_size_le);
}

/* metrics_in_flight: requests of handler started (+1) or ended (-1). */
void
metrics_in_flight(const char *handler, int delta)
{
	mt.in_flight[metrics_handler(handler)] += delta;
}

/* metrics_process_started: now, as the process's start. */
void
metrics_process_started(void)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) == 0)
		mt.started = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* metrics_start_time: see metrics.h. */
double
metrics_start_time(void)
{
	return mt.started;
}

/* metrics_connections: connections opened (+1) or closed (-1). */
void
metrics_connections(int delta)
{
	mt.connections += delta;
}

/* metrics_auth_failure: one refusal for reason r. */
void
metrics_auth_failure(enum metrics_auth_reason r)
{
	if ((unsigned int)r < METRICS_AUTH_NREASONS)
		mt.auth[r]++;
}

/* metrics_reset: forget everything (unit tests). */
void
metrics_reset(void)
{
	memset(&mt, 0, sizeof(mt));
}

/* ----------------------------------------------------------------------
 * The text format
 */

/*
 * metrics_escape: s escaped into out[size] (always terminated when size
 * > 0): backslash and newline, and for a label value the double quote.
 * Returns the escaped length, which may exceed size - 1.
 */
size_t
metrics_escape(char *out, size_t size, const char *s, int label)
{
	size_t n = 0;
	const char *rep;
	char one[2] = {0, 0};

	for (; *s != '\0'; s++) {
		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (*s == '"' && label)
			rep = "\\\"";
		else {
			one[0] = *s;
			rep = one;
		}
		for (; *rep != '\0'; rep++, n++)
			if (n + 1 < size)
				out[n] = *rep;
	}
	if (size > 0)
		out[n < size ? n : size - 1] = '\0';
	return n;
}

/*
 * metrics_format_value: the shortest of %.15g, %.16g and %.17g that
 * reads back as v (Go's strconv 'g' -1 gives the same numbers, which is
 * what registry:2 writes), integers in plain digits, and the format's
 * spellings of the infinities and NaN.
 */
void
metrics_format_value(char *out, size_t size, double v)
{
	int prec;

	if (isnan(v)) {
		snprintf(out, size, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Integers up to 2^53 are exact in a double. */
	if (v > -9007199254740992.0 && v < 9007199254740992.0 &&
	    v == (double)(long long)v) {
		snprintf(out, size, "%lld", (long long)v);
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(out, size, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
	snprintf(out, size, "%.17g", v);
}

/* metrics_family: the HELP and TYPE lines of a family. */
void
metrics_family(FILE *f, const char *name, const char *type, const char *help)
{
	char esc[512];

	metrics_escape(esc, sizeof(esc), help, 0);
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, esc, name, type);
}

/* metrics_sample: one sample line; labels: name, value, ..., NULL. */
void
metrics_sample(FILE *f, const char *name, const char *const *labels,
    double value)
{
	char esc[256], num[32];
	size_t i;

	fputs(name, f);
	if (labels != NULL && labels[0] != NULL) {
		fputc('{', f);
		for (i = 0; labels[i] != NULL && labels[i + 1] != NULL;
		     i += 2) {
			metrics_escape(esc, sizeof(esc), labels[i + 1], 1);
			fprintf(f, "%s%s=\"%s\"", i > 0 ? "," : "", labels[i],
			    esc);
		}
		fputc('}', f);
	}
	metrics_format_value(num, sizeof(num), value);
	fprintf(f, " %s\n", num);
}

/*
 * The lines of one histogram series: name_bucket with each bound as le
 * (cumulated counts, then +Inf), name_sum, name_count. labels as in
 * metrics_sample, at most 4 pairs.
 */
static void
metrics_write_hist(FILE *f, const char *name, const char *const *labels,
    const struct metrics_hist *h, size_t n, double (*le)(size_t))
{
	const char *l[12];
	char bname[128], le_s[32];
	uint64_t cum = 0;
	size_t k, i;

	for (k = 0; k < 8 && labels[k] != NULL; k++)
		l[k] = labels[k];
	l[k] = "le";
	l[k + 1] = le_s;
	l[k + 2] = NULL;
	snprintf(bname, sizeof(bname), "%s_bucket", name);
	for (i = 0; i <= n; i++) {
		cum += h->mh_bucket[i];
		if (i < n)
			metrics_format_value(le_s, sizeof(le_s), le(i));
		else
			snprintf(le_s, sizeof(le_s), "+Inf");
		metrics_sample(f, bname, l, (double)cum);
	}
	l[k] = NULL;
	snprintf(bname, sizeof(bname), "%s_sum", name);
	metrics_sample(f, bname, l, h->mh_sum);
	snprintf(bname, sizeof(bname), "%s_count", name);
	metrics_sample(f, bname, l, (double)h->mh_count);
}

/* Order of handler indexes: by name. */
static int
metrics_handler_cmp(const void *a, const void *b)
{
	return strcmp(mt.handlers[*(const int *)a],
	    mt.handlers[*(const int *)b]);
}

/* Order of counts: handler name, method, code. */
static int
metrics_count_cmp(const void *a, const void *b)
{
	const struct metrics_count *x = a, *y = b;
	int c;

	if ((c = strcmp(mt.handlers[x->mc_handler],
	         mt.handlers[y->mc_handler])) != 0)
		return c;
	if (x->mc_method != y->mc_method)
		return x->mc_method < y->mc_method ? -1 : 1;
	return x->mc_code < y->mc_code ? -1 : x->mc_code > y->mc_code;
}

/*
 * metrics_write: every family kept here, series in a stable order
 * (handler name, method, code), so two scrapes compare line by line.
 */
int
metrics_write(FILE *f)
{
	int order[METRICS_HANDLERS], h, m;
	const char *l[7];
	char code[8];
	size_t i;

	(void)metrics_handler(NULL); /* "other" is always listed */
	for (h = 0; h < mt.nhandlers; h++)
		order[h] = h;
	qsort(order, (size_t)mt.nhandlers, sizeof(order[0]),
	    metrics_handler_cmp);
	qsort(mt.counts, mt.ncounts, sizeof(mt.counts[0]), metrics_count_cmp);

	metrics_family(f, "registry_http_requests_total", "counter",
	    "Total number of HTTP requests made.");
	for (i = 0; i < mt.ncounts; i++) {
		snprintf(code, sizeof(code), "%u",
		    (unsigned int)mt.counts[i].mc_code);
		l[0] = "code";
		l[1] = code;
		l[2] = "handler";
		l[3] = mt.handlers[mt.counts[i].mc_handler];
		l[4] = "method";
		l[5] = metrics_methods[mt.counts[i].mc_method];
		l[6] = NULL;
		metrics_sample(f, "registry_http_requests_total", l,
		    (double)mt.counts[i].mc_n);
	}

	metrics_family(f, "registry_http_request_duration_seconds", "histogram",
	    "The HTTP request latencies in seconds, until the last byte of "
	    "the response has left.");
	for (h = 0; h < mt.nhandlers; h++)
		for (m = 0; m < MM_N; m++) {
			if (mt.duration[order[h]][m].mh_count == 0)
				continue;
			l[0] = "handler";
			l[1] = mt.handlers[order[h]];
			l[2] = "method";
			l[3] = metrics_methods[m];
			l[4] = NULL;
			metrics_write_hist(f,
			    "registry_http_request_duration_seconds", l,
			    &mt.duration[order[h]][m], METRICS_DURATION_N,
			    metrics_duration_bound);
		}

	metrics_family(f, "registry_http_request_size_bytes", "histogram",
	    "The HTTP request body sizes in bytes (received).");
	for (h = 0; h < mt.nhandlers; h++) {
		if (mt.req_size[order[h]].mh_count == 0)
			continue;
		l[0] = "handler";
		l[1] = mt.handlers[order[h]];
		l[2] = NULL;
		metrics_write_hist(f, "registry_http_request_size_bytes", l,
		    &mt.req_size[order[h]], METRICS_SIZE_N, metrics_size_le);
	}

	metrics_family(f, "registry_http_response_size_bytes", "histogram",
	    "The HTTP response body sizes in bytes (sent).");
	for (h = 0; h < mt.nhandlers; h++) {
		if (mt.resp_size[order[h]].mh_count == 0)
			continue;
		l[0] = "handler";
		l[1] = mt.handlers[order[h]];
		l[2] = NULL;
		metrics_write_hist(f, "registry_http_response_size_bytes", l,
		    &mt.resp_size[order[h]], METRICS_SIZE_N, metrics_size_le);
	}

	metrics_family(f, "registry_http_in_flight_requests", "gauge",
	    "The in-flight HTTP requests.");
	for (h = 0; h < mt.nhandlers; h++) {
		l[0] = "handler";
		l[1] = mt.handlers[order[h]];
		l[2] = NULL;
		metrics_sample(f, "registry_http_in_flight_requests", l,
		    (double)mt.in_flight[order[h]]);
	}

	metrics_family(f, "registryd_http_connections", "gauge",
	    "Client connections open now, on every listener.");
	metrics_sample(f, "registryd_http_connections", NULL,
	    (double)mt.connections);

	metrics_family(f, "registryd_auth_failures_total", "counter",
	    "Requests refused by authentication: missing (no credentials, "
	    "the challenge every client gets first), invalid (unknown user "
	    "or wrong password), limited (too many failed logins, 429).");
	for (i = 0; i < METRICS_AUTH_NREASONS; i++) {
		l[0] = "reason";
		l[1] = metrics_auth_reasons[i];
		l[2] = NULL;
		metrics_sample(f, "registryd_auth_failures_total", l,
		    (double)mt.auth[i]);
	}

	if (mt.dropped > 0) {
		metrics_family(f, "registryd_metrics_dropped_total", "counter",
		    "Requests not counted in registry_http_requests_total: "
		    "too many distinct label sets.");
		metrics_sample(f, "registryd_metrics_dropped_total", NULL,
		    (double)mt.dropped);
	}
	return ferror(f) ? -1 : 0;
}
