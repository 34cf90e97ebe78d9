#include "server/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void
ratelimit_bucket_init(struct ratelimit_bucket *b, uint32_t burst, uint64_t now_ms)
{
	b->tokens = burst;
	b->last_ms = now_ms;
}

int
ratelimit_take(struct ratelimit_bucket *b, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
		b->last_ms = now_ms;
	}
	if (b->tokens > burst)
		b->tokens = burst;
	if (b->tokens < 1.0)
		return 0;
	b->tokens -= 1.0;
	return 1;
}

struct addr_entry {
	struct addr_entry *next;
	uint8_t addr[RATELIMIT_ADDR_LEN];  /* the key: IPv4 (mapped) or an IPv6 /64 */
	uint32_t count;                    /* connections open */
	struct ratelimit_bucket rate;      /* new connections */
};

struct ratelimit_addrs {
	struct addr_entry **slots;
	size_t n_slots, n;
	size_t idle;                       /* entries with no connection open */
	size_t sweep;                      /* the next slot to sweep for idle entries */
	uint32_t rate, burst;              /* of the last acquire: when an idle entry is done */
	uint8_t seed[crypto_shorthash_KEYBYTES];  /* keyed hash: peers cannot aim at one slot */
};

struct ratelimit_addrs *
ratelimit_addrs_new(void)
{
	struct ratelimit_addrs *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->n_slots = 1024;
	if ((t->slots = calloc(t->n_slots, sizeof(*t->slots))) == NULL) {
		free(t);
		return NULL;
	}
	randombytes_buf(t->seed, sizeof(t->seed));
	return t;
}

void
ratelimit_addrs_free(struct ratelimit_addrs *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_slots; i++)
		for (struct addr_entry *e = t->slots[i], *nx; e; e = nx) {
			nx = e->next;
			free(e);
		}
	free(t->slots);
	free(t);
}

/* An IPv4 address (mapped: ::ffff:a.b.c.d) stands for itself, an IPv6 one for its /64. */
static void
addr_key(uint8_t key[RATELIMIT_ADDR_LEN], const uint8_t addr[RATELIMIT_ADDR_LEN])
{
	static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memcpy(key, addr, RATELIMIT_ADDR_LEN);
	if (memcmp(addr, v4_mapped, sizeof(v4_mapped)) != 0)
		memset(key + 8, 0, RATELIMIT_ADDR_LEN - 8);
}

static size_t
slot_of(const struct ratelimit_addrs *t, const uint8_t key[RATELIMIT_ADDR_LEN],
    size_t n_slots)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, RATELIMIT_ADDR_LEN, t->seed);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v % n_slots);
}

static void
maybe_grow(struct ratelimit_addrs *t)
{
	size_t ns = t->n_slots * 2;
	struct addr_entry **slots;

	if (t->n < t->n_slots * 2)
		return;
	if ((slots = calloc(ns, sizeof(*slots))) == NULL)
		return;        /* keep the longer chains */
	for (size_t i = 0; i < t->n_slots; i++)
		for (struct addr_entry *e = t->slots[i], *nx; e; e = nx) {
			size_t k = slot_of(t, e->addr, ns);
			nx = e->next;
			e->next = slots[k];
			slots[k] = e;
		}
	free(t->slots);
	t->slots = slots;
	t->n_slots = ns;
	t->sweep = 0;
}

/* 1 if an entry without connections can go: its bucket would be full again by now. */
static int
idle_done(const struct ratelimit_addrs *t, const struct addr_entry *e, uint64_t now_ms)
{
	double tokens = e->rate.tokens;

	if (t->rate == 0)
		return 1;
	if (now_ms > e->rate.last_ms)
		tokens += (double)(now_ms - e->rate.last_ms) * t->rate / 1000.0;
	return tokens >= t->burst;
}

static void
entry_unlink(struct ratelimit_addrs *t, struct addr_entry **pp)
{
	struct addr_entry *e = *pp;

	*pp = e->next;
	if (e->count == 0)
		t->idle--;
	free(e);
	t->n--;
}

/* One slot per new connection: idle entries whose rate has recovered are dropped, so the
 * table follows the recent addresses without a timer. */
static void
sweep_one(struct ratelimit_addrs *t, uint64_t now_ms)
{
	struct addr_entry **pp = &t->slots[t->sweep];

	while (*pp != NULL) {
		if ((*pp)->count == 0 && idle_done(t, *pp, now_ms))
			entry_unlink(t, pp);
		else
			pp = &(*pp)->next;
	}
	t->sweep = (t->sweep + 1) % t->n_slots;
}

