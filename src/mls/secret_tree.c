#include "mls/secret_tree.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "crypto/init.h"
#include "mls/crypto.h"
#include "mls/tree_math.h"

int
mls_secret_tree_init(struct mls_secret_tree *t, const uint8_t encryption_secret[static MLS_HASH_LEN],
    uint32_t n_leaves)
{
	uint32_t w = mls_tree_node_width(n_leaves);
	int r;

	memset(t, 0, sizeof(*t));
	if (!mls_tree_valid_width(n_leaves))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = sotto_crypto_init()) != 0)
		return r;
	t->node = sodium_allocarray(w, MLS_HASH_LEN);
	t->present = calloc(w, 1);
	t->ratchets = sodium_allocarray(2 * (size_t)n_leaves, sizeof(struct mls_ratchet));
	t->started = calloc(n_leaves, 1);
	t->skipped = sodium_allocarray(MLS_SKIPPED_KEYS_MAX, sizeof(struct mls_skipped_key));
	if (t->node == NULL || t->present == NULL || t->ratchets == NULL || t->started == NULL ||
	    t->skipped == NULL) {
		mls_secret_tree_free(t);
		return SOTTO_ERR_NOMEM;
	}
	sodium_memzero(t->skipped, MLS_SKIPPED_KEYS_MAX * sizeof(struct mls_skipped_key));
	t->n_leaves = n_leaves;
	memcpy(t->node[mls_tree_root(n_leaves)], encryption_secret, MLS_HASH_LEN);
	t->present[mls_tree_root(n_leaves)] = 1;
	return 0;
}

void
mls_secret_tree_free(struct mls_secret_tree *t)
{
	sodium_free(t->node);   /* wipes */
	sodium_free(t->ratchets);
	sodium_free(t->skipped);
	free(t->present);
	free(t->started);
	memset(t, 0, sizeof(*t));
}

void
mls_secret_tree_retire(struct mls_secret_tree *t)
{
	uint32_t l;
	size_t i;

	for (l = 0; l < t->n_leaves; l++)
		mls_ratchet_wipe(&t->ratchets[2 * (size_t)l]);
	for (i = 0; i < MLS_SKIPPED_KEYS_MAX; i++)
		if (t->skipped[i].used && t->skipped[i].handshake)
			sodium_memzero(&t->skipped[i], sizeof(t->skipped[i]));
	t->application_only = 1;
}

/* Replaces node x's secret by its two children's, wiping it. */
static int
split(struct mls_secret_tree *t, uint32_t x)
{
	uint32_t l, rt;
	int r;

	if ((r = mls_tree_left(&l, x)) != 0 || (r = mls_tree_right(&rt, x)) != 0)
		return r;
	if ((r = mls_expand_with_label(t->node[l], MLS_HASH_LEN, t->node[x], "tree",
	    (const uint8_t *)"left", 4)) != 0 ||
	    (r = mls_expand_with_label(t->node[rt], MLS_HASH_LEN, t->node[x], "tree",
	    (const uint8_t *)"right", 5)) != 0) {
		sodium_memzero(t->node[l], MLS_HASH_LEN);
		sodium_memzero(t->node[rt], MLS_HASH_LEN);
		return r;
	}
	t->present[l] = t->present[rt] = 1;
	t->present[x] = 0;
	sodium_memzero(t->node[x], MLS_HASH_LEN);
	return 0;
}

int
mls_secret_tree_leaf(struct mls_secret_tree *t, uint32_t leaf, struct mls_ratchet *handshake,
    struct mls_ratchet *application)
{
	uint32_t x, target;
	int r;

	if (t->node == NULL || leaf >= t->n_leaves)
		return SOTTO_ERR_INVALID_ARG;
	target = 2 * leaf;
	/* Up to the nearest ancestor that still holds a secret... */
	for (x = target; !t->present[x]; ) {
		if (x == mls_tree_root(t->n_leaves))
			return SOTTO_ERR_STATE;
		if ((r = mls_tree_parent(&x, x, t->n_leaves)) != 0)
			return r;
	}
	/* ...then down to the leaf, consuming each node on the way. */
	while (x != target) {
		if ((r = split(t, x)) != 0)
			return r;
		if ((r = target < x ? mls_tree_left(&x, x) : mls_tree_right(&x, x)) != 0)
			return r;
	}
	handshake->generation = application->generation = 0;
	if ((r = mls_expand_with_label(handshake->secret, MLS_HASH_LEN, t->node[x], "handshake",
	    NULL, 0)) != 0 ||
	    (r = mls_expand_with_label(application->secret, MLS_HASH_LEN, t->node[x],
	    "application", NULL, 0)) != 0) {
		mls_ratchet_wipe(handshake);
		mls_ratchet_wipe(application);
		return r;
	}
	t->present[x] = 0;
	sodium_memzero(t->node[x], MLS_HASH_LEN);
	return 0;
}

