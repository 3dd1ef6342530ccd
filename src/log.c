/*
 * Leveled diagnostics and the access log, one line each on stderr, as
 * text or as one JSON object per line ([log] format).
 *
 * When stderr is the journal (systemd sets JOURNAL_STREAM to the device
 * and inode of the stream it connected, see systemd.exec(5)), text lines
 * carry no timestamp, because journald stamps them itself, and every line
 * starts with its syslog priority ("<4>"), which journald strips and
 * keeps, so that `journalctl -p warning` works. The variable alone is not
 * enough: a child of a service inherits it with another stderr.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX   2048  /* a text line, or a message before escaping */
#define LOG_JLINE_MAX  12288 /* a JSON line: the budgets below fit */
#define LOG_JSTR_MAX   4096  /* escaped bytes of msg= and the path */
#define LOG_JFIELD_MAX 256   /* escaped bytes of the other strings */

/* syslog priorities, for journald's "<N>" prefix */
#define LOG_PRI_ERR     3
#define LOG_PRI_WARNING 4
#define LOG_PRI_INFO    6
#define LOG_PRI_DEBUG   7

static int log_lvl = LOG_LVL_INFO;
static int log_access_on = 1;
static int log_fmt = LOG_FMT_TEXT;
static int log_journal;

static int log_stderr_is_journal(void);
static void log_vline(int, const char *, const char *, int, const char *,
    va_list) __attribute__((format(printf, 5, 0)));
static void log_emit(int, const char *, const char *, const char *,
    const struct log_request *);
static void log_append(char *, size_t, size_t *, const char *, va_list)
    __attribute__((format(printf, 4, 0)));
