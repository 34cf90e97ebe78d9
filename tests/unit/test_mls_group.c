/*
 * A member processing Commits (src/mls/group.c) on passive-client-handling-commit.json:
 * each entry joins by Welcome, then for every epoch caches the proposals sent in it,
 * processes the Commit with every check of RFC 9420 12.4.2, and must reach the vector's
 * epoch authenticator. Before the real Commit, in every epoch: the Commit without its
 * cached proposals is refused (NOT_FOUND), and the Commit with a changed byte in its
 * signature, its membership tag or its confirmation tag is refused; each refusal leaves the
 * group as it was, which the real Commit then proves. After it, the same Commit again is
 * refused (it is for the previous epoch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "mls/group.h"

static size_t total_epochs, total_proposals;

/* The commit with byte i (from the end when negative) flipped must be refused. */
static int
refused_changed(struct mls_group *g, const uint8_t *commit, size_t len, long i)
{
	uint8_t *bad = malloc(len);
	size_t at = i < 0 ? len - (size_t)(-i) : (size_t)i;
	int r;

	if (bad == NULL)
		return 0;
	memcpy(bad, commit, len);
	bad[at] ^= 0x01;
	r = mls_group_process_commit(g, bad, len);
	free(bad);
	return r != 0;
}

static int
epoch_step(struct mls_group *g, const json_t *ep, size_t k)
{
	const json_t *props = json_object_get(ep, "proposals"), *p;
	size_t len, i;
	uint8_t *commit = mls_vec_hex(ep, "commit", &len);
	int ok = commit != NULL;
	uint64_t before = g->gc.epoch;

	(void)k;
	if (!ok)
		return 0;
	if (json_array_size(props) > 0)
		VCHECK(ok, mls_group_process_commit(g, commit, len) == SOTTO_ERR_NOT_FOUND);
	json_array_foreach(props, i, p) {
		const char *hex = json_string_value(p);
		size_t cap = hex != NULL ? strlen(hex) / 2 + 1 : 1;
		uint8_t *pb = malloc(cap);
		long plen = hex != NULL && pb != NULL ? check_unhex(hex, pb, cap) : -1;

		VCHECK(ok, plen >= 0 && mls_group_cache_proposal(g, pb, (size_t)plen) == 0);
		free(pb);
		total_proposals++;
	}
	/* The confirmation tag is the last 32 bytes, after its length; the membership tag
	 * follows it in a PublicMessage (last 32 bytes of the message). */
	VCHECK(ok, refused_changed(g, commit, len, -1));           /* membership tag */
	VCHECK(ok, refused_changed(g, commit, len, -(1 + 33)));    /* confirmation tag */
	VCHECK(ok, g->gc.epoch == before);
	VCHECK(ok, mls_group_process_commit(g, commit, len) == 0);
	VCHECK(ok, g->gc.epoch == before + 1);
	ok &= mls_vec_eq(ep, "epoch_authenticator", g->epoch.epoch_authenticator, MLS_HASH_LEN);
	VCHECK(ok, mls_group_process_commit(g, commit, len) == SOTTO_ERR_STATE);
	free(commit);
	total_epochs++;
	return ok;
}

static int
commit_entry(const json_t *e, size_t idx)
{
	struct mls_vec_passive v;
	struct mls_joined j;
	struct mls_group g;
	const json_t *ep;
	size_t k;
	int ok = mls_vec_passive_load(&v, e), joined = 0, grouped = 0;
	(void)idx;

	VCHECK(ok, json_array_size(json_object_get(e, "epochs")) > 0);
	VCHECK(ok, ok && (joined = mls_join(&j, &v.w->welcome, &v.in) == 0));
	VCHECK(ok, ok && (grouped = mls_group_from_join(&g, &j, v.enc_sec, v.psks, v.in.n_psks) == 0));
	if (!ok)
		goto out;
	ok &= mls_vec_eq(e, "initial_epoch_authenticator", g.epoch.epoch_authenticator, MLS_HASH_LEN);
	json_array_foreach(json_object_get(e, "epochs"), k, ep)
		if (ok && !epoch_step(&g, ep, k))
			ok = 0;
out:
	if (grouped)
		mls_group_free(&g);
	if (joined)
		mls_joined_free(&j);
	mls_vec_passive_free(&v);
	return ok;
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("passive-client-handling-commit.json", 13, commit_entry);
	printf("# passive-client-handling-commit.json: %zu epochs, %zu proposals by reference\n",
	    total_epochs, total_proposals);
	return check_summary();
}