int
mls_ratchet_key(struct mls_ratchet *rt, uint32_t generation, uint8_t key[static MLS_AEAD_KEY_LEN],
    uint8_t nonce[static MLS_AEAD_NONCE_LEN])
{
	uint8_t next[MLS_HASH_LEN];    /* SECRET */
	int r = 0;

	if (generation < rt->generation)
		return SOTTO_ERR_REPLAY;
	if (generation - rt->generation > MLS_RATCHET_MAX_SKIP)
		return SOTTO_ERR_TOO_MANY_SKIPPED;
	if (generation == UINT32_MAX)
		return SOTTO_ERR_LIMIT;   /* the last uint32 is never used, so the count cannot wrap */
	for (;;) {
		if (rt->generation == generation &&
		    ((r = mls_derive_tree_secret(key, MLS_AEAD_KEY_LEN, rt->secret, "key",
		    generation)) != 0 ||
		    (r = mls_derive_tree_secret(nonce, MLS_AEAD_NONCE_LEN, rt->secret, "nonce",
		    generation)) != 0))
			break;
		if ((r = mls_derive_tree_secret(next, MLS_HASH_LEN, rt->secret, "secret",
		    rt->generation)) != 0)
			break;
		memcpy(rt->secret, next, MLS_HASH_LEN);
		if (rt->generation++ == generation)
			break;
	}
	sodium_memzero(next, sizeof(next));
	if (r != 0) {
		sodium_memzero(key, MLS_AEAD_KEY_LEN);
		sodium_memzero(nonce, MLS_AEAD_NONCE_LEN);
	}
	return r;
}

int
mls_secret_tree_ratchet(struct mls_secret_tree *t, uint32_t leaf, int handshake,
    struct mls_ratchet **out)
{
	int r;

	if (t->node == NULL || leaf >= t->n_leaves)
		return SOTTO_ERR_INVALID_ARG;
	if (handshake && t->application_only)
		return SOTTO_ERR_STATE;
	if (!t->started[leaf]) {
		if ((r = mls_secret_tree_leaf(t, leaf, &t->ratchets[2 * (size_t)leaf],
		    &t->ratchets[2 * (size_t)leaf + 1])) != 0)
			return r;
		if (t->application_only)
			mls_ratchet_wipe(&t->ratchets[2 * (size_t)leaf]);
		t->started[leaf] = 1;
	}
	*out = &t->ratchets[2 * (size_t)leaf + (handshake ? 0 : 1)];
	return 0;
}

static struct mls_skipped_key *
find_skipped(struct mls_secret_tree *t, uint32_t leaf, int handshake, uint32_t generation)
{
	size_t i;

	for (i = 0; i < MLS_SKIPPED_KEYS_MAX; i++) {
		struct mls_skipped_key *k = &t->skipped[i];

		if (k->used && k->leaf == leaf && k->generation == generation &&
		    k->handshake == (handshake ? 1 : 0))
			return k;
	}
	return NULL;
}

/* Keeps a skipped generation's key, in a free slot or in place of the oldest. */
static void
store_skipped(struct mls_secret_tree *t, uint32_t leaf, int handshake, uint32_t generation,
    const uint8_t key[static MLS_AEAD_KEY_LEN], const uint8_t nonce[static MLS_AEAD_NONCE_LEN])
{
	struct mls_skipped_key *slot = &t->skipped[0];
	size_t i;

	for (i = 0; i < MLS_SKIPPED_KEYS_MAX; i++) {
		if (!t->skipped[i].used) {
			slot = &t->skipped[i];
			break;
		}
		if (t->skipped[i].stored < slot->stored)
			slot = &t->skipped[i];
	}
	slot->leaf = leaf;
	slot->generation = generation;
	slot->handshake = handshake ? 1 : 0;
	slot->used = 1;
	slot->stored = t->stores++;
	memcpy(slot->key, key, MLS_AEAD_KEY_LEN);
	memcpy(slot->nonce, nonce, MLS_AEAD_NONCE_LEN);
}

