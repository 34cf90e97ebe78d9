/*
 * Waiting in tests: for a condition, never for a fixed time. A timeout is how long the
 * condition may take on an idle machine; SOTTO_TIME_SCALE (default 1, set by
 * scripts/test-valgrind for memcheck's slowdown) stretches every one of them.
 */
#ifndef SOTTO_TESTS_WAITFOR_H
#define SOTTO_TESTS_WAITFOR_H

/* timeout_ms times SOTTO_TIME_SCALE. */
int wait_scaled_ms(int timeout_ms);
void wait_sleep_ms(int ms);
/* Calls cond(arg) until it returns non-zero, and returns 1; returns 0 if it still returns
 * 0 after wait_scaled_ms(timeout_ms). */
int wait_until(int (*cond)(void *arg), void *arg, int timeout_ms);

#endif
