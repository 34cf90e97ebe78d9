/*
 * Limits that span connections: token buckets (requests per second with a burst), and per
 * source address a count of open connections and a token bucket of new ones, in a hash
 * table that holds the addresses with connections open and those that connected within
 * the last burst / rate seconds (at most RATELIMIT_IDLE_MAX of these).
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
/* Addresses kept only for their connection rate (no connection open) at most; beyond, such
 * an entry is dropped when its last connection closes. */
#define RATELIMIT_IDLE_MAX 65536

/*
 * Limits per source address: an IPv4 address, or an IPv6 /64 (one subscriber usually
 * holds a whole /64, so a per-/128 limit would not limit anyone).
 */
struct ratelimit_addr_limits {
	uint32_t max_conns;     /* open connections */
	uint32_t rate;          /* new connections per second; 0: no limit */
	uint32_t burst;
};

enum ratelimit_verdict { RATELIMIT_ADMIT = 0, RATELIMIT_TOO_MANY = 1, RATELIMIT_TOO_FAST = 2 };

struct ratelimit_addrs;

struct ratelimit_addrs *ratelimit_addrs_new(void);
void ratelimit_addrs_free(struct ratelimit_addrs *t);
/* Counts one more connection from addr if the limits allow it (RATELIMIT_ADMIT), else says
 * which one it would break; only an admitted connection is to be released. */
enum ratelimit_verdict ratelimit_addr_acquire(struct ratelimit_addrs *t,
    const uint8_t addr[RATELIMIT_ADDR_LEN], const struct ratelimit_addr_limits *lim,
    uint64_t now_ms);
void ratelimit_addr_release(struct ratelimit_addrs *t, const uint8_t addr[RATELIMIT_ADDR_LEN],
    uint64_t now_ms);
/* A rate of its own per key in the same kind of table (the SEND_SEALEDs to one mailbox,
 * keyed by its account id in the first 8 bytes): 1 if one more is allowed now. */
int ratelimit_key_take(struct ratelimit_addrs *t, const uint8_t key[RATELIMIT_ADDR_LEN],
    uint32_t rate, uint32_t burst, uint64_t now_ms);
/* Entries held: addresses with connections open, or whose rate is not yet back to its
 * burst. */
size_t ratelimit_addrs_count(const struct ratelimit_addrs *t);

#endif
