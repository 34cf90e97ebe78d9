/*
 * Message protection (src/mls/message.c) on message-protection.json: the vector's
 * PublicMessages (proposal, commit) pass the membership-tag and signature checks and
 * carry the expected content; its PrivateMessages (proposal, commit, application)
 * decrypt under a two-leaf secret tree, verify and carry the expected content. Then each
 * content is protected by this code both ways and unprotected again, and the rejects: a
 * changed byte, a replay, another epoch, a wrong membership key, a wrong signer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "crypto/sign.h"
#include "mls/limits.h"
#include "mls/message.h"

#define VECTOR_LEAVES 2   /* the message-protection vectors use a secret tree of 2 leaves */

struct fixture {
	uint8_t group_id[MLS_GROUP_ID_MAX];
	uint8_t tree_hash[MLS_HASH_LEN], cth[MLS_HASH_LEN];
	uint8_t gc_mem[512];
	uint8_t membership_key[MLS_HASH_LEN], sender_data_secret[MLS_HASH_LEN];
	uint8_t encryption_secret[MLS_HASH_LEN];
	uint8_t sig_pub[SIGN_PUBLIC_LEN], sig_sec[SIGN_SECRET_LEN];
	struct mls_secret_tree tree;
	struct mls_epoch_keys ek;
};

static int
fixture_init(struct fixture *f, const json_t *e)
{
	uint8_t seed[SIGN_SEED_LEN];
	size_t gid_len;
	uint8_t *gid = mls_vec_hex(e, "group_id", &gid_len);
	struct buf b;
	int ok = 1;

	memset(f, 0, sizeof(*f));
	f->ek.gc.epoch = mls_vec_uint(e, "epoch", &ok);
	if (gid == NULL || gid_len > sizeof(f->group_id) ||
	    mls_vec_hex_fixed(e, "tree_hash", f->tree_hash, MLS_HASH_LEN) != 0 ||
	    mls_vec_hex_fixed(e, "confirmed_transcript_hash", f->cth, MLS_HASH_LEN) != 0 ||
	    mls_vec_hex_fixed(e, "membership_key", f->membership_key, MLS_HASH_LEN) != 0 ||
	    mls_vec_hex_fixed(e, "sender_data_secret", f->sender_data_secret, MLS_HASH_LEN) != 0 ||
	    mls_vec_hex_fixed(e, "encryption_secret", f->encryption_secret, MLS_HASH_LEN) != 0 ||
	    mls_vec_hex_fixed(e, "signature_priv", seed, sizeof(seed)) != 0 ||
	    sign_seed_keypair(f->sig_pub, f->sig_sec, seed) != 0 ||
	    !mls_vec_eq(e, "signature_pub", f->sig_pub, sizeof(f->sig_pub)))
		ok = 0;
	if (ok) {
		memcpy(f->group_id, gid, gid_len);
		f->ek.gc.version = MLS_PROTOCOL_VERSION_MLS10;
		f->ek.gc.cipher_suite = MLS_CIPHER_SUITE;
		f->ek.gc.group_id = f->group_id;
		f->ek.gc.group_id_len = gid_len;
		f->ek.gc.tree_hash = f->tree_hash;
		f->ek.gc.tree_hash_len = MLS_HASH_LEN;
		f->ek.gc.confirmed_transcript_hash = f->cth;
		f->ek.gc.confirmed_transcript_hash_len = MLS_HASH_LEN;
		buf_init_fixed(&b, f->gc_mem, sizeof(f->gc_mem));
		mls_group_context_write(&b, &f->ek.gc);
		ok = buf_status(&b) == 0;
		f->ek.gc_bytes = b.p;
		f->ek.gc_len = b.len;
		f->ek.membership_key = f->membership_key;
		f->ek.sender_data_secret = f->sender_data_secret;
		f->ek.tree = &f->tree;
	}
	sodium_memzero(seed, sizeof(seed));
	free(gid);
	return ok;
}

/* A fresh secret tree for the epoch, as a new receiver or sender has. */
static int
fresh_tree(struct fixture *f)
{
	mls_secret_tree_free(&f->tree);
	return mls_secret_tree_init(&f->tree, f->encryption_secret, VECTOR_LEAVES) == 0;
}

static void
fixture_free(struct fixture *f)
{
	mls_secret_tree_free(&f->tree);
	sodium_memzero(f, sizeof(*f));
}

static int
body_is(const struct mls_framed_content *fc, const uint8_t *want, size_t want_len)
{
	return fc->body_len == want_len && (want_len == 0 || memcmp(fc->body, want, want_len) == 0);
}

