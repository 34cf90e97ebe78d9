/*
 * The secret tree (src/mls/secret_tree.c) on secret-tree.json: the sender-data key and
 * nonce, and for every leaf the handshake and application key and nonce at every listed
 * generation, leaves taken in a shuffled order so that the consumption of shared node
 * secrets is exercised; then deletion and the ratchet's limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "mls/secret_tree.h"

static int
sender_data(const json_t *o)
{
	uint8_t secret[MLS_HASH_LEN], key[MLS_AEAD_KEY_LEN], nonce[MLS_AEAD_NONCE_LEN];
	size_t n;
	uint8_t *ct = mls_vec_hex(o, "ciphertext", &n);
	int ok = ct != NULL && mls_vec_hex_fixed(o, "sender_data_secret", secret, sizeof(secret)) == 0;

	VCHECK(ok, ok && mls_sender_data_key(key, nonce, secret, ct, n) == 0);
	ok = ok && mls_vec_eq(o, "key", key, sizeof(key)) && mls_vec_eq(o, "nonce", nonce, sizeof(nonce));
	free(ct);
	return ok;
}

static int
leaf_generations(const json_t *gens, struct mls_ratchet *hs, struct mls_ratchet *app)
{
	const json_t *g;
	size_t i;
	int ok = 1;

	VCHECK(ok, json_array_size(gens) > 0);
	json_array_foreach(gens, i, g) {
		uint8_t key[MLS_AEAD_KEY_LEN], nonce[MLS_AEAD_NONCE_LEN];
		uint64_t gen = mls_vec_uint(g, "generation", &ok);

		if (!ok || gen >= UINT32_MAX)
			return 0;
		VCHECK(ok, mls_ratchet_key(hs, (uint32_t)gen, key, nonce) == 0);
		ok = ok && mls_vec_eq(g, "handshake_key", key, sizeof(key)) &&
		    mls_vec_eq(g, "handshake_nonce", nonce, sizeof(nonce));
		VCHECK(ok, mls_ratchet_key(app, (uint32_t)gen, key, nonce) == 0);
		ok = ok && mls_vec_eq(g, "application_key", key, sizeof(key)) &&
		    mls_vec_eq(g, "application_nonce", nonce, sizeof(nonce));
		/* A generation is given once. */
		VCHECK(ok, mls_ratchet_key(app, (uint32_t)gen, key, nonce) == SOTTO_ERR_REPLAY);
	}
	return ok;
}

static int
secret_tree_entry(const json_t *e, size_t idx)
{
	const json_t *leaves = json_object_get(e, "leaves");
	uint8_t enc[MLS_HASH_LEN];
	struct mls_secret_tree t;
	struct mls_ratchet hs, app;
	uint32_t n = (uint32_t)json_array_size(leaves), i, leaf;
	int ok = 1;
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	ok &= sender_data(json_object_get(e, "sender_data"));
	if (mls_vec_hex_fixed(e, "encryption_secret", enc, sizeof(enc)) != 0)
		return 0;
	VCHECK(ok, mls_secret_tree_init(&t, enc, n) == 0);
	if (!ok)
		return 0;
	/* Visit leaves in the order 0, n-1, 1, n-2, ... */
	for (i = 0; i < n; i++) {
		leaf = i % 2 == 0 ? i / 2 : n - 1 - i / 2;
		VCHECK(ok, mls_secret_tree_leaf(&t, leaf, &hs, &app) == 0);
		if (ok && !leaf_generations(json_array_get(leaves, leaf), &hs, &app)) {
			printf("# leaf %u of %u wrong\n", leaf, n);
			ok = 0;
		}
		/* Started once only: its secret is gone. */
		VCHECK(ok, mls_secret_tree_leaf(&t, leaf, &hs, &app) == SOTTO_ERR_STATE);
	}
	/* Every node secret has been consumed. */
	for (i = 0; i < 2 * n - 1; i++)
		VCHECK(ok, !t.present[i] && sodium_is_zero(t.node[i], MLS_HASH_LEN));
	mls_ratchet_wipe(&hs);
	mls_ratchet_wipe(&app);
	mls_secret_tree_free(&t);
	return ok;
}

