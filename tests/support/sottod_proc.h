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

struct sottod_proc {
	pid_t pid;
	char dir[128];
	char address[400];      /* sotto://... as the running server wrote it */
	int exit_status;        /* when sottod_proc_start failed because sottod exited */
};

/* Creates a data directory with "listen = 127.0.0.1:0" plus conf (may be NULL). */
int sottod_proc_init(struct sottod_proc *sp, const char *conf);
/* Starts sottod run on the directory and waits until it listens. 0 or -1 (then
 * exit_status holds sottod's exit status if it exited). */
int sottod_proc_start(struct sottod_proc *sp);
/* Sends sig, waits for the exit; returns the exit status (or 128 + signal). */
int sottod_proc_stop(struct sottod_proc *sp, int sig);
/* Runs `sottod ARGS...` to completion (stdout into out, if any); returns its exit status. */
int sottod_proc_cmd(const char *const *args, char *out, size_t out_cap);
/* Stops the server if it runs and removes the directory. */
void sottod_proc_cleanup(struct sottod_proc *sp);
const char *sottod_proc_binary(void);
/* Host:port of a running server, for raw sockets. */
int sottod_proc_connect_raw(const struct sottod_proc *sp);

/* A test user: identity (Ed25519) and device (X25519) keys; secret parts not wiped. */
struct test_user {
	char address[321];
	uint8_t id_pk[32], id_sk[64];
	uint8_t dev_pk[32], dev_sk[32];
	struct conn *c;
};

void test_user_new(struct test_user *u, const char *name);
int test_user_connect(struct test_user *u, const struct sottod_proc *sp);
/* Connects and registers; returns the REGISTER status (0 on success) or a conn error. */
int test_user_register(struct test_user *u, const struct sottod_proc *sp, const char *invite);
void test_user_close(struct test_user *u);

#endif