/* The vector's PublicMessage: parse, membership tag, signature, content. */
static int
vector_public(struct fixture *f, const json_t *e, const char *key, uint8_t type,
    const uint8_t *want, size_t want_len)
{
	size_t n;
	uint8_t *msg = mls_vec_hex(e, key, &n);
	struct mls_message m;
	struct cur c;
	int ok = msg != NULL;

	if (!ok)
		return 0;
	cur_init(&c, msg, n);
	mls_message_read(&c, &m);
	VCHECK(ok, cur_finish(&c) == 0);
	VCHECK(ok, ok && m.wire_format == MLS_WIRE_PUBLIC_MESSAGE && m.pub.content.content_type == type);
	VCHECK(ok, ok && mls_public_message_check(&m, &f->ek) == 0);
	VCHECK(ok, ok && mls_content_verify(&m.pub, f->sig_pub, &f->ek) == 0);
	VCHECK(ok, ok && body_is(&m.pub.content, want, want_len));
	free(msg);
	return ok;
}

/* The vector's PrivateMessage: decrypt, signature, content. */
static int
vector_private(struct fixture *f, const json_t *e, const char *key, uint8_t type,
    const uint8_t *want, size_t want_len)
{
	size_t n;
	uint8_t *msg = mls_vec_hex(e, key, &n);
	struct mls_message m;
	struct mls_authenticated_content ac;
	struct buf plain;
	struct cur c;
	int ok = msg != NULL && fresh_tree(f);

	if (!ok) {
		free(msg);
		return 0;
	}
	buf_init_dyn(&plain, MLS_MESSAGE_MAX);
	cur_init(&c, msg, n);
	mls_message_read(&c, &m);
	VCHECK(ok, cur_finish(&c) == 0);
	VCHECK(ok, ok && m.wire_format == MLS_WIRE_PRIVATE_MESSAGE && m.content_type == type);
	VCHECK(ok, ok && mls_private_message_read(&m, &f->ek, &plain, &ac) == 0);
	VCHECK(ok, ok && mls_content_verify(&ac, f->sig_pub, &f->ek) == 0);
	VCHECK(ok, ok && body_is(&ac.content, want, want_len));
	if (ok)
		printf("# %s: from leaf %u\n", key, ac.content.sender_index);
	buf_wipe_free(&plain);
	free(msg);
	return ok;
}