static void log_appendf(char *, size_t, size_t *, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void log_json_str(char *, size_t, size_t *, const char *, size_t);
static void log_timestamp(char *, size_t);

/*
 * log_init: set the level and whether access lines are written. Safe to
 * call more than once (after the configuration is loaded).
 */
void
log_init(int level, int access)
{
	log_lvl = level;
	log_access_on = access;
	log_journal = log_stderr_is_journal();
}

/* log_set_format: text or JSON lines from now on. */
void
log_set_format(int format)
{
	log_fmt = format == LOG_FMT_JSON ? LOG_FMT_JSON : LOG_FMT_TEXT;
}

/* JOURNAL_STREAM is "dev:ino" of the journal stream; is it stderr? */
static int
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (e == NULL || sscanf(e, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* log_level: the level in force. */
int
log_level(void)
{
	return log_lvl;
}

/* log_level_parse: LOG_LVL_* for its name, or -1. */
int
log_level_parse(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	if (strcmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

/*
 * log_format_parse: LOG_FMT_* for registry:2's formatter names, or -1.
 * logstash's formatter writes a JSON object per line too (with "@" in
 * front of two field names); a pipeline that reads it reads ours.
 */
int
log_format_parse(const char *s)
{
	if (strcasecmp(s, "text") == 0)
		return LOG_FMT_TEXT;
	if (strcasecmp(s, "json") == 0 || strcasecmp(s, "logstash") == 0)
		return LOG_FMT_JSON;
	return -1;
}

/* Append to a line buffer, truncating; *off never passes size - 2. */
static void
log_append(char *line, size_t size, size_t *off, const char *fmt, va_list ap)
{
	int n;

	if (*off >= size - 2)
		return;
	n = vsnprintf(line + *off, size - 1 - *off, fmt, ap);
	if (n < 0)
		return;
	*off += (size_t)n;
	if (*off > size - 2)
		*off = size - 2;
}

static void
log_appendf(char *line, size_t size, size_t *off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_append(line, size, off, fmt, ap);
	va_end(ap);
}

/*
 * Append s as a JSON string of at most max bytes between its quotes:
 * quotes, backslashes and control bytes escaped, a byte that does not
 * start a well-formed UTF-8 sequence (the shortest form of a scalar
 * value: no overlong form, surrogate or code point above U+10FFFF; the
 * client's path reaches the log) replaced by U+FFFD (a log shipper
 * must be able to parse every line). Truncates at max; the caller sizes
 * the line so that every field fits.
 */
static void
log_json_str(char *line, size_t size, size_t *off, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start, n, i;
	unsigned char lo, hi;
	char esc[8];

	if (size - *off < max + 3)
		max = size - *off - 3;
	line[(*off)++] = '"';
	start = *off;
	for (; *p != '\0'; p += n) {
		n = 1;
		if (*p == '"' || *p == '\\')
			snprintf(esc, sizeof(esc), "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
		else if (*p < 0x80) {
			esc[0] = (char)*p;
			esc[1] = '\0';
		} else {
			/*
			 * The second byte's range rules out overlong
			 * forms (E0 80-9F, F0 80-8F), surrogates (ED
			 * A0-BF) and code points above U+10FFFF (F4
			 * 90-BF): Unicode table 3-7.
			 */
			lo = 0x80;
			hi = 0xbf;
			if (*p >= 0xc2 && *p <= 0xdf)
				n = 2;
			else if (*p >= 0xe0 && *p <= 0xef)
				n = 3;
			else if (*p >= 0xf0 && *p <= 0xf4)
				n = 4;
			if (*p == 0xe0)
				lo = 0xa0;
			else if (*p == 0xed)
				hi = 0x9f;
			else if (*p == 0xf0)
				lo = 0x90;
			else if (*p == 0xf4)
				hi = 0x8f;
			for (i = 1; i < n; i++)
				if ((p[i] & 0xc0) != 0x80 ||
				    (i == 1 && (p[i] < lo || p[i] > hi)))
					break;
			if (n == 1 || i < n) {
				n = 1;
				snprintf(esc, sizeof(esc), "\\ufffd");
			} else {
				memcpy(esc, p, n);
				esc[n] = '\0';
			}
		}
		if (*off - start + strlen(esc) > max)
			break;
		memcpy(line + *off, esc, strlen(esc));
		*off += strlen(esc);
	}
	line[(*off)++] = '"';
}

/* "2026-11-23T06:31:38.123Z" */
static void
log_timestamp(char *ts, size_t size)
{
	struct timespec now;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(ts, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, size - n, ".%03dZ",
	    (int)(now.tv_nsec / 1000000) % 1000);
}

/*
 * Write one line for a message already formatted: text "[time ]level:
 * message", or a JSON object with time, level and msg (plus the request's
 * fields for an access line). The line is built first so it reaches
 * stderr in one write.
 */
static void
log_emit(int pri, const char *level, const char *tag, const char *msg,
    const struct log_request *lr)
{
	char line[LOG_JLINE_MAX];
	char ts[40];
	size_t off = 0, size;

	size = log_fmt == LOG_FMT_JSON ? sizeof(line) : LOG_LINE_MAX;
	if (log_journal)
		log_appendf(line, size, &off, "<%d>", pri);
	if (log_fmt == LOG_FMT_TEXT) {
		if (!log_journal) {
			log_timestamp(ts, sizeof(ts));
			log_appendf(line, size, &off, "%s ", ts);
		}
		log_appendf(line, size, &off, "%s: %s", tag, msg);
		line[off++] = '\n';
		fwrite(line, 1, off, stderr);
		fflush(stderr);
		return;
	}
	log_timestamp(ts, sizeof(ts));
	log_appendf(line, size, &off, "{\"time\":\"%s\",\"level\":\"%s\",", ts,
	    level);
	log_appendf(line, size, &off, "\"msg\":");
	log_json_str(line, size, &off, msg, LOG_JSTR_MAX);
	if (lr != NULL) {
		log_appendf(line, size, &off, ",\"http.request.remoteaddr\":");
		log_json_str(line, size, &off, lr->lr_client, LOG_JFIELD_MAX);
		log_appendf(line, size, &off, ",\"http.request.method\":");
		log_json_str(line, size, &off, lr->lr_method, LOG_JFIELD_MAX);
		log_appendf(line, size, &off, ",\"http.request.uri\":");
		log_json_str(line, size, &off, lr->lr_path, LOG_JSTR_MAX);
		log_appendf(line, size, &off,
		    ",\"http.response.status\":%d"
		    ",\"http.response.written\":%llu"
		    ",\"http.response.duration\":\"%llums\"",
		    lr->lr_status, lr->lr_bytes, lr->lr_ms);
		if (lr->lr_aborted)
			log_appendf(line, size, &off,
			    ",\"http.response.aborted\":true");
		if (lr->lr_user != NULL && lr->lr_user[0] != '\0') {
			log_appendf(line, size, &off, ",\"auth.user.name\":");
			log_json_str(line, size, &off, lr->lr_user,
			    LOG_JFIELD_MAX);
		}
		if (lr->lr_digest != NULL && lr->lr_digest[0] != '\0') {
			log_appendf(line, size, &off, ",\"digest\":");
			log_json_str(line, size, &off, lr->lr_digest,
			    LOG_JFIELD_MAX);
		}
	}
	log_appendf(line, size, &off, "}");
	line[off++] = '\n';
	fwrite(line, 1, off, stderr);
	fflush(stderr);
}

/* Format a message (with ": strerror" when errnum >= 0) and emit it. */
static void
log_vline(int pri, const char *level, const char *tag, int errnum,
    const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	size_t off = 0;

	log_append(msg, sizeof(msg), &off, fmt, ap);
	if (errnum >= 0)
		log_appendf(msg, sizeof(msg), &off, ": %s", strerror(errnum));
	msg[off] = '\0';
	log_emit(pri, level, tag, msg, NULL);
}

#define LOG_BODY(lvl, pri, level, tag, errnum)                                 \
	do {                                                                   \
		va_list ap;                                                    \
		if (log_lvl < (lvl))                                           \
			return;                                                \
		va_start(ap, fmt);                                             \
		log_vline(pri, level, tag, errnum, fmt, ap);                   \
		va_end(ap);                                                    \
	} while (0)

/*
 * log_errorx: an error, written whatever the level: the reason registryd
 * refuses to start, with what to change, must reach the operator even
 * with REGISTRY_LOG_LEVEL=error.
 */
void
log_errorx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, LOG_PRI_ERR, "error", "error", -1);
}

/* log_warn: a warning with ": strerror(errno)" appended. */
void
log_warn(const char *fmt, ...)
{
	int saved = errno;

	LOG_BODY(LOG_LVL_WARN, LOG_PRI_WARNING, "warning", "warn", saved);
	errno = saved;
}

/* log_warnx: a warning. */
void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, LOG_PRI_WARNING, "warning", "warn", -1);
}

/* log_info: an informational line. */
void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, LOG_PRI_INFO, "info", "info", -1);
}

