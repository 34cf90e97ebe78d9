/*
 * Test helper: runs a real sottod on a random loopback port with its data in a fresh
 * temporary directory, and makes accounts through src/client/conn.h.
 * The binary is $SOTTO_BUILD/sottod, else ../sottod relative to the test binary.
 */
#ifndef SOTTO_TESTS_SOTTOD_PROC_H
#define SOTTO_TESTS_SOTTOD_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/conn.h"
#include "wire/noise.h"

struct sottod_proc {
	pid_t pid;
	char dir[128];
	char pg_db[64];         /* its PostgreSQL schema ("" : SQLite in dir) */
	char address[400];      /* sotto://... as the running server wrote it */
	int exit_status;        /* when sottod_proc_start failed because sottod exited */
	unsigned nofile;        /* nonzero: sottod's open-file limit (soft and hard) */
	/* Called in the child just before it becomes sottod (e.g. a system call filter). */
	void (*pre_exec)(void *arg);
	void *pre_exec_arg;
};

/* 1: the servers sottod_proc_init makes from now on store in a schema of their own in
 * the PostgreSQL database of SOTTO_TEST_PG (scripts/run-tests starts one), dropped by
 * sottod_proc_cleanup; 0: in SQLite. -1 if SOTTO_TEST_PG is not set. */
int sottod_proc_use_pg(int on);
/* "sqlite" or "postgresql": the backend sottod_proc_init uses now. */
const char *sottod_proc_backend(void);
/* Runs TEST name (check.h) on PostgreSQL only (several nodes of one database). */
#define SOTTOD_RUN_PG(name) do {                                                       \
	check_begin(#name " (postgresql)");                                            \
	if (sottod_proc_use_pg(1) == 0)                                                \
		name();                                                                \
	else                                                                           \
		check_fail(__FILE__, __LINE__, "SOTTO_TEST_PG: no PostgreSQL to test"); \
	check_end();                                                                   \
	(void)sottod_proc_use_pg(0);                                                   \
} while (0)
/* Runs TEST name (check.h) on each backend, each run named after it. */
#define SOTTOD_RUN_BOTH(name) do {                                                     \
	check_begin(#name " (sqlite)");                                                \
	name();                                                                        \
	check_end();                                                                   \
	SOTTOD_RUN_PG(name);                                                           \
} while (0)

/* Creates a data directory with "listen = 127.0.0.1:0" plus conf (may be NULL). */
int sottod_proc_init(struct sottod_proc *sp, const char *conf);
/* Starts sottod run on the directory and waits until it listens. 0 or -1 (then
 * exit_status holds sottod's exit status if it exited). */
int sottod_proc_start(struct sottod_proc *sp);
/* sottod_proc_init then sottod_proc_start: 0 or -1. */
int sottod_proc_launch(struct sottod_proc *sp, const char *conf);
/* Sends sig, waits for the exit; returns the exit status (or 128 + signal). */
int sottod_proc_stop(struct sottod_proc *sp, int sig);
/* Runs `sottod ARGS...` to completion (stdout into out, if any); returns its exit status. */
int sottod_proc_cmd(const char *const *args, char *out, size_t out_cap);
/* Another node of sp's PostgreSQL database (docs/SERVER.md "Several nodes"): a data
 * directory of its own with copies of sp's server and ticket keys and its sottod.conf plus
 * conf (may be NULL), started. Its schema is sp's, dropped by sp's cleanup only. */
int sottod_proc_node(struct sottod_proc *node, const struct sottod_proc *sp, const char *conf);
/* How many lines of the server's log (DIR/log) contain what; -1 if there is no log. */
int sottod_proc_log_lines(const struct sottod_proc *sp, const char *what);
/* Stops the server if it runs and removes the directory. */
void sottod_proc_cleanup(struct sottod_proc *sp);
const char *sottod_proc_binary(void);
/* Host:port of a running server, for raw sockets. */
int sottod_proc_connect_raw(const struct sottod_proc *sp);
/* A raw connection with the Noise handshake done by hand for device key dev_sk, so a test
 * can then send anything: the socket (t holds the transport keys) or -1. */
int sottod_proc_handshake_raw(const struct sottod_proc *sp, const uint8_t dev_sk[32],
    struct noise_transport *t);
/* A client message id for test message i; tag tells the tests' ids apart. */
void sottod_proc_cmid(uint8_t cmid[16], int i, uint8_t tag);
/* One integer from a query on the server's database, SQLite or PostgreSQL (read-only;
 * best with the server stopped); -1 on error or NULL. */
int64_t sottod_proc_db_int(const struct sottod_proc *sp, const char *sql);
/* A loopback TCP port free at the time of the call (aborts if it cannot find one). */
unsigned short sottod_proc_free_port(void);
/* All n bytes onto fd: 0 or -1. */
int sottod_proc_write_all(int fd, const void *p, size_t n);

/* A test user: identity (Ed25519) and device (X25519) keys; secret parts not wiped. */
struct test_user {
	char address[321];
	uint8_t id_pk[32], id_sk[64];
	uint8_t dev_pk[32], dev_sk[32];
	struct conn *c;
	/* The last request, its answer and the last event (PUSH, PREKEY_LOW...). */
	struct proto_msg req, resp, ev;
};

/* What the request helpers return when no answer came (a conn error or timeout). */
#define TEST_USER_NO_ANSWER (-1000)

void test_user_new(struct test_user *u, const char *name);
int test_user_connect(struct test_user *u, const struct sottod_proc *sp);
/* Connects and registers; returns the REGISTER status (0 on success) or a conn error. */
int test_user_register(struct test_user *u, const struct sottod_proc *sp, const char *invite);
void test_user_close(struct test_user *u);
/* test_user_new then test_user_register without an invite: the REGISTER status. */
int test_user_join(struct test_user *u, const struct sottod_proc *sp, const char *name);

/* u->req on u's connection, its answer in u->resp: the answer's status or
 * TEST_USER_NO_ANSWER. The helpers below fill u->req and call it. */
int test_user_request(struct test_user *u, int timeout_ms);
int test_user_cert(struct test_user *u);                        /* SENDER_CERTIFICATE */
/* SEND of env to `to` under client message id cmid (NULL: a random one). */
int test_user_send(struct test_user *u, const char *to, const uint8_t cmid[16],
    const void *env, size_t len);
int test_user_received(struct test_user *u, const uint64_t *ids, size_t n);
/* UPLOAD_PREKEYS: signed prekey 1 (public bytes 0x11, signature bytes 0x22) and n one-time
 * prekeys with ids first.., each public key filled with the low byte of its id. */
int test_user_upload(struct test_user *u, uint32_t first, size_t n);
/* UPLOAD_PREKEYS with signed prekey 1 as test_user_upload, no X25519 one-time prekeys,
 * n one-time ML-KEM prekeys with ids first.. (key bytes: the id's low byte, signature
 * bytes 0x33) and, unless lr_id is 0, the last-resort ML-KEM prekey lr_id (key bytes 0xee,
 * signature bytes 0x44). */
int test_user_upload_kem(struct test_user *u, uint32_t first, size_t n, uint32_t lr_id);
int test_user_fetch(struct test_user *u, const char *address);  /* FETCH_BUNDLE */
int test_user_lookup(struct test_user *u, const char *address); /* LOOKUP */
/* The next PUSH into u->ev, other events skipped: 0 or the conn error (SOTTO_ERR_TIMEOUT). */
int test_user_next_push(struct test_user *u, int timeout_ms);
/* Takes up to want pushes, acknowledging each with RECEIVED; returns how many came. */
int test_user_drain(struct test_user *u, int want, int timeout_ms);

#endif
