/*
 * The ts-mls oracle: `node tests/interop/mls/oracle.mjs` started as a child process and
 * driven over pipes, one JSON request per line and one JSON answer per line (oracle.mjs
 * lists the operations). ts-mls 1.6.4 and what it imports are installed in
 * tests/interop/mls/node_modules by scripts/install-deps (npm ci, pinned by
 * package-lock.json); nothing of it is in the repository.
 */
#ifndef SOTTO_TESTS_TS_ORACLE_H
#define SOTTO_TESTS_TS_ORACLE_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#define TS_ORACLE_DIR "tests/interop/mls"
#define TS_ORACLE_MLS_VERSION "1.6.4"
/* How long one answer may take on an idle machine (SOTTO_TIME_SCALE stretches it). */
#define TS_ORACLE_ANSWER_MS 30000

struct ts_oracle {
	pid_t pid;
	int to_child, from_child;
	char *line;                 /* what was read past the last answer */
	size_t line_len, line_cap;
	char error[512];            /* why the last call or start failed */
};

/* Starts node on oracle.mjs, after checking that ts-mls TS_ORACLE_MLS_VERSION is
 * installed (else o->error says to run scripts/install-deps). 0 or -1. */
int ts_oracle_start(struct ts_oracle *o);
void ts_oracle_stop(struct ts_oracle *o);

/* Sends the request json_pack(fmt, ...) builds and returns the answer (the caller's
 * reference) if it says ok; NULL with o->error set (the oracle's refusal, or a broken
 * pipe, a timeout, a malformed answer) otherwise. */
json_t *ts_oracle_call(struct ts_oracle *o, const char *fmt, ...);

#endif