/* log_debug: a debug line. */
void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, LOG_PRI_DEBUG, "debug", "debug", -1);
}

/*
 * log_access: one line per finished request, when the access log is on:
 * "access: client method path status bytes ms user digest" as text, with
 * " aborted" when the response did not go out whole; in JSON, registry:2's
 * "response completed" with its http.* fields ("response aborted" and
 * "http.response.aborted":true then).
 */
void
log_access(const struct log_request *lr)
{
	char msg[LOG_LINE_MAX];
	const char *user = lr->lr_user, *digest = lr->lr_digest;

	if (!log_access_on)
		return;
	if (log_fmt == LOG_FMT_JSON) {
		log_emit(LOG_PRI_INFO, "info", "access",
		    lr->lr_aborted ? "response aborted" : "response completed",
		    lr);
		return;
	}
	snprintf(msg, sizeof(msg), "%s %s %s %d %llu %llums %s %s%s",
	    lr->lr_client, lr->lr_method, lr->lr_path, lr->lr_status,
	    lr->lr_bytes, lr->lr_ms, user != NULL && *user ? user : "-",
	    digest != NULL && *digest ? digest : "-",
	    lr->lr_aborted ? " aborted" : "");
	log_emit(LOG_PRI_INFO, "info", "access", msg, NULL);
}

/* fatal: log with strerror(errno) and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vline(LOG_PRI_ERR, "fatal", "fatal", saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* fatalx: log and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_PRI_ERR, "fatal", "fatal", -1, fmt, ap);
	va_end(ap);
	exit(1);
}
