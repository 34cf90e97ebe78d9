/*
 * A member processing Commits (src/mls/group.c) on passive-client-handling-commit.json:
 * each entry joins by Welcome, then for every epoch caches the proposals sent in it,
 * processes the Commit with every check of RFC 9420 12.4.2, and must reach the vector's
 * epoch authenticator. Before the real Commit, in every epoch: the Commit without its
 * cached proposals is refused (NOT_FOUND); with a changed byte in its signature, its
 * confirmation tag or its membership tag it is refused by the membership tag; written
 * again under a fresh membership tag (unchanged, byte for byte the same) with a changed
 * signature it is refused by the signature, with a changed confirmation tag by the
 * confirmation; without our private keys (a Commit with a path), without the external
 * PSKs or without the resumption PSKs of past epochs (a Commit that uses them) it is
 * refused. Each refusal leaves the group as it was, which the real Commit then proves.
 * After it, the same Commit again is refused (it is for the previous epoch).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "mls/group.h"
#include "mls/tls_codec.h"

static size_t total_epochs, total_proposals, with_path, by_type[8], psk_by_type[3];

/* What one Commit holds. */
struct commit_kinds {
	int path, external_psk, resumption_psk;
};

/* Tallies what the vector's Commits exercise: each proposal's type (by value, or by
 * reference through the group's cache), PSK types, and Commits with a path. */
static int
tally(const struct mls_group *g, const uint8_t *commit, size_t len, struct commit_kinds *ck)
{
	struct mls_message m;
	struct mls_commit cm;
	struct mls_proposal p;
	struct cur c, list;
	const uint8_t *ref;
	size_t k;

	memset(ck, 0, sizeof(*ck));
	if (!mls_vec_message(&m, commit, len, MLS_WIRE_PUBLIC_MESSAGE))
		return 0;
	cur_init(&c, m.pub.content.body, m.pub.content.body_len);
	mls_commit_read(&c, &cm);
	with_path += cm.has_path;
	ck->path = cm.has_path;
	cur_init(&list, cm.proposals, cm.proposals_len);
	while (cur_left(&list) > 0 && cur_status(&list) == 0) {
		memset(&p, 0, sizeof(p));
		p.type = 0xff;
		if (cur_u8(&list) == MLS_PROPOSAL_OR_REF_PROPOSAL)
			mls_proposal_read(&list, &p);
		else if ((ref = mls_cur_opaque_fixed(&list, MLS_HASH_LEN)) != NULL)
			for (k = 0; k < g->n_cache; k++)
				if (memcmp(g->cache[k].ref, ref, MLS_HASH_LEN) == 0)
					p = g->cache[k].p;
		if (cur_status(&list) != 0 || p.type >= 8)
			return 0;
		by_type[p.type]++;
		if (p.type == MLS_PROPOSAL_PSK && p.psk.type < 3)
			psk_by_type[p.psk.type]++;
		ck->external_psk |= p.type == MLS_PROPOSAL_PSK && p.psk.type == MLS_PSK_EXTERNAL;
		ck->resumption_psk |= p.type == MLS_PROPOSAL_PSK && p.psk.type == MLS_PSK_RESUMPTION;
	}
	return cur_status(&c) == 0 && cur_status(&list) == 0;
}

/* The result of processing the commit with byte i (from the end when negative) flipped. */
static int
refused_changed(struct mls_group *g, const uint8_t *commit, size_t len, long i)
{
	uint8_t *bad = malloc(len);
	size_t at = i < 0 ? len - (size_t)(-i) : (size_t)i;
	int r;

	if (bad == NULL)
		return INT32_MIN;
	memcpy(bad, commit, len);
	bad[at] ^= 0x01;
	r = mls_group_process_commit(g, bad, len);
	free(bad);
	return r;
}

/* The Commit written again with its signature (which = 0) or confirmation tag (1) changed,
 * or nothing changed (2), under a fresh membership tag; the result of processing it, or
 * INT32_MIN if it could not be made. Unchanged, it must come out as the same bytes. */
