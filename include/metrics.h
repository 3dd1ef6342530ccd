#ifndef REGISTRYD_METRICS_H
#define REGISTRYD_METRICS_H

#include <stdint.h>
#include <stdio.h>

/*
 * What the server counts for GET /metrics, and the Prometheus text
 * exposition format (version 0.0.4) it answers in. Everything here runs
 * on the event loop: the counters have no locks.
 *
 * The request families carry registry:2's names and labels
 * (registry_http_requests_total{code,handler,method}, ...), so that
 * dashboards and alerts written for registry:2's debug server work
 * unchanged; registryd's own figures are registryd_*. A label only ever
 * holds a value from a small fixed set (a route name, a method, a status
 * code, a reason): never a repository name, tag or digest, which would
 * make one series per image.
 */

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The handler label of a request no route took (404, 400 before routing). */
#define METRICS_HANDLER_OTHER "other"

/* One finished request, counted when its access line is written. */
struct metrics_request {
	const char *mr_handler; /* route name (a constant), NULL: "other" */
	const char *mr_method;  /* the method as sent: "GET" */
	int mr_status;          /* the status sent (499: none was) */
	uint64_t mr_bytes_in;   /* request body bytes received */
	uint64_t mr_bytes_out;  /* response body bytes sent */
	uint64_t mr_usec;       /* from its first byte to the last byte out */
};

/* metrics_request: count a finished request. */
void metrics_request(const struct metrics_request *);
/*
 * metrics_in_flight: a request of handler (a constant; NULL: "other")
 * started (+1) or ended (-1).
 */
void metrics_in_flight(const char *handler, int delta);
/*
 * metrics_process_started: take the wall clock now as the time the
 * process started (main calls it first), for process_start_time_seconds.
 * Recorded rather than read from /proc/stat's boot time, which systemd's
 * ProcSubset=pid (registryd.service) hides. metrics_start_time: that
 * time in seconds since the epoch, 0 when never recorded.
 */
void metrics_process_started(void);
double metrics_start_time(void);
/* metrics_connections: a client connection opened (+1) or closed (-1). */
void metrics_connections(int delta);

/* Why a request was refused by authentication. */
enum metrics_auth_reason {
	METRICS_AUTH_MISSING, /* no credentials: the 401 every client gets first
	                       */
	METRICS_AUTH_INVALID, /* unknown user or wrong password: 401 */
	METRICS_AUTH_LIMITED, /* too many failed logins: 429 */
	METRICS_AUTH_NREASONS,
};

/* metrics_auth_failure: count one refusal. */
void metrics_auth_failure(enum metrics_auth_reason);

/*
 * metrics_write: the families kept here (requests, their durations and
 * sizes, requests in flight, connections, authentication failures) in
 * text format, onto f. 0, or -1 when f reports an error.
 */
int metrics_write(FILE *f);

/* metrics_reset: forget every count (unit tests). */
void metrics_reset(void);

/* ---- writing other families (api_metrics.c) ---- */

/*
 * metrics_family: the "# HELP" and "# TYPE" lines of family name; type
 * is "counter", "gauge" or "histogram". help is escaped as the format
 * wants.
 */
void
metrics_family(FILE *f, const char *name, const char *type, const char *help);
/*
 * metrics_sample: one line "name{l1="v1",...} value". labels is NULL or
 * a NULL-terminated list of label names and values, alternating; values
 * are escaped (backslash, double quote, newline). value is written as
 * the format spells floats: "+Inf", "NaN", integers without a point.
 */
void metrics_sample(FILE *f, const char *name, const char *const *labels,
    double value);
/*
 * metrics_escape: s as a label value (escape 1: \, " and newline) or as
 * help text (escape 0: \ and newline) into out[size], NUL-terminated and
 * truncated to fit. Returns the length s needs escaped, like snprintf.
 */
size_t metrics_escape(char *out, size_t size, const char *s, int label);
/*
 * metrics_format_value: v as the format writes a sample value, into
 * out[size] (32 bytes are enough): the shortest decimal that reads back
 * as v.
 */
void metrics_format_value(char *out, size_t size, double v);

#endif /* REGISTRYD_METRICS_H */
