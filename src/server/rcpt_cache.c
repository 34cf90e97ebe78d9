/*
 * Recipients not connected to this node, by name: with several nodes on PostgreSQL, half
 * of all SENDs go to an account online on another node, and each read the account's row
 * on the loop (a round trip to PostgreSQL). The row (id, identity key) changes only by
 * `sottod accounts reset|delete`, which every node hears (wake.c: server_accts_revalidate
 * forgets the account here) or, if its listener was lost, finds on the re-scan that opens
 * it again (which forgets them all). The delivery token's verifier changes at its owner's
 * request, on any node: a SEND_SEALED therefore always reads the store.
 *
 * Only with PostgreSQL (s->wake set): on SQLite there is one node and a reset is applied
 * by a reload. Chains hashed with the process's SipHash key, so that no chosen names make
 * one long; at RCPT_CACHE_MAX entries it starts again empty.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define RCPT_CACHE_SLOTS 4096           /* a power of two */
#define RCPT_CACHE_MAX 65536

struct rcpt_entry {
	struct rcpt_entry *next;
	struct store_account a;
};

struct rcpt_cache {
	struct rcpt_entry *slot[RCPT_CACHE_SLOTS];
	size_t n;
};

static size_t
name_slot(const struct server *s, const char *name)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const uint8_t *)name, strlen(name), s->mailq_hash_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (RCPT_CACHE_SLOTS - 1);
}

int
rcpt_cache_get(struct server *s, const char *name, struct store_account *out)
{
	if (s->rcpt == NULL)
		return SOTTO_ERR_NOT_FOUND;
	for (struct rcpt_entry *e = s->rcpt->slot[name_slot(s, name)]; e; e = e->next)
		if (strcmp(e->a.name, name) == 0) {
			*out = e->a;
			return 0;
		}
	return SOTTO_ERR_NOT_FOUND;
}

void
rcpt_cache_put(struct server *s, const struct store_account *a)
{
	struct rcpt_entry *e;
	size_t k;

	if (s->wake == NULL)
		return;
	if (s->rcpt == NULL && (s->rcpt = calloc(1, sizeof(*s->rcpt))) == NULL)
		return;
	if (s->rcpt->n >= RCPT_CACHE_MAX)
		rcpt_cache_forget(s, 0);
	k = name_slot(s, a->name);
	for (e = s->rcpt->slot[k]; e; e = e->next)
		if (strcmp(e->a.name, a->name) == 0) {
			e->a = *a;
			return;
		}
	if ((e = malloc(sizeof(*e))) == NULL)
		return;
	e->a = *a;
	e->next = s->rcpt->slot[k];
	s->rcpt->slot[k] = e;
	s->rcpt->n++;
}

void
rcpt_cache_forget(struct server *s, int64_t id)
{
	struct rcpt_entry **pp, *e;

	if (s->rcpt == NULL)
		return;
	for (size_t k = 0; k < RCPT_CACHE_SLOTS; k++)
		for (pp = &s->rcpt->slot[k]; (e = *pp) != NULL;) {
			if (id == 0 || e->a.id == id) {
				*pp = e->next;
				free(e);
				s->rcpt->n--;
			} else {
				pp = &e->next;
			}
		}
}

void
rcpt_cache_free(struct server *s)
{
	rcpt_cache_forget(s, 0);
	free(s->rcpt);
	s->rcpt = NULL;
}
