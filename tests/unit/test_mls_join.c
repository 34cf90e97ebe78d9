/*
 * Joining by Welcome with every check a new member makes (src/mls/join.c) on
 * passive-client-welcome.json: our keys match our KeyPackage, the Welcome opens (with
 * external PSKs where the entry has them), the tree (out of band or from the GroupInfo)
 * has the right hash, parent hashes and signatures, the GroupInfo's signer and the
 * confirmation tag verify, and the epoch authenticator is the vector's. Then a missing
 * PSK, another init key and a tree that is not the group's are refused.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/dh.h"
#include "crypto/init.h"
#include "crypto/sign.h"
#include "mls/join.h"
#include "mls/message.h"

#define PSKS_MAX 8

static int
join_entry(const json_t *e, size_t idx)
{
	const json_t *ext = json_object_get(e, "external_psks"), *x;
	uint8_t init_sec[32], enc_sec[32], seed[32], pub[32], sig_sec[64];
	uint8_t *psk_bufs[2 * PSKS_MAX] = { NULL };
	struct mls_psk psks[PSKS_MAX];
	size_t kp_len, w_len, tree_len = 0, i;
	uint8_t *kp_bytes = mls_vec_hex(e, "key_package", &kp_len);
	uint8_t *w_bytes = mls_vec_hex(e, "welcome", &w_len);
	uint8_t *tree = NULL;
	struct mls_message kp, w;
	struct mls_join_input in;
	struct mls_joined j;
	int ok = kp_bytes != NULL && w_bytes != NULL &&
	    mls_vec_hex_fixed(e, "init_priv", init_sec, 32) == 0 &&
	    mls_vec_hex_fixed(e, "encryption_priv", enc_sec, 32) == 0 &&
	    mls_vec_hex_fixed(e, "signature_priv", seed, 32) == 0;
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	VCHECK(ok, json_array_size(json_object_get(e, "epochs")) == 0);   /* joining only */
	VCHECK(ok, json_array_size(ext) <= PSKS_MAX);
	if (!json_is_null(json_object_get(e, "ratchet_tree")))
		ok &= (tree = mls_vec_hex(e, "ratchet_tree", &tree_len)) != NULL;
	if (!ok)
		goto out;
	VCHECK(ok, mls_vec_message(&kp, kp_bytes, kp_len, MLS_WIRE_KEY_PACKAGE));
	VCHECK(ok, mls_vec_message(&w, w_bytes, w_len, MLS_WIRE_WELCOME));
	if (!ok)
		goto out;
	/* Our three private keys are our KeyPackage's. */
	VCHECK(ok, dh_public(pub, init_sec) == 0 && memcmp(pub, kp.key_package.init_key, 32) == 0);
	VCHECK(ok, dh_public(pub, enc_sec) == 0 &&
	    memcmp(pub, kp.key_package.leaf.encryption_key, 32) == 0);
	VCHECK(ok, sign_seed_keypair(pub, sig_sec, seed) == 0 &&
	    memcmp(pub, kp.key_package.leaf.signature_key, 32) == 0);
	json_array_foreach(ext, i, x) {
		memset(&psks[i], 0, sizeof(psks[i]));
		psks[i].type = MLS_PSK_EXTERNAL;
		psk_bufs[2 * i] = mls_vec_hex(x, "psk_id", &psks[i].id_len);
		psk_bufs[2 * i + 1] = mls_vec_hex(x, "psk", &psks[i].psk_len);
		psks[i].id = psk_bufs[2 * i];
		psks[i].psk = psk_bufs[2 * i + 1];
		ok &= psks[i].id != NULL && psks[i].psk != NULL;
	}
	in.key_package = &kp.key_package;
	in.init_sec = init_sec;
	in.ratchet_tree = tree;
	in.ratchet_tree_len = tree_len;
	in.psks = psks;
	in.n_psks = json_array_size(ext);
	VCHECK(ok, ok && mls_join(&j, &w.welcome, &in) == 0);
	if (!ok)
		goto out;
	ok &= mls_vec_eq(e, "initial_epoch_authenticator", j.epoch.epoch_authenticator, MLS_HASH_LEN);
	mls_joined_free(&j);
	/* Refusals: without the PSK; with another init key; with another group's tree. */
	if (in.n_psks > 0) {
		in.n_psks = 0;
		VCHECK(ok, mls_join(&j, &w.welcome, &in) == SOTTO_ERR_NOT_FOUND);
		in.n_psks = json_array_size(ext);
	}
	init_sec[1] ^= 1;
	VCHECK(ok, mls_join(&j, &w.welcome, &in) == SOTTO_ERR_DECRYPT);
	init_sec[1] ^= 1;
	if (tree != NULL) {
		size_t other_len;
		uint8_t *other = mls_vec_file_hex("tree-validation.json", 2, "tree", &other_len);

		in.ratchet_tree = other;
		in.ratchet_tree_len = other_len;
		VCHECK(ok, other != NULL && mls_join(&j, &w.welcome, &in) == SOTTO_ERR_AUTH);
		free(other);
	}
out:
	sodium_memzero(init_sec, sizeof(init_sec));
	sodium_memzero(enc_sec, sizeof(enc_sec));
	sodium_memzero(sig_sec, sizeof(sig_sec));
	for (i = 0; i < 2 * PSKS_MAX; i++)
		free(psk_bufs[i]);
	free(tree);
	free(kp_bytes);
	free(w_bytes);
	return ok;
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("passive-client-welcome.json", 8, join_entry);
	return check_summary();
}
