/*
 * The committing side (RFC 9420 sections 11, 12.4.1, 12.4.3): creating a group of one,
 * and a Commit with Add and Remove proposals by value and always a path, with the Welcome
 * for the members it adds.
 */
#include "mls/group.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "crypto/dh.h"
#include "crypto/rand.h"
#include "mls/crypto.h"
#include "mls/group_internal.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"
#include "mls/transcript.h"
#include "mls/tree_math.h"

static const uint8_t empty[1];

int
mls_group_create(struct mls_group *g, const uint8_t *group_id, size_t group_id_len,
    const struct mls_key_package *own, const uint8_t enc_sec[static MLS_KEM_SECRET_LEN])
{
	struct mls_group_context gc = { 0 };
	uint8_t init_secret[MLS_HASH_LEN], zero[MLS_HASH_LEN] = { 0 };   /* SECRET */
	uint8_t tree_hash[MLS_HASH_LEN], tag[MLS_HASH_LEN];
	struct buf tree;
	int r;

	memset(g, 0, sizeof(*g));
	buf_init_dyn(&g->gc_bytes, MLS_MESSAGE_MAX);
	buf_init_dyn(&tree, MLS_MESSAGE_MAX);
	if (group_id_len == 0 || group_id_len > MLS_GROUP_ID_MAX) {
		r = SOTTO_ERR_INVALID_ARG;
		goto out;
	}
	if ((g->cache = calloc(MLS_GROUP_PROPOSALS_MAX, sizeof(*g->cache))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	/* The tree: our leaf alone (one present Node of type leaf). */
	mls_buf_varint(&tree, 2 + own->leaf.encoding_len);
	buf_u8(&tree, 1);
	buf_u8(&tree, MLS_NODE_LEAF);
	buf_put(&tree, own->leaf.encoding, own->leaf.encoding_len);
	if ((r = buf_status(&tree)) != 0 ||
	    (r = mls_ratchet_tree_decode(&g->tree, tree.p, tree.len)) != 0 ||
	    (r = mls_ratchet_tree_hash(&g->tree, 0, tree_hash)) != 0)
		goto out;
	/* Epoch 0: an empty confirmed transcript hash and a random init secret. */
	gc.version = MLS_PROTOCOL_VERSION_MLS10;
	gc.cipher_suite = MLS_CIPHER_SUITE;
	gc.group_id = group_id;
	gc.group_id_len = group_id_len;
	gc.tree_hash = tree_hash;
	gc.tree_hash_len = MLS_HASH_LEN;
	gc.confirmed_transcript_hash = empty;
	gc.extensions = empty;
	mls_group_context_write(&g->gc_bytes, &gc);
	rand_bytes(init_secret, sizeof(init_secret));
	if ((r = buf_status(&g->gc_bytes)) != 0 ||
	    (r = mls_key_schedule_advance(&g->epoch, init_secret, zero, zero, g->gc_bytes.p,
	    g->gc_bytes.len)) != 0)
		goto out;
	mls_interim_transcript_hash_0(g->interim, tag, g->epoch.confirmation_key);
	g->own_leaf = 0;
	if ((r = mls_group_keys_set(g->keys, &g->n_keys, 0, enc_sec)) != 0 ||
	    (r = mls_secret_tree_init(&g->secrets, g->epoch.encryption_secret, 1)) != 0)
		goto out;
	if ((r = mls_group_read_context(g)) != 0)
		goto out;
	mls_group_remember_resumption(g);
out:
	sodium_memzero(init_secret, sizeof(init_secret));
	buf_free(&tree);
	if (r != 0)
		mls_group_free(g);
	return r;
}

/* GroupInfo { GroupContext; extensions (ratchet_tree); confirmation_tag; signer;
 * signature over GroupInfoTBS }, written to out. */
static int
write_group_info(struct buf *out, const struct mls_group *g, const struct mls_ratchet_tree *t,
    const uint8_t *gc_bytes, size_t gc_len, const uint8_t tag[static MLS_HASH_LEN],
    const uint8_t sig_sec[static 64])
{
	uint8_t sig[MLS_SIG_LEN];
	struct buf tree, ext;
	int r;

	buf_init_dyn(&tree, MLS_MESSAGE_MAX);
	buf_init_dyn(&ext, MLS_MESSAGE_MAX);
	if ((r = mls_ratchet_tree_encode(t, &tree)) != 0)
		goto out;
	buf_u16(&ext, MLS_EXTENSION_RATCHET_TREE);
	mls_buf_opaque(&ext, tree.p, tree.len);
	buf_reset(out);
	buf_put(out, gc_bytes, gc_len);
	mls_buf_opaque(out, ext.p, ext.len);
	mls_buf_opaque(out, tag, MLS_HASH_LEN);
	buf_u32(out, g->own_leaf);
	if ((r = buf_status(&ext)) != 0 || (r = buf_status(out)) != 0 ||
	    (r = mls_sign_with_label(sig, sig_sec, "GroupInfoTBS", out->p, out->len)) != 0)
		goto out;
	mls_buf_opaque(out, sig, sizeof(sig));
	r = buf_status(out);
out:
	buf_free(&tree);
	buf_free(&ext);
	return r;
}

/* The Welcome as an MLSMessage: the GroupInfo sealed under the welcome secret's key and
 * nonce, and for each added member GroupSecrets { joiner_secret; the path secret of the
 * lowest node of our path above it; no PSKs } encrypted to its init key. */
static int
write_welcome(struct buf *out, const struct mls_group *g, const struct mls_ratchet_tree *t,
    const struct mls_epoch_secrets *epoch, const struct buf *group_info,
    const struct mls_group_resolved *rp, size_t n, const uint32_t *added,
    const struct mls_path_secrets *ps)
{
	uint8_t key[MLS_AEAD_KEY_LEN], nonce[MLS_AEAD_NONCE_LEN];   /* SECRET */
	uint8_t ref[MLS_HASH_LEN], kem[MLS_KEM_PUBLIC_LEN], egi_hash[MLS_HASH_LEN];
	struct buf egi, secrets, gs, ct;
	struct mls_filtered_path fp;
	size_t i, k, a = 0;
	uint32_t lca;
	int r;

	buf_init_dyn(&egi, MLS_MESSAGE_MAX);
	buf_init_dyn(&secrets, MLS_MESSAGE_MAX);
	buf_init_dyn(&gs, 4 * MLS_HASH_LEN);
	buf_init_dyn(&ct, 4 * MLS_HASH_LEN + MLS_AEAD_TAG_LEN);
	if ((r = mls_filtered_direct_path(t, g->own_leaf, &fp)) != 0 ||
	    (r = mls_expand_with_label(key, sizeof(key), epoch->welcome_secret, "key", NULL, 0)) != 0 ||
	    (r = mls_expand_with_label(nonce, sizeof(nonce), epoch->welcome_secret, "nonce", NULL, 0)) != 0)
		goto out;
	if (buf_reserve(&egi, group_info->len + MLS_AEAD_TAG_LEN) == NULL) {
		r = buf_status(&egi);
		goto out;
	}
	if (crypto_aead_chacha20poly1305_ietf_encrypt(egi.p, NULL, group_info->p, group_info->len,
	    NULL, 0, NULL, nonce, key) != 0) {
		r = SOTTO_ERR_CRYPTO;
		goto out;
	}
	/* Every GroupSecrets has the encrypted GroupInfo as its context: hashed once. */
	if ((r = mls_encrypt_context_hash(egi_hash, "Welcome", egi.p, egi.len)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		const struct mls_key_package *kp = &rp[i].p.add;

		if (rp[i].p.type != MLS_PROPOSAL_ADD)
			continue;
		lca = mls_tree_common_ancestor(g->own_leaf, added[a++], t->n_leaves);
		for (k = 0; k < fp.n && fp.node[k] != lca; k++)
			;
		if (k == fp.n) {
			r = SOTTO_ERR_INTERNAL;
			goto out;
		}
		buf_reset(&gs);
		mls_buf_opaque(&gs, epoch->joiner_secret, MLS_HASH_LEN);
		buf_u8(&gs, 1);
		mls_buf_opaque(&gs, ps->path_secret[k], MLS_HASH_LEN);
		buf_u8(&gs, 0);   /* psks */
		buf_reset(&ct);
		if ((r = buf_status(&gs)) != 0 ||
		    buf_reserve(&ct, gs.len + MLS_AEAD_TAG_LEN) == NULL ||
		    (r = mls_encrypt_with_label_hashed(kem, ct.p, kp->init_key, egi_hash, gs.p,
		    gs.len)) != 0 ||
		    (r = mls_key_package_ref(ref, kp->encoding, kp->encoding_len)) != 0)
			goto out;
		mls_buf_opaque(&secrets, ref, sizeof(ref));
		mls_buf_opaque(&secrets, kem, sizeof(kem));
		mls_buf_opaque(&secrets, ct.p, ct.len);
	}
	buf_u16(out, MLS_PROTOCOL_VERSION_MLS10);
	buf_u16(out, MLS_WIRE_WELCOME);
	buf_u16(out, MLS_CIPHER_SUITE);
	mls_buf_opaque(out, secrets.p, secrets.len);
	mls_buf_opaque(out, egi.p, egi.len);
	if ((r = buf_status(&ct)) == 0 && (r = buf_status(&secrets)) == 0)
		r = buf_status(out);
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(nonce, sizeof(nonce));
	buf_free(&egi);
	buf_free(&secrets);
	buf_wipe_free(&gs);
	buf_free(&ct);
	return r;
}

int
mls_group_commit(struct mls_group *g, const uint8_t sig_sec[static 64],
    const struct mls_commit_spec *spec, struct buf *commit_out, struct buf *welcome_out)
{
	struct mls_group_resolved *rp = NULL;
	struct mls_ratchet_tree next = { 0 };
	struct mls_epoch_secrets epoch;                                   /* SECRET */
	struct mls_path_secrets ps;                                       /* SECRET */
	struct mls_node_key keys[MLS_GROUP_NODE_KEYS_MAX];                /* SECRET */
	uint8_t leaf_secret[MLS_HASH_LEN], zero[MLS_HASH_LEN] = { 0 };   /* SECRET */
	uint8_t pub[MLS_KEM_PUBLIC_LEN], sec[MLS_KEM_SECRET_LEN];        /* sec SECRET */
	uint8_t confirmed[MLS_HASH_LEN], tree_hash[MLS_HASH_LEN], tag[MLS_HASH_LEN];
	uint8_t sig[MLS_SIG_LEN];
	uint32_t added[MLS_COMMIT_PROPOSALS_MAX];
	const uint8_t *ext = g->gc.extensions;
	size_t ext_len = g->gc.extensions_len, n = 0, n_added = 0, n_keys = g->n_keys, i;
	struct buf props, leaf, path, body, gc_next, group_info;
	struct mls_framed_content fc;
	struct mls_authenticated_content ac;
	struct mls_epoch_keys ek;
	struct mls_filtered_path fp;
	struct mls_commit cm = { 0 };
	uint16_t wire;
	int path_required, r;

	memset(&epoch, 0, sizeof(epoch));
	memset(&ps, 0, sizeof(ps));
	memcpy(keys, g->keys, sizeof(keys));
	buf_init_dyn(&props, MLS_MESSAGE_MAX);
	buf_init_dyn(&leaf, MLS_MESSAGE_MAX);
	buf_init_dyn(&path, MLS_MESSAGE_MAX);
	buf_init_dyn(&body, MLS_MESSAGE_MAX);
	buf_init_dyn(&gc_next, MLS_MESSAGE_MAX);
	buf_init_dyn(&group_info, MLS_MESSAGE_MAX);
	if (spec->n_adds + spec->n_removes > MLS_COMMIT_PROPOSALS_MAX) {
		r = SOTTO_ERR_LIMIT;
		goto out;
	}
	/* The proposals, read back as a receiver would and checked alike. */
	for (i = 0; i < spec->n_removes; i++) {
		buf_u8(&props, MLS_PROPOSAL_OR_REF_PROPOSAL);
		buf_u16(&props, MLS_PROPOSAL_REMOVE);
		buf_u32(&props, spec->removes[i]);
	}
	for (i = 0; i < spec->n_adds; i++) {
		buf_u8(&props, MLS_PROPOSAL_OR_REF_PROPOSAL);
		buf_u16(&props, MLS_PROPOSAL_ADD);
		buf_put(&props, spec->add_kps[i], spec->add_lens[i]);
	}
	for (i = 0; spec->cached && i < g->n_cache; i++) {
		buf_u8(&props, MLS_PROPOSAL_OR_REF_REFERENCE);
		mls_buf_opaque(&props, g->cache[i].ref, MLS_HASH_LEN);
	}
	cm.proposals = props.p != NULL ? props.p : empty;
	cm.proposals_len = props.len;
	if ((rp = calloc(MLS_COMMIT_PROPOSALS_MAX, sizeof(*rp))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	if ((r = buf_status(&props)) != 0 ||
	    (r = mls_group_resolve_proposals(g, &cm, g->own_leaf, rp, &n)) != 0 ||
	    (r = mls_group_check_proposals(g, rp, n, g->own_leaf, &path_required)) != 0 ||
	    (r = mls_group_tree_copy(&next, &g->tree)) != 0 ||
	    (r = mls_group_apply_proposals(&next, g->own_leaf, rp, n, added, &n_added, &ext,
	    &ext_len)) != 0)
		goto out;
	/* Always a path: a fresh leaf key and path, encrypted under the provisional context. */
	rand_bytes(leaf_secret, sizeof(leaf_secret));
	if ((r = mls_treekem_create(&next, g->own_leaf, leaf_secret, sig_sec, g->gc.group_id,
	    g->gc.group_id_len, &leaf, &ps)) != 0 ||
	    (r = mls_ratchet_tree_check_unique_keys(&next)) != 0 ||
	    (r = mls_group_next_context(&gc_next, g, &next, g->gc.confirmed_transcript_hash,
	    g->gc.confirmed_transcript_hash_len, ext, ext_len, tree_hash)) != 0 ||
	    (r = mls_treekem_encrypt(&next, g->own_leaf, &ps, gc_next.p, gc_next.len, added,
	    n_added, &path)) != 0)
		goto out;
	mls_buf_opaque(&body, props.p != NULL ? props.p : empty, props.len);
	buf_u8(&body, 1);
	buf_put(&body, path.p, path.len);
	if ((r = buf_status(&body)) != 0)
		goto out;
	/* Signed in this epoch, confirmed in the next. */
	memset(&fc, 0, sizeof(fc));
	fc.group_id = g->gc.group_id;
	fc.group_id_len = g->gc.group_id_len;
	fc.epoch = g->gc.epoch;
	fc.sender_type = MLS_SENDER_MEMBER;
	fc.sender_index = g->own_leaf;
	fc.authenticated_data = empty;
	fc.content_type = MLS_CONTENT_COMMIT;
	fc.body = body.p;
	fc.body_len = body.len;
	mls_group_epoch_keys(g, &ek);
	wire = spec->encrypt ? MLS_WIRE_PRIVATE_MESSAGE : MLS_WIRE_PUBLIC_MESSAGE;
	if ((r = mls_content_sign(sig, sig_sec, wire, &fc, &ek)) != 0 ||
	    (r = mls_confirmed_transcript_hash(confirmed, g->interim, MLS_HASH_LEN, wire, &fc,
	    sig, sizeof(sig))) != 0 ||
	    (r = mls_group_next_context(&gc_next, g, &next, confirmed, MLS_HASH_LEN, ext, ext_len,
	    tree_hash)) != 0 ||
	    (r = mls_key_schedule_advance(&epoch, g->epoch.init_secret, ps.commit_secret, zero,
	    gc_next.p, gc_next.len)) != 0)
		goto out;
	mls_confirmation_tag(tag, epoch.confirmation_key, confirmed);
	ac.wire_format = wire;
	ac.content = fc;
	ac.auth.signature = sig;
	ac.auth.signature_len = sizeof(sig);
	ac.auth.confirmation_tag = tag;
	ac.auth.confirmation_tag_len = sizeof(tag);
	buf_reset(commit_out);
	if ((r = spec->encrypt ? mls_private_message_write(commit_out, &ac, &ek) :
	    mls_public_message_write(commit_out, &ac, &ek)) != 0)
		goto out;
	buf_reset(welcome_out);
	if (n_added > 0 &&
	    ((r = write_group_info(&group_info, g, &next, gc_next.p, gc_next.len, tag, sig_sec)) != 0 ||
	    (r = write_welcome(welcome_out, g, &next, &epoch, &group_info, rp, n, added, &ps)) != 0))
		goto out;
	/* Our keys: the new leaf's and every node's on our path. */
	if ((r = mls_group_keys_set(keys, &n_keys, 2 * g->own_leaf, ps.leaf_sec)) != 0 ||
	    (r = mls_filtered_direct_path(&next, g->own_leaf, &fp)) != 0)
		goto out;
	for (i = 0; i < fp.n; i++)
		if ((r = mls_treekem_node_keypair(pub, sec, ps.path_secret[i])) != 0 ||
		    (r = mls_group_keys_set(keys, &n_keys, fp.node[i], sec)) != 0)
			goto out;
	r = mls_group_enter_epoch(g, &next, &epoch, &gc_next, confirmed, tag, keys, n_keys);
out:
	buf_free(&props);
	buf_free(&leaf);
	buf_free(&path);
	buf_free(&body);
	buf_free(&gc_next);
	buf_free(&group_info);
	mls_ratchet_tree_free(&next);
	mls_epoch_secrets_wipe(&epoch);
	mls_path_secrets_wipe(&ps);
	sodium_memzero(keys, sizeof(keys));
	sodium_memzero(leaf_secret, sizeof(leaf_secret));
	sodium_memzero(sec, sizeof(sec));
	free(rp);
	return r;
}

int
mls_group_propose_update(struct mls_group *g, const uint8_t sig_sec[static 64], struct buf *out)
{
	struct mls_leaf_node nl = g->tree.nodes[2 * g->own_leaf].leaf;
	uint8_t pub[MLS_KEM_PUBLIC_LEN], sec[MLS_KEM_SECRET_LEN], sig[MLS_SIG_LEN];   /* sec SECRET */
	struct mls_authenticated_content ac;
	struct mls_epoch_keys ek;
	struct buf body;
	int r;

	buf_init_dyn(&body, MLS_MESSAGE_MAX);
	if ((r = dh_keypair(pub, sec)) != 0)
		goto out;
	nl.encryption_key = pub;
	nl.source = MLS_LEAF_SOURCE_UPDATE;
	nl.parent_hash = NULL;
	nl.parent_hash_len = 0;
	buf_u16(&body, MLS_PROPOSAL_UPDATE);
	if ((r = mls_leaf_node_sign(&body, &nl, sig_sec, g->gc.group_id, g->gc.group_id_len,
	    g->own_leaf)) != 0)
		goto out;
	memset(&ac, 0, sizeof(ac));
	ac.wire_format = MLS_WIRE_PUBLIC_MESSAGE;
	ac.content.group_id = g->gc.group_id;
	ac.content.group_id_len = g->gc.group_id_len;
	ac.content.epoch = g->gc.epoch;
	ac.content.sender_type = MLS_SENDER_MEMBER;
	ac.content.sender_index = g->own_leaf;
	ac.content.authenticated_data = empty;
	ac.content.content_type = MLS_CONTENT_PROPOSAL;
	ac.content.body = body.p;
	ac.content.body_len = body.len;
	mls_group_epoch_keys(g, &ek);
	if ((r = mls_content_sign(sig, sig_sec, MLS_WIRE_PUBLIC_MESSAGE, &ac.content, &ek)) != 0)
		goto out;
	ac.auth.signature = sig;
	ac.auth.signature_len = sizeof(sig);
	buf_reset(out);
	if ((r = mls_public_message_write(out, &ac, &ek)) != 0)
		goto out;
	memcpy(g->pending_update_sec, sec, sizeof(sec));
	g->has_pending_update = 1;
out:
	sodium_memzero(sec, sizeof(sec));
	buf_free(&body);
	return r;
}
