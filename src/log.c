/*
 * Leveled diagnostics and the access log, one line each on stderr. Under
 * systemd (JOURNAL_STREAM set) lines carry no timestamp, because journald
 * stamps them itself.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static int log_lvl = LOG_LVL_INFO;
static int log_access_on = 1;
static int log_journal;

static void log_vline(const char *, const char *, int, const char *, va_list)
    __attribute__((format(printf, 4, 0)));
static void log_append(char *, size_t, size_t *, const char *, va_list);
static void log_appendf(char *, size_t, size_t *, const char *, ...);

/*
 * log_init: set the level and whether access lines are written. Safe to
 * call more than once (after the configuration is loaded).
 */
void
log_init(int level, int access)
{
	log_lvl = level;
	log_access_on = access;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
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

/* Append to a line buffer, truncating; *off never passes size - 2. */
static void __attribute__((format(printf, 4, 0)))
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

static void __attribute__((format(printf, 4, 5)))
log_appendf(char *line, size_t size, size_t *off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_append(line, size, off, fmt, ap);
	va_end(ap);
}

/*
 * Write one line: [time] level: message[: strerror]. errnum < 0 means no
 * errno text. The line is built first so it reaches stderr in one write.
 */
static void
log_vline(const char *prefix, const char *level, int errnum, const char *fmt,
    va_list ap)
{
	char line[2048], ts[32];
	size_t off = 0;
	struct tm tm;
	struct timespec now;

	if (!log_journal) {
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		log_appendf(line, sizeof(line), &off, "%s.%03ldZ ", ts,
		    now.tv_nsec / 1000000);
	}
	log_appendf(line, sizeof(line), &off, "%s%s", prefix, level);
	log_append(line, sizeof(line), &off, fmt, ap);
	if (errnum >= 0)
		log_appendf(line, sizeof(line), &off, ": %s", strerror(errnum));
	line[off++] = '\n';
	fwrite(line, 1, off, stderr);
	fflush(stderr);
}

#define LOG_BODY(lvl, prefix, level, errnum)                                   \
	do {                                                                   \
		va_list ap;                                                    \
		if (log_lvl < (lvl))                                           \
			return;                                                \
		va_start(ap, fmt);                                             \
		log_vline(prefix, level, errnum, fmt, ap);                     \
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
	LOG_BODY(LOG_LVL_ERROR, "", "error: ", -1);
}

/* log_warn: a warning with ": strerror(errno)" appended. */
void
log_warn(const char *fmt, ...)
{
	int saved = errno;

	LOG_BODY(LOG_LVL_WARN, "", "warn: ", saved);
	errno = saved;
}

/* log_warnx: a warning. */
void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, "", "warn: ", -1);
}

/* log_info: an informational line. */
void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, "", "info: ", -1);
}

/* log_debug: a debug line. */
void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, "", "debug: ", -1);
}

/* log_access: one access line, when the access log is on. */
void
log_access(const char *fmt, ...)
{
	va_list ap;

	if (!log_access_on)
		return;
	va_start(ap, fmt);
	log_vline("", "access: ", -1, fmt, ap);
	va_end(ap);
}

/* fatal: log with strerror(errno) and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vline("", "fatal: ", saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* fatalx: log and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("", "fatal: ", -1, fmt, ap);
	va_end(ap);
	exit(1);
}
