/*
 * A contact's previous sessions. The current session lives in the store's session slot
 * named by the address; when another session replaces it (the peer started a new one, both
 * sides started at once, or a decryption-failure receipt made us start over), the old one
 * is archived here rather than deleted, so that messages still in flight on it decrypt and
 * a repeat of the prekey message that started it is recognised as a repeat (a known base
 * key never starts a new session: docs/PROTOCOL.md section 5). Up to CLIENT_ARCHIVE_MAX
 * are kept, as in libsignal; the least recently used is dropped.
 *
 * Each archived session has a slot of its own in the sessions table: slot 0 is named
 * "#prev/" + hex(BLAKE2b-128(address)) (the single previous session of older stores),
 * slot k > 0 the same with "/k" appended. An order record named "#prevs/" + the same hex
 * lists the slots in use, most recently used first:
 *     u8 version = 1 || u8 n (<= 40) || n * u8 slot (< 40, distinct)
 * None of these names is a valid address, so none can collide with a contact. A store
 * without an order record but with slot 0 holds one archived session there.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "base/cursor.h"

#define ARCHIVE_ORDER_VERSION 1
#define ARCHIVE_NAME_LEN (7 + 32 + 4)

_Static_assert(CLIENT_ARCHIVE_MAX < 100, "slot numbers have at most two digits");

static void
archive_hex(char out[33], const char *address)
{
	uint8_t h[16];

	crypto_generichash(h, sizeof(h), (const uint8_t *)address, strlen(address), NULL, 0);
	sodium_bin2hex(out, 33, h, sizeof(h));
}

static void
slot_name(char out[ARCHIVE_NAME_LEN], const char *address, uint8_t slot)
{
	char hex[33];

	archive_hex(hex, address);
	if (slot == 0)
		snprintf(out, ARCHIVE_NAME_LEN, "#prev/%s", hex);
	else
		snprintf(out, ARCHIVE_NAME_LEN, "#prev/%s/%u", hex, (unsigned)slot);
}

static void
order_name(char out[ARCHIVE_NAME_LEN], const char *address)
{
	char hex[33];

	archive_hex(hex, address);
	snprintf(out, ARCHIVE_NAME_LEN, "#prevs/%s", hex);
}

static int
order_parse(struct client_archive *a, const uint8_t *p, size_t len)
{
	uint8_t used[CLIENT_ARCHIVE_MAX] = { 0 };
	struct cur c;
	uint8_t version;
	size_t i;

	cur_init(&c, p, len);
	version = cur_u8(&c);
	a->n = cur_u8(&c);
	if (cur_status(&c) != 0 || version != ARCHIVE_ORDER_VERSION || a->n > CLIENT_ARCHIVE_MAX)
		return SOTTO_ERR_CORRUPT;
	for (i = 0; i < a->n; i++) {
		a->slot[i] = cur_u8(&c);
		if (cur_status(&c) != 0 || a->slot[i] >= CLIENT_ARCHIVE_MAX || used[a->slot[i]])
			return SOTTO_ERR_CORRUPT;
		used[a->slot[i]] = 1;
	}
	return cur_finish(&c) == 0 ? 0 : SOTTO_ERR_CORRUPT;
}

int
client_archive_load(struct sotto *s, const char *address, struct client_archive *a)
{
	char name[ARCHIVE_NAME_LEN];
	uint8_t *p = NULL;
	size_t len = 0;
	int r;

	memset(a, 0, sizeof(*a));
	if (strlen(address) >= sizeof(a->address))
		return SOTTO_ERR_INVALID_ARG;
	memcpy(a->address, address, strlen(address) + 1);
	order_name(name, address);
	r = store_session_get(s->st, name, &p, &len);
	if (r == 0) {
		/* A damaged order record loses the archive, not the contact. */
		if (order_parse(a, p, len) != 0)
			a->n = 0;
		store_blob_free(p, len);
		return 0;
	}
	if (r != SOTTO_ERR_NOT_FOUND)
		return r;
	slot_name(name, address, 0);
	r = store_session_get(s->st, name, &p, &len);
	store_blob_free(p, len);
	if (r == 0) {
		a->n = 1;
		a->slot[0] = 0;
	}
	return r == 0 || r == SOTTO_ERR_NOT_FOUND || r == SOTTO_ERR_CORRUPT ? 0 : r;
}

int
client_archive_get(struct sotto *s, const struct client_archive *a, size_t i, uint8_t **state,
    size_t *len)
{
	char name[ARCHIVE_NAME_LEN];

	slot_name(name, a->address, a->slot[i]);
	return store_session_get(s->st, name, state, len);
}

static int
order_save(struct sotto *s, const struct client_archive *a)
{
	char name[ARCHIVE_NAME_LEN];
	uint8_t rec[2 + CLIENT_ARCHIVE_MAX];

	rec[0] = ARCHIVE_ORDER_VERSION;
	rec[1] = a->n;
	memcpy(rec + 2, a->slot, a->n);
	order_name(name, a->address);
	return store_session_put(s->st, name, rec, 2 + (size_t)a->n);
}

/* Moves entry i to the front of the order. */
static void
order_front(struct client_archive *a, size_t i)
{
	uint8_t slot = a->slot[i];

	memmove(a->slot + 1, a->slot, i);
	a->slot[0] = slot;
}

int
client_archive_put(struct sotto *s, struct client_archive *a, long i, const uint8_t *state,
    size_t len)
{
	char name[ARCHIVE_NAME_LEN];
	uint8_t used[CLIENT_ARCHIVE_MAX] = { 0 };
	size_t k;
	int r;

	if (i < 0) {
		if (a->n == CLIENT_ARCHIVE_MAX) {
			i = CLIENT_ARCHIVE_MAX - 1;     /* the least recently used gives way */
		} else {
			for (k = 0; k < a->n; k++)
				used[a->slot[k]] = 1;
			for (k = 0; used[k]; k++)
				;
			a->slot[a->n] = (uint8_t)k;
			i = a->n++;
		}
	}
	slot_name(name, a->address, a->slot[i]);
	if ((r = store_session_put(s->st, name, state, len)) != 0)
		return r;
	order_front(a, (size_t)i);
	return order_save(s, a);
}

int
client_archive_remove(struct sotto *s, struct client_archive *a, size_t i)
{
	char name[ARCHIVE_NAME_LEN];
	int r;

	slot_name(name, a->address, a->slot[i]);
	if ((r = store_session_delete(s->st, name)) != 0 && r != SOTTO_ERR_NOT_FOUND)
		return r;
	memmove(a->slot + i, a->slot + i + 1, a->n - i - 1);
	a->n--;
	return order_save(s, a);
}

int
client_archive_current(struct sotto *s, const char *address)
{
	struct client_archive a;
	uint8_t *cur = NULL;
	size_t len = 0;
	int r;

	r = store_session_get(s->st, address, &cur, &len);
	if (r == SOTTO_ERR_CORRUPT)
		r = store_session_delete(s->st, address);   /* nothing worth keeping */
	if (r != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	if ((r = client_archive_load(s, address, &a)) == 0 &&
	    (r = client_archive_put(s, &a, -1, cur, len)) == 0)
		r = store_session_delete(s->st, address);
	store_blob_free(cur, len);
	return r;
}