int
mls_secret_tree_peek_key(struct mls_secret_tree *t, uint32_t leaf, int handshake,
    uint32_t generation, uint8_t key[static MLS_AEAD_KEY_LEN],
    uint8_t nonce[static MLS_AEAD_NONCE_LEN])
{
	struct mls_skipped_key *k;
	struct mls_ratchet *rt, trial;    /* SECRET */
	int r;

	if ((r = mls_secret_tree_ratchet(t, leaf, handshake, &rt)) != 0)
		return r;
	if ((k = find_skipped(t, leaf, handshake, generation)) != NULL) {
		memcpy(key, k->key, MLS_AEAD_KEY_LEN);
		memcpy(nonce, k->nonce, MLS_AEAD_NONCE_LEN);
		return 0;
	}
	trial = *rt;
	r = mls_ratchet_key(&trial, generation, key, nonce);
	mls_ratchet_wipe(&trial);
	return r;
}

int
mls_secret_tree_consume_key(struct mls_secret_tree *t, uint32_t leaf, int handshake,
    uint32_t generation)
{
	uint8_t key[MLS_AEAD_KEY_LEN], nonce[MLS_AEAD_NONCE_LEN];   /* SECRET */
	struct mls_skipped_key *k;
	struct mls_ratchet *rt;
	int r;

	if ((r = mls_secret_tree_ratchet(t, leaf, handshake, &rt)) != 0)
		return r;
	if ((k = find_skipped(t, leaf, handshake, generation)) != NULL) {
		sodium_memzero(k, sizeof(*k));
		return 0;
	}
	if (generation < rt->generation)
		return SOTTO_ERR_REPLAY;
	if (generation - rt->generation > MLS_RATCHET_MAX_SKIP)
		return SOTTO_ERR_TOO_MANY_SKIPPED;
	/* Step one generation at a time, keeping what is skipped (only the newest can stay
	 * in the table anyway). */
	while (r == 0 && rt->generation < generation) {
		uint32_t g = rt->generation;

		if ((r = mls_ratchet_key(rt, g, key, nonce)) == 0 &&
		    generation - g <= MLS_SKIPPED_KEYS_MAX)
			store_skipped(t, leaf, handshake, g, key, nonce);
	}
	if (r == 0)
		r = mls_ratchet_key(rt, generation, key, nonce);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(nonce, sizeof(nonce));
	return r;
}

int
mls_secret_tree_next_key(struct mls_secret_tree *t, uint32_t leaf, int handshake,
    uint32_t *generation, uint8_t key[static MLS_AEAD_KEY_LEN],
    uint8_t nonce[static MLS_AEAD_NONCE_LEN])
{
	struct mls_ratchet *rt;
	int r;

	if ((r = mls_secret_tree_ratchet(t, leaf, handshake, &rt)) != 0)
		return r;
	*generation = rt->generation;
	return mls_ratchet_key(rt, rt->generation, key, nonce);
}

void
mls_ratchet_wipe(struct mls_ratchet *rt)
{
	sodium_memzero(rt, sizeof(*rt));
}

int
mls_sender_data_key(uint8_t key[static MLS_AEAD_KEY_LEN], uint8_t nonce[static MLS_AEAD_NONCE_LEN],
    const uint8_t sender_data_secret[static MLS_HASH_LEN], const uint8_t *ciphertext,
    size_t ciphertext_len)
{
	size_t n = ciphertext_len < MLS_HASH_LEN ? ciphertext_len : MLS_HASH_LEN;
	int r;

	if ((r = mls_expand_with_label(key, MLS_AEAD_KEY_LEN, sender_data_secret, "key",
	    ciphertext, n)) != 0 ||
	    (r = mls_expand_with_label(nonce, MLS_AEAD_NONCE_LEN, sender_data_secret, "nonce",
	    ciphertext, n)) != 0) {
		sodium_memzero(key, MLS_AEAD_KEY_LEN);
		sodium_memzero(nonce, MLS_AEAD_NONCE_LEN);
	}
	return r;
}