enum ratelimit_verdict
ratelimit_addr_acquire(struct ratelimit_addrs *t, const uint8_t addr[RATELIMIT_ADDR_LEN],
    const struct ratelimit_addr_limits *lim, uint64_t now_ms)
{
	uint8_t key[RATELIMIT_ADDR_LEN];
	struct addr_entry *e;
	size_t k;

	t->rate = lim->rate;
	t->burst = lim->burst;
	sweep_one(t, now_ms);
	addr_key(key, addr);
	k = slot_of(t, key, t->n_slots);
	for (e = t->slots[k]; e; e = e->next)
		if (memcmp(e->addr, key, RATELIMIT_ADDR_LEN) == 0)
			break;
	if (e == NULL) {
		if (lim->max_conns == 0 || (e = calloc(1, sizeof(*e))) == NULL)
			return RATELIMIT_TOO_MANY;
		memcpy(e->addr, key, RATELIMIT_ADDR_LEN);
		ratelimit_bucket_init(&e->rate, lim->burst, now_ms);
		e->next = t->slots[k];
		t->slots[k] = e;
		t->n++;
		t->idle++;
		maybe_grow(t);
	}
	if (e->count >= lim->max_conns)
		return RATELIMIT_TOO_MANY;
	/* A new entry has its whole burst, so only an address seen before is refused here,
	 * and idle entries come only from release, which bounds them. */
	if (lim->rate > 0 && !ratelimit_take(&e->rate, lim->rate, lim->burst, now_ms))
		return RATELIMIT_TOO_FAST;
	if (e->count++ == 0)
		t->idle--;
	return RATELIMIT_ADMIT;
}

void
ratelimit_addr_release(struct ratelimit_addrs *t, const uint8_t addr[RATELIMIT_ADDR_LEN],
    uint64_t now_ms)
{
	uint8_t key[RATELIMIT_ADDR_LEN];
	size_t k;

	addr_key(key, addr);
	k = slot_of(t, key, t->n_slots);
	for (struct addr_entry **pp = &t->slots[k], *e; (e = *pp) != NULL; pp = &e->next)
		if (memcmp(e->addr, key, RATELIMIT_ADDR_LEN) == 0) {
			if (e->count > 0 && --e->count == 0)
				t->idle++;
			/* Kept while its rate has not recovered, so that closing a connection
			 * does not reset the address's rate (within RATELIMIT_IDLE_MAX). */
			if (e->count == 0 && (idle_done(t, e, now_ms) || t->idle > RATELIMIT_IDLE_MAX))
				entry_unlink(t, pp);
			return;
		}
}

/*
 * One lookup: a key's entry holds no connection (count 0), so it is idle from the start
 * and stays until the sweep finds its rate recovered (or, beyond RATELIMIT_IDLE_MAX idle
 * entries, at once). Not freed on every call as a release would: under a high rate that
 * would allocate one per request.
 */
int
ratelimit_key_take(struct ratelimit_addrs *t, const uint8_t key[RATELIMIT_ADDR_LEN],
    uint32_t rate, uint32_t burst, uint64_t now_ms)
{
	uint8_t k[RATELIMIT_ADDR_LEN];
	struct addr_entry **pp, *e;
	int ok;

	t->rate = rate;
	t->burst = burst;
	sweep_one(t, now_ms);
	addr_key(k, key);
	for (pp = &t->slots[slot_of(t, k, t->n_slots)]; (e = *pp) != NULL; pp = &e->next)
		if (memcmp(e->addr, k, RATELIMIT_ADDR_LEN) == 0)
			break;
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return 0;
		memcpy(e->addr, k, RATELIMIT_ADDR_LEN);
		ratelimit_bucket_init(&e->rate, burst, now_ms);
		*pp = e;        /* at the chain's end */
		t->n++;
		t->idle++;
	}
	ok = rate == 0 || ratelimit_take(&e->rate, rate, burst, now_ms);
	if (t->idle > RATELIMIT_IDLE_MAX)
		entry_unlink(t, pp);
	else
		maybe_grow(t);
	return ok;
}

size_t
ratelimit_addrs_count(const struct ratelimit_addrs *t)
{
	return t->n;
}
