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
	uint8_t addr[RATELIMIT_ADDR_LEN];
	uint32_t count;
};

struct ratelimit_addrs {
	struct addr_entry **slots;
	size_t n_slots, n;
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

static size_t
slot_of(const struct ratelimit_addrs *t, const uint8_t addr[RATELIMIT_ADDR_LEN],
    size_t n_slots)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, addr, RATELIMIT_ADDR_LEN, t->seed);
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
}

int
ratelimit_addr_acquire(struct ratelimit_addrs *t, const uint8_t addr[RATELIMIT_ADDR_LEN],
    uint32_t max)
{
	size_t k = slot_of(t, addr, t->n_slots);
	struct addr_entry *e;

	for (e = t->slots[k]; e; e = e->next)
		if (memcmp(e->addr, addr, RATELIMIT_ADDR_LEN) == 0) {
			if (e->count >= max)
				return 0;
			e->count++;
			return 1;
		}
	if (max == 0 || (e = calloc(1, sizeof(*e))) == NULL)
		return 0;
	memcpy(e->addr, addr, RATELIMIT_ADDR_LEN);
	e->count = 1;
	e->next = t->slots[k];
	t->slots[k] = e;
	t->n++;
	maybe_grow(t);
	return 1;
}

void
ratelimit_addr_release(struct ratelimit_addrs *t, const uint8_t addr[RATELIMIT_ADDR_LEN])
{
	size_t k = slot_of(t, addr, t->n_slots);

	for (struct addr_entry **pp = &t->slots[k], *e; (e = *pp) != NULL; pp = &e->next)
		if (memcmp(e->addr, addr, RATELIMIT_ADDR_LEN) == 0) {
			if (--e->count == 0) {
				*pp = e->next;
				free(e);
				t->n--;
			}
			return;
		}
}

size_t
ratelimit_addrs_count(const struct ratelimit_addrs *t)
{
	return t->n;
}