/* This code protects the content both ways; a fresh receiver unprotects it. */
static int
round_trip(struct fixture *f, uint8_t type, const uint8_t *body, size_t body_len)
{
	static const uint8_t tag[MLS_HASH_LEN] = { 0x5a };
	uint8_t sig[MLS_SIG_LEN];
	struct mls_authenticated_content ac = { 0 }, got;
	struct mls_secret_tree sender;
	struct mls_message m;
	struct buf out, plain;
	struct cur c;
	int ok = 1;

	ac.content.group_id = f->ek.gc.group_id;
	ac.content.group_id_len = f->ek.gc.group_id_len;
	ac.content.epoch = f->ek.gc.epoch;
	ac.content.sender_type = MLS_SENDER_MEMBER;
	ac.content.sender_index = 1;
	ac.content.authenticated_data = (const uint8_t *)"ad";
	ac.content.authenticated_data_len = 2;
	ac.content.content_type = type;
	ac.content.body = body;
	ac.content.body_len = body_len;
	ac.auth.signature = sig;
	ac.auth.signature_len = sizeof(sig);
	if (type == MLS_CONTENT_COMMIT) {
		ac.auth.confirmation_tag = tag;
		ac.auth.confirmation_tag_len = sizeof(tag);
	}
	buf_init_dyn(&out, MLS_MESSAGE_MAX);
	buf_init_dyn(&plain, MLS_MESSAGE_MAX);
	if (type != MLS_CONTENT_APPLICATION) {
		ac.wire_format = MLS_WIRE_PUBLIC_MESSAGE;
		VCHECK(ok, mls_content_sign(sig, f->sig_sec, ac.wire_format, &ac.content, &f->ek) == 0);
		VCHECK(ok, mls_public_message_write(&out, &ac, &f->ek) == 0);
		cur_init(&c, out.p, out.len);
		mls_message_read(&c, &m);
		VCHECK(ok, cur_finish(&c) == 0 && mls_public_message_check(&m, &f->ek) == 0);
		VCHECK(ok, mls_content_verify(&m.pub, f->sig_pub, &f->ek) == 0);
		VCHECK(ok, body_is(&m.pub.content, body, body_len));
		/* A changed membership tag, or another signer. */
		out.p[out.len - 1] ^= 1;
		cur_init(&c, out.p, out.len);
		mls_message_read(&c, &m);
		VCHECK(ok, cur_finish(&c) == 0 && mls_public_message_check(&m, &f->ek) == SOTTO_ERR_AUTH);
		VCHECK(ok, mls_content_verify(&m.pub, f->tree_hash, &f->ek) == SOTTO_ERR_BAD_SIGNATURE);
	}
	/* Private: the sender's tree and a fresh receiver's. */
	ac.wire_format = MLS_WIRE_PRIVATE_MESSAGE;
	VCHECK(ok, mls_content_sign(sig, f->sig_sec, ac.wire_format, &ac.content, &f->ek) == 0);
	VCHECK(ok, mls_secret_tree_init(&sender, f->encryption_secret, VECTOR_LEAVES) == 0);
	if (!ok) {
		buf_free(&out);
		buf_free(&plain);
		return 0;
	}
	f->ek.tree = &sender;
	buf_reset(&out);
	VCHECK(ok, mls_private_message_write(&out, &ac, &f->ek) == 0);
	f->ek.tree = &f->tree;
	VCHECK(ok, fresh_tree(f));
	/* A changed ciphertext byte fails and does not use up the generation. */
	out.p[out.len - 3] ^= 0x10;
	cur_init(&c, out.p, out.len);
	mls_message_read(&c, &m);
	VCHECK(ok, cur_finish(&c) == 0);
	VCHECK(ok, mls_private_message_read(&m, &f->ek, &plain, &got) == SOTTO_ERR_DECRYPT);
	out.p[out.len - 3] ^= 0x10;
	VCHECK(ok, mls_private_message_read(&m, &f->ek, &plain, &got) == 0);
	VCHECK(ok, ok && mls_content_verify(&got, f->sig_pub, &f->ek) == 0);
	VCHECK(ok, ok && body_is(&got.content, body, body_len) && got.content.sender_index == 1);
	VCHECK(ok, ok && got.content.authenticated_data_len == 2);
	VCHECK(ok, plain.len % MLS_PADDING_BLOCK == 0);
	/* The same message again: its generation is used up. */
	VCHECK(ok, mls_private_message_read(&m, &f->ek, &plain, &got) == SOTTO_ERR_REPLAY);
	/* Another epoch. */
	m.epoch++;
	VCHECK(ok, mls_private_message_read(&m, &f->ek, &plain, &got) == SOTTO_ERR_STATE);
	mls_secret_tree_free(&sender);
	buf_wipe_free(&plain);
	buf_free(&out);
	return ok;
}

static int
message_protection_entry(const json_t *e, size_t idx)
{
	static const struct { const char *name, *pub, *priv; uint8_t type; } kinds[] = {
		{ "proposal", "proposal_pub", "proposal_priv", MLS_CONTENT_PROPOSAL },
		{ "commit", "commit_pub", "commit_priv", MLS_CONTENT_COMMIT },
		{ "application", NULL, "application_priv", MLS_CONTENT_APPLICATION },
	};
	struct fixture f;
	size_t i, n;
	int ok = 1;
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	if (!ok || !fixture_init(&f, e)) {
		fixture_free(&f);
		return 0;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		uint8_t *want = mls_vec_hex(e, kinds[i].name, &n);

		if (want == NULL) {
			ok = 0;
			continue;
		}
		if (kinds[i].pub != NULL)
			ok &= vector_public(&f, e, kinds[i].pub, kinds[i].type, want, n);
		ok &= vector_private(&f, e, kinds[i].priv, kinds[i].type, want, n);
		ok &= round_trip(&f, kinds[i].type, want, n);
		free(want);
	}
	fixture_free(&f);
	return ok;
}

/* Three application messages from one sender, read in the order 3, 1, 2: each decrypts
 * once; a replay of any of them is refused. */
