/*
 * The local store's record layer: opening sealed records, and the plaintext codecs of
 * every table. The first byte picks the target. Decoded records must re-encode to exactly
 * the input (the codecs are canonical), and a record sealed here must open again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "client/store_record.h"

static const uint8_t key[STORE_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t rowkey[12] = { 9, 9, 9 };

static void
same_or_die(struct buf *b, const uint8_t *p, size_t n)
{
	if (buf_status(b) != 0 || b->len != n || (n > 0 && memcmp(b->p, p, n) != 0))
		abort();
	buf_wipe_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct store_identity id;
	struct store_contact c;
	struct store_message m;
	struct store_outbox_item o;
	uint8_t pk[32], sk[32], sig[64], *out = NULL, *pt = NULL;
	const uint8_t *borrowed;
	char name[STORE_FOLDER_NAME_MAX + 1];
	size_t out_len = 0, pt_len = 0;
	struct buf b;
	uint8_t sel;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	buf_init_dyn(&b, STORE_BODY_MAX + 4096);
	switch (sel % 11) {
	case 0:
		if (store_rec_open(key, "messages", rowkey, sizeof(rowkey), data, size, 1 << 16,
		    &pt, &pt_len) == 0)
			abort();    /* a forgery under a key the input cannot know */
		break;
	case 1:
		if (store_rec_seal(key, "mail", rowkey, sizeof(rowkey), data, size, &out,
		    &out_len) != 0)
			abort();
		if (store_rec_open(key, "mail", rowkey, sizeof(rowkey), out, out_len, size, &pt,
		    &pt_len) != 0 || pt_len != size || (size > 0 && memcmp(pt, data, size) != 0))
			abort();
		free(pt);
		pt = NULL;
		/* Bound to its row: another row key or table must not open it. */
		if (store_rec_open(key, "mail", rowkey, sizeof(rowkey) - 1, out, out_len, size,
		    &pt, &pt_len) == 0 ||
		    store_rec_open(key, "messages", rowkey, sizeof(rowkey), out, out_len, size,
		    &pt, &pt_len) == 0)
			abort();
		break;
	case 2:
		if (store_identity_decode(data, size, &id) == 0) {
			store_identity_encode(&b, &id);
			same_or_die(&b, data, size);
		}
		store_identity_wipe(&id);
		break;
	case 3:
		if (store_keypair_decode(data, size, pk, sk, sig) == 0) {
			store_keypair_encode(&b, pk, sk, sig);
			same_or_die(&b, data, size);
		}
		break;
	case 4:
		if (store_keypair_decode(data, size, pk, sk, NULL) == 0) {
			store_keypair_encode(&b, pk, sk, NULL);
			same_or_die(&b, data, size);
		}
		break;
	case 5:
		if (store_contact_decode(data, size, &c) == 0) {
			static const uint8_t no_token[STORE_CONTACT_TOKEN_TRAILER];

			store_contact_encode(&b, &c);
			/* A record from before delivery tokens comes back with a zero trailer. */
			if (buf_status(&b) == 0 && b.len == size + sizeof(no_token) &&
			    memcmp(b.p + size, no_token, sizeof(no_token)) == 0)
				b.len = size;
			same_or_die(&b, data, size);
		}
		break;
	case 6:
		if (store_message_decode(data, size, &m, &borrowed) == 0) {
			static const uint8_t no_sent_ms[8];

			m.body = (uint8_t *)(uintptr_t)borrowed;
			store_message_encode(&b, &m);
			/* A schema-1 record has no sent_ms: it comes back with a zero one. */
			if (buf_status(&b) == 0 && b.len == size + sizeof(no_sent_ms) &&
			    memcmp(b.p + size, no_sent_ms, sizeof(no_sent_ms)) == 0)
				b.len = size;
			same_or_die(&b, data, size);
		}
		break;
	case 7:
		if (store_outbox_decode(data, size, &o, &borrowed) == 0) {
			store_outbox_encode(&b, o.id, o.recipient, borrowed, o.envelope_len);
			same_or_die(&b, data, size);
		}
		break;
	case 8:
		if (store_name_decode(data, size, name, STORE_FOLDER_NAME_MAX) == 0) {
			store_name_encode(&b, name);
			same_or_die(&b, data, size);
		}
		break;
	case 9: {
		struct store_group g;

		const uint8_t *prev;

		if (store_group_decode(data, size, &g, &borrowed, &prev) == 0) {
			g.state = (uint8_t *)(uintptr_t)borrowed;
			g.prev_state = (uint8_t *)(uintptr_t)prev;
			store_group_encode(&b, &g);
			same_or_die(&b, data, size);
		}
		break;
	}
	case 10: {
		struct store_key_package k;

		if (store_key_package_decode(data, size, &k, &borrowed) == 0) {
			k.kp = (uint8_t *)(uintptr_t)borrowed;
			store_key_package_encode(&b, &k);
			same_or_die(&b, data, size);
		}
		sodium_memzero(&k, sizeof(k));
		break;
	}
	}
	buf_wipe_free(&b);
	free(out);
	free(pt);
	return 0;
}
