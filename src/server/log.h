/*
 * sottod's log: one line per event on stderr, "2026-01-01T12:00:00.123Z level: message".
 * Callers log reasons, counts and connection ids: never a payload, a secret key or a token.
 * At the default level (info) and above, a line names no account, no device or identity
 * key and no IP address, so that a seized log does not tell who used the server from
 * where; only debug lines add them, for troubleshooting (docs/SERVER.md "Logging").
 */
#ifndef SOTTO_SERVER_LOG_H
#define SOTTO_SERVER_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(int level);
int log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *s);
const char *log_level_name(int level);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