TEST(out_of_order_messages)
{
	static const uint8_t secret[MLS_HASH_LEN] = { 1 }, gid[] = "g";
	uint8_t th[MLS_HASH_LEN] = { 2 }, gc_mem[128], sig[MLS_SIG_LEN] = { 0 };
	struct mls_secret_tree sender, receiver;
	struct mls_epoch_keys ek = { { MLS_PROTOCOL_VERSION_MLS10, MLS_CIPHER_SUITE, gid, 1, 4, th,
		sizeof(th), NULL, 0, NULL, 0 }, NULL, 0, secret, secret, NULL };
	struct mls_authenticated_content ac = { 0 }, got;
	struct buf out[3], plain, gc;
	struct mls_message m;
	struct cur c;
	static const int order[] = { 2, 0, 1 };
	size_t i;

	buf_init_fixed(&gc, gc_mem, sizeof(gc_mem));
	mls_group_context_write(&gc, &ek.gc);
	REQUIRE(buf_status(&gc) == 0);
	ek.gc_bytes = gc.p;
	ek.gc_len = gc.len;
	REQUIRE(mls_secret_tree_init(&sender, secret, 2) == 0);
	REQUIRE(mls_secret_tree_init(&receiver, secret, 2) == 0);
	ac.wire_format = MLS_WIRE_PRIVATE_MESSAGE;
	ac.content.group_id = gid;
	ac.content.group_id_len = 1;
	ac.content.epoch = 4;
	ac.content.sender_type = MLS_SENDER_MEMBER;
	ac.content.sender_index = 0;
	ac.content.content_type = MLS_CONTENT_APPLICATION;
	ac.auth.signature = sig;
	ac.auth.signature_len = sizeof(sig);
	buf_init_dyn(&plain, MLS_MESSAGE_MAX);
	ek.tree = &sender;
	for (i = 0; i < 3; i++) {
		uint8_t body = (uint8_t)('a' + i);

		ac.content.body = &body;
		ac.content.body_len = 1;
		buf_init_dyn(&out[i], MLS_MESSAGE_MAX);
		REQUIRE(mls_private_message_write(&out[i], &ac, &ek) == 0);
	}
	ek.tree = &receiver;
	for (i = 0; i < 3; i++) {
		cur_init(&c, out[order[i]].p, out[order[i]].len);
		mls_message_read(&c, &m);
		REQUIRE(cur_finish(&c) == 0);
		CHECK(mls_private_message_read(&m, &ek, &plain, &got) == 0);
		CHECK(got.content.body_len == 1 && got.content.body[0] == 'a' + order[i]);
	}
	for (i = 0; i < 3; i++) {
		cur_init(&c, out[i].p, out[i].len);
		mls_message_read(&c, &m);
		REQUIRE(cur_finish(&c) == 0);
		CHECK_EQ_INT(mls_private_message_read(&m, &ek, &plain, &got), SOTTO_ERR_REPLAY);
		buf_free(&out[i]);
	}
	buf_wipe_free(&plain);
	mls_secret_tree_free(&sender);
	mls_secret_tree_free(&receiver);
}

TEST(message_rejects)
{
	static const char *bad[] = {
		"0002" "0001",                       /* version 2 */
		"0001" "0003",                       /* Welcome: not read yet */
		"0001" "0009",                       /* no such wire format */
		"0001" "0002" "00" "0000000000000000" "04" "00" "00" "00",   /* content type 4 */
		/* Sender data of the wrong size is caught at read or at decrypt; a
		 * PublicMessage from a member needs its membership tag. */
		"0001" "0001" "00" "0000000000000000" "01" "00000000" "00" "02" "000300000002" "00",
	};
	uint8_t mem[64];
	struct mls_message m;
	struct cur c;
	size_t i;

	static const uint8_t content_ok[] = { 0x01, 'h', 0x00, 0, 0, 0 };
	static const uint8_t content_bad_pad[] = { 0x01, 'h', 0x00, 0, 1, 0 };
	struct mls_framed_content fc;
	struct mls_auth_data auth;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long n = check_unhex(bad[i], mem, sizeof(mem));

		REQUIRE(n > 0);
		cur_init(&c, mem, (size_t)n);
		mls_message_read(&c, &m);
		if (cur_finish(&c) == 0)
			check_fail(__FILE__, __LINE__, bad[i]);
	}
	/* PrivateMessageContent: application "h", empty signature, then padding that must be
	 * all zero. */
	cur_init(&c, content_ok, sizeof(content_ok));
	mls_private_content_read(&c, MLS_CONTENT_APPLICATION, &fc, &auth);
	CHECK(cur_finish(&c) == 0 && fc.body_len == 1 && fc.body[0] == 'h');
	cur_init(&c, content_bad_pad, sizeof(content_bad_pad));
	mls_private_content_read(&c, MLS_CONTENT_APPLICATION, &fc, &auth);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_MALFORMED);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("message-protection.json", 1, message_protection_entry);
	RUN(out_of_order_messages);
	RUN(message_rejects);
	return check_summary();
}
