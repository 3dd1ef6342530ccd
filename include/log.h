#ifndef REGISTRYD_LOG_H
#define REGISTRYD_LOG_H

/* Log levels, lowest number most severe (REGISTRY_LOG_LEVEL). */
#define LOG_LVL_ERROR 0
#define LOG_LVL_WARN  1
#define LOG_LVL_INFO  2
#define LOG_LVL_DEBUG 3

/*
 * log_init sets the level and whether access lines are written. Under
 * systemd (JOURNAL_STREAM set) lines carry no timestamp: journald adds one.
 */
void log_init(int level, int access);
int log_level(void);
/* Parse "error|warn|info|debug"; -1 when unknown. */
int log_level_parse(const char *);

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
void log_access(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif /* REGISTRYD_LOG_H */
