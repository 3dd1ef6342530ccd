#ifndef REGISTRYD_LOG_H
#define REGISTRYD_LOG_H

/* Log levels, lowest number most severe (REGISTRY_LOG_LEVEL). */
#define LOG_LVL_ERROR 0
#define LOG_LVL_WARN  1
#define LOG_LVL_INFO  2
#define LOG_LVL_DEBUG 3

/* Line formats ([log] format, REGISTRY_LOG_FORMATTER). */
#define LOG_FMT_TEXT 0 /* "[time ]level: message" */
#define LOG_FMT_JSON 1 /* one JSON object per line, logrus' field names */

/*
 * One finished request, for the access log. The strings are borrowed for
 * the call; user and digest may be NULL or empty.
 */
struct log_request {
	const char *lr_peer;         /* "addr:port" */
	const char *lr_method;       /* "GET" */
	const char *lr_path;         /* request path */
	int lr_status;               /* HTTP status */
	unsigned long long lr_bytes; /* body bytes sent */
	unsigned long long lr_ms;    /* duration */
	const char *lr_user;         /* authenticated user */
	const char *lr_digest;       /* Docker-Content-Digest */
};

/*
 * log_init sets the level and whether access lines are written. When
 * stderr is the journal (JOURNAL_STREAM names its device and inode) text
 * lines carry no timestamp, journald adds one, and every line starts with
 * its syslog priority ("<6>") for journald.
 */
void log_init(int level, int access);
/* log_set_format: LOG_FMT_TEXT (the default) or LOG_FMT_JSON. */
void log_set_format(int);
int log_level(void);
/* Parse "error|warn|info|debug"; -1 when unknown. */
int log_level_parse(const char *);
/*
 * Parse "text|json|logstash" (registry:2's formatter names, any case);
 * logstash is written as json. -1 when unknown.
 */
int log_format_parse(const char *);

/*
 * log_errorx: an error line, never filtered by the level (why registryd
 * refuses to start, and what to change).
 */
void log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; the x variants do not. */
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* fatal is for startup and broken invariants only: it exits 1. */
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
/* One access line per finished request. */
void log_access(const struct log_request *);

#endif /* REGISTRYD_LOG_H */