TEST(ratchet_limits)
{
	uint8_t enc[MLS_HASH_LEN] = { 7 }, k1[MLS_AEAD_KEY_LEN], n1[MLS_AEAD_NONCE_LEN];
	uint8_t k2[MLS_AEAD_KEY_LEN], n2[MLS_AEAD_NONCE_LEN];
	struct mls_secret_tree t;
	struct mls_ratchet hs, app, copy;

	CHECK_EQ_INT(mls_secret_tree_init(&t, enc, 3), SOTTO_ERR_INVALID_ARG);
	REQUIRE(mls_secret_tree_init(&t, enc, 4) == 0);
	CHECK_EQ_INT(mls_secret_tree_leaf(&t, 4, &hs, &app), SOTTO_ERR_INVALID_ARG);
	REQUIRE(mls_secret_tree_leaf(&t, 2, &hs, &app) == 0);
	copy = app;
	CHECK_EQ_INT(mls_ratchet_key(&app, MLS_RATCHET_MAX_SKIP + 1, k1, n1), SOTTO_ERR_TOO_MANY_SKIPPED);
	CHECK_EQ_INT(app.generation, 0);
	/* Jumping ahead equals stepping. */
	REQUIRE(mls_ratchet_key(&app, MLS_RATCHET_MAX_SKIP, k1, n1) == 0);
	CHECK_EQ_INT(app.generation, MLS_RATCHET_MAX_SKIP + 1);
	for (uint32_t g = 0; g <= MLS_RATCHET_MAX_SKIP; g++)
		REQUIRE(mls_ratchet_key(&copy, g, k2, n2) == 0);
	CHECK_MEM(k1, k2, sizeof(k1));
	CHECK_MEM(n1, n2, sizeof(n1));
	CHECK_MEM(app.secret, copy.secret, sizeof(app.secret));
	CHECK_EQ_INT(mls_ratchet_key(&app, 3, k1, n1), SOTTO_ERR_REPLAY);
	app.generation = UINT32_MAX - 1;
	CHECK(mls_ratchet_key(&app, UINT32_MAX - 1, k1, n1) == 0);
	CHECK_EQ_INT(mls_ratchet_key(&app, UINT32_MAX, k1, n1), SOTTO_ERR_LIMIT);
	/* Leaves 3 and 0 still derive; 2 is gone. */
	CHECK(mls_secret_tree_leaf(&t, 3, &hs, &app) == 0);
	CHECK(mls_secret_tree_leaf(&t, 0, &hs, &app) == 0);
	CHECK_EQ_INT(mls_secret_tree_leaf(&t, 2, &hs, &app), SOTTO_ERR_STATE);
	mls_ratchet_wipe(&hs);
	mls_ratchet_wipe(&app);
	mls_ratchet_wipe(&copy);
	mls_secret_tree_free(&t);
}

/* Keys taken in the order 3, 0, 4, 1, 2 equal the sender's; each is given once; a jump
 * further than the table holds drops the oldest skipped keys. */
TEST(out_of_order_keys)
{
	static const uint32_t order[] = { 3, 0, 4, 1, 2 };
	uint8_t enc[MLS_HASH_LEN] = { 9 }, key[MLS_AEAD_KEY_LEN], nonce[MLS_AEAD_NONCE_LEN];
	uint8_t sent_key[5][MLS_AEAD_KEY_LEN], sent_nonce[5][MLS_AEAD_NONCE_LEN];
	struct mls_secret_tree sender, receiver;
	uint32_t g;
	size_t i;

	REQUIRE(mls_secret_tree_init(&sender, enc, 8) == 0);
	REQUIRE(mls_secret_tree_init(&receiver, enc, 8) == 0);
	for (i = 0; i < 5; i++) {
		REQUIRE(mls_secret_tree_next_key(&sender, 5, 0, &g, sent_key[i], sent_nonce[i]) == 0);
		CHECK_EQ_INT(g, i);
	}
	for (i = 0; i < 5; i++) {
		g = order[i];
		REQUIRE(mls_secret_tree_peek_key(&receiver, 5, 0, g, key, nonce) == 0);
		CHECK_MEM(key, sent_key[g], sizeof(key));
		CHECK_MEM(nonce, sent_nonce[g], sizeof(nonce));
		/* Peeking changes nothing; consuming does. */
		REQUIRE(mls_secret_tree_peek_key(&receiver, 5, 0, g, key, nonce) == 0);
		CHECK(mls_secret_tree_consume_key(&receiver, 5, 0, g) == 0);
		CHECK_EQ_INT(mls_secret_tree_peek_key(&receiver, 5, 0, g, key, nonce), SOTTO_ERR_REPLAY);
		CHECK_EQ_INT(mls_secret_tree_consume_key(&receiver, 5, 0, g), SOTTO_ERR_REPLAY);
	}
	/* The handshake ratchet of the same leaf is another one. */
	CHECK(mls_secret_tree_peek_key(&receiver, 5, 1, 0, key, nonce) == 0);
	CHECK(memcmp(key, sent_key[0], sizeof(key)) != 0);
	/* Skip 300: only the newest MLS_SKIPPED_KEYS_MAX skipped keys stay. */
	CHECK(mls_secret_tree_consume_key(&receiver, 5, 0, 5 + 300) == 0);
	CHECK_EQ_INT(mls_secret_tree_peek_key(&receiver, 5, 0, 5, key, nonce), SOTTO_ERR_REPLAY);
	CHECK(mls_secret_tree_peek_key(&receiver, 5, 0, 5 + 300 - MLS_SKIPPED_KEYS_MAX, key, nonce) == 0);
	CHECK(mls_secret_tree_peek_key(&receiver, 5, 0, 5 + 299, key, nonce) == 0);
	mls_secret_tree_free(&sender);
	mls_secret_tree_free(&receiver);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("secret-tree.json", 3, secret_tree_entry);
	RUN(ratchet_limits);
	RUN(out_of_order_keys);
	return check_summary();
}
