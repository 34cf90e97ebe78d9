/*
 * Limits that span connections: token buckets (requests per second with a burst) and a
 * count of open connections per source address, in a small hash table that never holds
 * more entries than there are open connections.
 */
#ifndef SOTTO_SERVER_RATELIMIT_H
#define SOTTO_SERVER_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit_bucket {
	double tokens;
	uint64_t last_ms;
};

void ratelimit_bucket_init(struct ratelimit_bucket *b, uint32_t burst, uint64_t now_ms);
/* Takes one token; 1 if allowed, 0 if the rate is exceeded. */
int ratelimit_take(struct ratelimit_bucket *b, uint32_t rate, uint32_t burst, uint64_t now_ms);

#define RATELIMIT_ADDR_LEN 16   /* IPv4 mapped into IPv6 */

struct ratelimit_addrs;

struct ratelimit_addrs *ratelimit_addrs_new(void);
void ratelimit_addrs_free(struct ratelimit_addrs *t);
/* Counts one more connection from addr unless it already has max; 1 if admitted. */
int ratelimit_addr_acquire(struct ratelimit_addrs *t, const uint8_t addr[RATELIMIT_ADDR_LEN],
    uint32_t max);
void ratelimit_addr_release(struct ratelimit_addrs *t, const uint8_t addr[RATELIMIT_ADDR_LEN]);
size_t ratelimit_addrs_count(const struct ratelimit_addrs *t);

#endif
