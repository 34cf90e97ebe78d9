/*
 * MLS messages as a client receives them (src/mls/message.c, framing.c, proposal.c,
 * leaf_node.c, group_context.c). The first input byte picks the path:
 *   0  an MLSMessage, then whatever a receiver does with it under fixed epoch keys:
 *      the PublicMessage checks and signature, or the PrivateMessage decryption with a
 *      fresh secret tree (the fuzzer cannot forge the AEAD, so paths 1 and 2 reach what
 *      lies behind it);
 *   1  a PrivateMessageContent of the content type in the second byte;
 *   2  an AuthenticatedContent, written back and compared;
 *   3  a GroupContext;
 *   4  a ratchet tree (the ratchet_tree extension), decoded, hashed and validated;
 *   5  a GroupSecrets;
 *   6  a Proposal (type in the input) or 7 a Commit.
 * Nothing may crash, leak or read out of bounds; what parses must write back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/init.h"
#include "mls/framing.h"
#include "mls/group_context.h"
#include "mls/limits.h"
#include "mls/message.h"
#include "mls/proposal.h"
#include "mls/ratchet_tree.h"
#include "mls/welcome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t group_id[] = "fuzz-group";
static const uint8_t tree_hash[MLS_HASH_LEN] = { 1 }, cth[MLS_HASH_LEN] = { 2 };
static const uint8_t membership_key[MLS_HASH_LEN] = { 3 }, sd_secret[MLS_HASH_LEN] = { 4 };
static const uint8_t enc_secret[MLS_HASH_LEN] = { 5 }, sig_pub[MLS_SIG_PUBLIC_LEN] = { 6 };
static uint8_t gc_mem[256];

static void
receive(const uint8_t *p, size_t n)
{
	struct mls_epoch_keys ek = { { MLS_PROTOCOL_VERSION_MLS10, MLS_CIPHER_SUITE, group_id,
		sizeof(group_id) - 1, 7, tree_hash, sizeof(tree_hash), cth, sizeof(cth), NULL, 0 },
		NULL, 0, membership_key, sd_secret, NULL };
	struct mls_secret_tree tree;
	struct mls_authenticated_content ac;
	struct mls_message m;
	struct buf b, plain;
	struct cur c;

	buf_init_fixed(&b, gc_mem, sizeof(gc_mem));
	mls_group_context_write(&b, &ek.gc);
	if (buf_status(&b) != 0)
		abort();
	ek.gc_bytes = b.p;
	ek.gc_len = b.len;
	cur_init(&c, p, n);
	mls_message_read(&c, &m);
	if (cur_finish(&c) != 0)
		return;
	if (m.wire_format == MLS_WIRE_PUBLIC_MESSAGE) {
		(void)mls_public_message_check(&m, &ek);
		(void)mls_content_verify(&m.pub, sig_pub, &ek);
	} else if (m.wire_format == MLS_WIRE_PRIVATE_MESSAGE) {
		if (mls_secret_tree_init(&tree, enc_secret, 4) != 0)
			abort();
		ek.tree = &tree;
		buf_init_dyn(&plain, MLS_MESSAGE_MAX);
		if (mls_private_message_read(&m, &ek, &plain, &ac) == 0)
			abort();   /* nobody outside knows the keys */
		buf_wipe_free(&plain);
		mls_secret_tree_free(&tree);
	}
}

static void
authenticated_content(const uint8_t *p, size_t n)
{
	struct mls_authenticated_content ac;
	struct buf out;
	struct cur c;

	cur_init(&c, p, n);
	mls_authenticated_content_read(&c, &ac);
	if (cur_finish(&c) != 0)
		return;
	buf_init_dyn(&out, n + 1);
	mls_authenticated_content_write(&out, &ac);
	if (buf_status(&out) != 0 || out.len != n || memcmp(out.p, p, n) != 0)
		abort();
	buf_free(&out);
}

static void
group_context(const uint8_t *p, size_t n)
{
	struct mls_group_context gc;
	struct buf out;
	struct cur c;

	cur_init(&c, p, n);
	mls_group_context_read(&c, &gc);
	if (cur_finish(&c) != 0)
		return;
	buf_init_dyn(&out, n + 1);
	mls_group_context_write(&out, &gc);
	if (buf_status(&out) != 0 || out.len != n || memcmp(out.p, p, n) != 0)
		abort();
	buf_free(&out);
}

/* A tree that decodes is hashed and validated, which walks it recursively. */
static void
ratchet_tree(const uint8_t *p, size_t n)
{
	struct mls_ratchet_tree t;
	uint8_t hash[MLS_HASH_LEN];

	if (mls_ratchet_tree_decode(&t, p, n) != 0)
		return;
	(void)mls_ratchet_tree_hash(&t, t.n_leaves - 1, hash);
	(void)mls_ratchet_tree_verify_parent_hashes(&t);
	(void)mls_ratchet_tree_verify_leaves(&t, group_id, sizeof(group_id) - 1);
	mls_ratchet_tree_free(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mls_framed_content fc;
	struct mls_auth_data auth;
	struct mls_group_secrets gs;
	struct mls_proposal prop;
	struct mls_commit cm;
	struct cur c;
	uint32_t nodes;

	if (sotto_crypto_init() != 0)
		abort();
	if (size < 2)
		return 0;
	cur_init(&c, data + 1, size - 1);
	switch (data[0] & 7) {
	case 0:
		receive(data + 1, size - 1);
		break;
	case 1:
		cur_init(&c, data + 2, size - 2);
		mls_private_content_read(&c, data[1], &fc, &auth);
		break;
	case 2:
		authenticated_content(data + 1, size - 1);
		break;
	case 3:
		group_context(data + 1, size - 1);
		break;
	case 4:
		mls_ratchet_tree_read(&c, &nodes);
		ratchet_tree(data + 1, size - 1);
		break;
	case 5:
		mls_group_secrets_read(&c, &gs);
		break;
	case 6:
		mls_proposal_read(&c, &prop);
		break;
	default:
		mls_commit_read(&c, &cm);
		break;
	}
	(void)cur_finish(&c);
	return 0;
}
