/*
 * A limit on failed logins across all connections: at most max failures within window_ms;
 * past that, logins are refused without looking at the password until old failures age
 * out. Shared by every connection so that opening new ones does not reset it.
 */
#ifndef SOTTO_BRIDGE_AUTHLIMIT_H
#define SOTTO_BRIDGE_AUTHLIMIT_H

#include <stdint.h>

#define AUTHLIMIT_MAX 64

struct authlimit {
	uint64_t at[AUTHLIMIT_MAX];     /* times of the latest failures, a ring */
	unsigned max, n, next;
	uint64_t window_ms;
};

/* max is clamped to 1..AUTHLIMIT_MAX. */
void authlimit_init(struct authlimit *l, unsigned max, uint64_t window_ms);
int authlimit_allowed(const struct authlimit *l, uint64_t now_ms);
void authlimit_failed(struct authlimit *l, uint64_t now_ms);

#endif