static int
rewritten(struct mls_group *g, const uint8_t *commit, size_t len, int which)
{
	struct mls_message m;
	struct mls_epoch_keys ek;
	uint8_t sig[MLS_SIG_LEN], tag[MLS_HASH_LEN];
	struct buf out;
	int r = INT32_MIN;

	if (!mls_vec_message(&m, commit, len, MLS_WIRE_PUBLIC_MESSAGE) ||
	    m.pub.auth.signature_len != MLS_SIG_LEN || m.pub.auth.confirmation_tag_len != MLS_HASH_LEN)
		return r;
	memcpy(sig, m.pub.auth.signature, sizeof(sig));
	memcpy(tag, m.pub.auth.confirmation_tag, sizeof(tag));
	if (which == 0)
		sig[5] ^= 0x20;
	else if (which == 1)
		tag[5] ^= 0x20;
	m.pub.auth.signature = sig;
	m.pub.auth.confirmation_tag = tag;
	mls_group_epoch_keys(g, &ek);
	buf_init_dyn(&out, 2 * len);
	if (mls_public_message_write(&out, &m.pub, &ek) == 0) {
		if (which == 2)
			r = out.len == len && memcmp(out.p, commit, len) == 0 ? 0 : -1;
		else
			r = mls_group_process_commit(g, out.p, out.len);
	}
	buf_free(&out);
	return r;
}

/* Refusals that must leave g as it was: no private keys for a Commit with a path, no
 * external PSKs, no resumption PSKs of past epochs. */
static int
refused_without_secrets(struct mls_group *g, const uint8_t *commit, size_t len,
    const struct commit_kinds *ck)
{
	struct mls_group_resumption past[MLS_GROUP_RESUMPTION_MAX];
	size_t n;
	int ok = 1;

	if (ck->path) {
		n = g->n_keys;
		g->n_keys = 0;
		VCHECK(ok, mls_group_process_commit(g, commit, len) == SOTTO_ERR_NOT_FOUND);
		g->n_keys = n;
	}
	if (ck->external_psk) {
		n = g->n_external_psks;
		g->n_external_psks = 0;
		VCHECK(ok, mls_group_process_commit(g, commit, len) == SOTTO_ERR_NOT_FOUND);
		g->n_external_psks = n;
	}
	if (ck->resumption_psk) {
		memcpy(past, g->past, sizeof(past));
		memset(g->past, 0, sizeof(g->past));
		VCHECK(ok, mls_group_process_commit(g, commit, len) == SOTTO_ERR_NOT_FOUND);
		memcpy(g->past, past, sizeof(past));
		sodium_memzero(past, sizeof(past));
	}
	return ok;
}

static int
epoch_step(struct mls_group *g, const json_t *ep, size_t k)
{
	const json_t *props = json_object_get(ep, "proposals"), *p;
	size_t len, i;
	uint8_t *commit = mls_vec_hex(ep, "commit", &len);
	int ok = commit != NULL;
	uint64_t before = g->gc.epoch;
	struct commit_kinds ck;

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
	/* The message ends with signature<V>, confirmation_tag<V>, membership_tag<V>; the
	 * membership tag covers the other two, so a change to either is first caught there. */
	VCHECK(ok, refused_changed(g, commit, len, -1) == SOTTO_ERR_AUTH);
	VCHECK(ok, refused_changed(g, commit, len, -(1 + 33)) == SOTTO_ERR_AUTH);
	VCHECK(ok, refused_changed(g, commit, len, -(1 + 33 + 33)) == SOTTO_ERR_AUTH);
	/* Under a fresh membership tag, the signature and the confirmation tag are checked. */
	VCHECK(ok, rewritten(g, commit, len, 2) == 0);
	VCHECK(ok, rewritten(g, commit, len, 0) == SOTTO_ERR_BAD_SIGNATURE);
	VCHECK(ok, rewritten(g, commit, len, 1) == SOTTO_ERR_AUTH);
	VCHECK(ok, tally(g, commit, len, &ck));
	ok &= refused_without_secrets(g, commit, len, &ck);
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
	printf("# passive-client-handling-commit.json: %zu epochs (%zu commits with a path), "
	    "%zu proposals cached and referenced\n", total_epochs, with_path, total_proposals);
	printf("# proposals committed: %zu add, %zu update, %zu remove, %zu psk (%zu external, "
	    "%zu resumption), %zu group_context_extensions\n", by_type[MLS_PROPOSAL_ADD],
	    by_type[MLS_PROPOSAL_UPDATE], by_type[MLS_PROPOSAL_REMOVE], by_type[MLS_PROPOSAL_PSK],
	    psk_by_type[MLS_PSK_EXTERNAL], psk_by_type[MLS_PSK_RESUMPTION],
	    by_type[MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS]);
	return check_summary();
}
