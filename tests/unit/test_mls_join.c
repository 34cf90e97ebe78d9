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

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "mls/join.h"
#include "mls/message.h"

static int
join_entry(const json_t *e, size_t idx)
{
	struct mls_vec_passive v;
	struct mls_joined j;
	int ok = mls_vec_passive_load(&v, e);
	(void)idx;

	VCHECK(ok, json_array_size(json_object_get(e, "epochs")) == 0);   /* joining only */
	VCHECK(ok, ok && mls_join(&j, &v.w->welcome, &v.in) == 0);
	if (!ok)
		goto out;
	ok &= mls_vec_eq(e, "initial_epoch_authenticator", j.epoch.epoch_authenticator, MLS_HASH_LEN);
	mls_joined_free(&j);
	/* Refusals: without the PSK; with another init key; with another group's tree. */
	if (v.in.n_psks > 0) {
		size_t n = v.in.n_psks;

		v.in.n_psks = 0;
		VCHECK(ok, mls_join(&j, &v.w->welcome, &v.in) == SOTTO_ERR_NOT_FOUND);
		v.in.n_psks = n;
	}
	v.init_sec[1] ^= 1;
	VCHECK(ok, mls_join(&j, &v.w->welcome, &v.in) == SOTTO_ERR_DECRYPT);
	v.init_sec[1] ^= 1;
	if (v.tree != NULL) {
		size_t other_len;
		uint8_t *other = mls_vec_file_hex("tree-validation.json", 2, "tree", &other_len);

		v.in.ratchet_tree = other;
		v.in.ratchet_tree_len = other_len;
		VCHECK(ok, other != NULL && mls_join(&j, &v.w->welcome, &v.in) == SOTTO_ERR_AUTH);
		free(other);
	}
out:
	mls_vec_passive_free(&v);
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
