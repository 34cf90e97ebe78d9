/*
 * A libuv loop on its own thread, for tests that talk to a bridge engine over real sockets
 * from the main thread. uvthread_call() runs a function on the loop thread and waits for
 * it; uvthread_stop() ends the loop once every handle is closed (stop listeners first).
 */
#ifndef SOTTO_TESTS_UVTHREAD_H
#define SOTTO_TESTS_UVTHREAD_H

#include <uv.h>

struct uvthread {
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t async;
	uv_mutex_t mu;
	uv_cond_t cond;
	void (*fn)(void *);
	void *arg;
	int pending;
};

int uvthread_start(struct uvthread *t);
void uvthread_call(struct uvthread *t, void (*fn)(void *), void *arg);
void uvthread_stop(struct uvthread *t);

/* Blocking client helpers for the main thread (receive timeout 5 s). */
int uvthread_connect(unsigned short port);
/* Reads until `want` appears in what was received (returns 0), or EOF/timeout (-1).
 * buf receives everything read, NUL-terminated. */
int uvthread_read_until(int fd, char *buf, size_t cap, const char *want);
int uvthread_send(int fd, const char *s);
/* 1 if the peer closed (EOF) within the receive timeout. */
int uvthread_wait_eof(int fd);

#endif
