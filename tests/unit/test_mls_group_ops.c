/*
 * A group made entirely by Sotto's own code (src/mls/group_commit.c, key_package.c,
 * join.c, group.c): A creates it; A adds B (Welcome), B adds C (Welcome); C, then A,
 * commit an empty Commit (a path: new keys for the committer); B proposes an Update that
 * every member caches and C commits by reference (B may not commit its own: refused);
 * A removes B. B's Add, C's empty Commit and C's Commit of the Update are sent as
 * PrivateMessages, the others as PublicMessages. After every
 * Commit, every member processes it and all members agree on the epoch authenticator, and
 * an application message from the committer decrypts for every other member. The removed
 * B refuses the Commit that removes it (SOTTO_ERR_STATE), gets no Welcome, and cannot
 * read the next epoch's message: refused as another epoch, and its keys do not decrypt it
 * even when it claims that epoch (SOTTO_ERR_DECRYPT), while C reads it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "check.h"
#include "mls_member.h"
#include "crypto/dh.h"
#include "crypto/init.h"
#include "crypto/sign.h"
#include "mls/crypto.h"
#include "mls/group.h"
#include "mls/join.h"
#include "mls/key_package.h"
#include "mls/limits.h"
#include "mls/message.h"
#include "mls/tls_codec.h"

static int epochs_agreed, messages_read;

/* m joins from the Welcome MLSMessage w. */
static int
join(struct mls_member *m, const struct buf *w)
{
	return mls_member_join(m, w->p, w->len, NULL, 0) == 0;
}

static int
send_app(struct mls_member *s, const char *text, struct buf *out)
{
	return mls_member_send(s, (const uint8_t *)text, strlen(text), NULL, 0, out);
}

/* r reads msg: 0 if it is text, or the error. If as_epoch is not 0, r tries it as though
 * its epoch were that one (with its own keys). */
static int
read_app(struct mls_member *r, const struct buf *msg, const char *text, uint64_t as_epoch)
{
	struct buf got;
	int rc;

	buf_init_dyn(&got, MLS_MESSAGE_MAX);
	rc = mls_member_read(r, msg->p, msg->len, &got, as_epoch);
	if (rc == 0 && (got.len != strlen(text) || memcmp(got.p, text, got.len) != 0))
		rc = SOTTO_ERR_INTERNAL;
	buf_free(&got);
	return rc;
}

/* Every member in the group has the committer's epoch and authenticator, and reads a
 * message the committer sends in it. */
static void
check_agreement(struct mls_member *ms, size_t n, size_t committer)
{
	struct buf msg;
	size_t i;

	buf_init_dyn(&msg, MLS_MESSAGE_MAX);
	CHECK(send_app(&ms[committer], "the new epoch", &msg) == 0);
	for (i = 0; i < n; i++) {
		if (!ms[i].in || i == committer)
			continue;
		CHECK(ms[i].g.gc.epoch == ms[committer].g.gc.epoch);
		CHECK(sodium_memcmp(ms[i].g.epoch.epoch_authenticator,
		    ms[committer].g.epoch.epoch_authenticator, MLS_HASH_LEN) == 0);
		CHECK(read_app(&ms[i], &msg, "the new epoch", 0) == 0);
		messages_read++;
	}
	epochs_agreed++;
	buf_free(&msg);
}

/* committer commits (adding add if not NULL; the proposals cached if cached; as a
 * PrivateMessage if encrypt); every other member in the group processes it. */
static void
commit_all(struct mls_member *ms, size_t n, size_t committer, struct mls_member *add, int cached,
    int encrypt, struct buf *commit, struct buf *welcome)
{
	const uint8_t *kps[1];
	size_t lens[1], i;
	struct mls_commit_spec spec = { kps, lens, add != NULL, NULL, 0, cached, encrypt };

	if (add != NULL) {
		kps[0] = add->kp_bytes.p;
		lens[0] = add->kp_bytes.len;
	}
	CHECK(mls_group_commit(&ms[committer].g, ms[committer].sig_sec, &spec, commit,
	    welcome) == 0);
	CHECK(commit->len > 4 && commit->p[3] == (encrypt ? MLS_WIRE_PRIVATE_MESSAGE :
	    MLS_WIRE_PUBLIC_MESSAGE));
	CHECK((welcome->len > 0) == (add != NULL));
	for (i = 0; i < n; i++)
		if (ms[i].in && i != committer && &ms[i] != add)
			CHECK(mls_group_process_commit(&ms[i].g, commit->p, commit->len) == 0);
	if (add != NULL)
		CHECK(join(add, welcome));
}

TEST(three_members_add_update_remove)
{
	static const uint8_t gid[] = "sotto test group";
	struct mls_member ms[3];
	struct buf commit, welcome, msg;
	uint32_t remove_b = 1;
	uint8_t auth_b[MLS_HASH_LEN];

	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	buf_init_dyn(&msg, MLS_MESSAGE_MAX);
	CHECK(mls_member_init(&ms[0], "a@example.org"));
	CHECK(mls_member_init(&ms[1], "b@example.org"));
	CHECK(mls_member_init(&ms[2], "c@example.org"));
	CHECK(mls_group_create(&ms[0].g, gid, sizeof(gid) - 1, &ms[0].kp, ms[0].ks.enc_sec) == 0);
	ms[0].in = 1;
	/* A adds B; B adds C. */
	commit_all(ms, 3, 0, &ms[1], 0, 0, &commit, &welcome);
	check_agreement(ms, 3, 0);
	commit_all(ms, 3, 1, &ms[2], 0, 1, &commit, &welcome);
	check_agreement(ms, 3, 1);
	CHECK(ms[2].g.own_leaf == 2 && ms[2].g.tree.n_leaves == 4);
	/* C, then A, update their keys with an empty Commit. */
	commit_all(ms, 3, 2, NULL, 0, 1, &commit, &welcome);
	check_agreement(ms, 3, 2);
	commit_all(ms, 3, 0, NULL, 0, 0, &commit, &welcome);
	check_agreement(ms, 3, 0);
	/* B proposes an Update; everyone caches it; C commits it by reference, and B takes
	 * its new leaf key from the proposal to decrypt the path. An Update by B cannot be
	 * committed by B. */
	{
		uint8_t old_key[MLS_KEM_PUBLIC_LEN];
		struct mls_commit_spec by_ref = { NULL, NULL, 0, NULL, 0, 1, 0 };
		size_t i;

		memcpy(old_key, ms[1].g.tree.nodes[2].leaf.encryption_key, sizeof(old_key));
		CHECK(mls_group_propose_update(&ms[1].g, ms[1].sig_sec, &msg) == 0);
		for (i = 0; i < 3; i++)
			CHECK(mls_group_cache_proposal(&ms[i].g, msg.p, msg.len) == 0);
		CHECK(mls_group_commit(&ms[1].g, ms[1].sig_sec, &by_ref, &commit, &welcome) ==
		    SOTTO_ERR_PROTOCOL);
		commit_all(ms, 3, 2, NULL, 1, 1, &commit, &welcome);
		check_agreement(ms, 3, 2);
		CHECK(memcmp(old_key, ms[0].g.tree.nodes[2].leaf.encryption_key, sizeof(old_key)) != 0);
		CHECK(ms[1].g.has_pending_update == 0);
	}
	/* A removes B: B refuses the Commit that removes it and stays behind. */
	memcpy(auth_b, ms[1].g.epoch.epoch_authenticator, MLS_HASH_LEN);
	{
		struct mls_commit_spec rm = { NULL, NULL, 0, &remove_b, 1, 0, 0 };

		CHECK(mls_group_commit(&ms[0].g, ms[0].sig_sec, &rm, &commit, &welcome) == 0);
	}
	CHECK(mls_group_process_commit(&ms[2].g, commit.p, commit.len) == 0);
	CHECK(mls_group_process_commit(&ms[1].g, commit.p, commit.len) == SOTTO_ERR_STATE);
	CHECK(memcmp(auth_b, ms[1].g.epoch.epoch_authenticator, MLS_HASH_LEN) == 0);
	CHECK(welcome.len == 0);
	ms[1].in = 0;   /* out of the group, its state kept */
	check_agreement(ms, 3, 0);
	CHECK(ms[0].g.tree.nodes[2].type == MLS_NODE_BLANK);
	/* B cannot read the new epoch: refused as another epoch, and its keys do not open it
	 * even when it claims to be in that epoch. */
	CHECK(send_app(&ms[0], "after B left", &msg) == 0);
	CHECK(read_app(&ms[1], &msg, "after B left", 0) == SOTTO_ERR_STATE);
	CHECK(read_app(&ms[1], &msg, "after B left", ms[0].g.gc.epoch) == SOTTO_ERR_DECRYPT);
	CHECK(read_app(&ms[2], &msg, "after B left", 0) == 0);
	mls_group_free(&ms[1].g);
	/* C, now alone with A, commits once more; both agree. */
	commit_all(ms, 3, 2, NULL, 0, 0, &commit, &welcome);
	check_agreement(ms, 3, 2);
	buf_free(&commit);
	buf_free(&welcome);
	buf_free(&msg);
	mls_member_free(&ms[0]);
	mls_member_free(&ms[1]);
	mls_member_free(&ms[2]);
}

/* mls_group_commit with spec must be refused with want, and leave g as it was. */
static int
commit_refused(struct mls_member *m, const struct mls_commit_spec *spec, int want)
{
	struct buf commit, welcome;
	uint8_t auth[MLS_HASH_LEN];
	uint64_t epoch = m->g.gc.epoch;
	int r;

	memcpy(auth, m->g.epoch.epoch_authenticator, sizeof(auth));
	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	r = mls_group_commit(&m->g, m->sig_sec, spec, &commit, &welcome);
	buf_free(&commit);
	buf_free(&welcome);
	return r == want && m->g.gc.epoch == epoch &&
	    memcmp(auth, m->g.epoch.epoch_authenticator, sizeof(auth)) == 0;
}

/* A KeyPackage with the given encoded Capabilities and LeafNode extensions (contents of
 * the vector), signed by sig_sec, written bare to out. */
static int
custom_key_package(struct buf *out, const uint8_t sig_sec[static 64], const uint8_t *caps,
    size_t caps_len, const uint8_t *ext, size_t ext_len)
{
	uint8_t init_pub[32], init_sec[32], enc_pub[32], enc_sec[32], sig[MLS_SIG_LEN];
	struct mls_leaf_node ln;
	struct buf tbs;
	int r;

	memset(&ln, 0, sizeof(ln));
	if (dh_keypair(init_pub, init_sec) != 0 || dh_keypair(enc_pub, enc_sec) != 0)
		return SOTTO_ERR_INTERNAL;
	ln.encryption_key = enc_pub;
	ln.signature_key = sig_sec + 32;
	ln.credential_type = MLS_CREDENTIAL_BASIC;
	ln.credential = (const uint8_t *)"x";
	ln.credential_len = 1;
	ln.capabilities = caps;
	ln.capabilities_len = caps_len;
	ln.source = MLS_LEAF_SOURCE_KEY_PACKAGE;
	ln.not_before = 0;
	ln.not_after = UINT64_MAX;
	ln.extensions = ext;
	ln.extensions_len = ext_len;
	buf_init_dyn(&tbs, MLS_MESSAGE_MAX);
	buf_u16(&tbs, MLS_PROTOCOL_VERSION_MLS10);
	buf_u16(&tbs, MLS_CIPHER_SUITE);
	mls_buf_opaque(&tbs, init_pub, 32);
	if ((r = mls_leaf_node_sign(&tbs, &ln, sig_sec, NULL, 0, 0)) == 0) {
		mls_buf_opaque(&tbs, sig, 0);   /* KeyPackage extensions */
		if ((r = buf_status(&tbs)) == 0 &&
		    (r = mls_sign_with_label(sig, sig_sec, "KeyPackageTBS", tbs.p, tbs.len)) == 0) {
			buf_reset(out);
			buf_put(out, tbs.p, tbs.len);
			mls_buf_opaque(out, sig, sizeof(sig));
			r = buf_status(out);
		}
	}
	buf_free(&tbs);
	sodium_memzero(init_sec, sizeof(init_sec));
	sodium_memzero(enc_sec, sizeof(enc_sec));
	return r;
}

/* The proposal-list checks of RFC 9420 12.2 and 12.1, which a receiver runs on every
 * Commit, seen from the committing side (mls_group_commit runs the same functions before
 * it sends): each invalid list is refused and the group is unchanged. */
TEST(invalid_proposal_lists_are_refused)
{
	static const uint8_t gid[] = "sotto test group";
	struct mls_member ms[3], late;
	struct buf commit, welcome;
	const uint8_t *kps[2];
	size_t lens[2];
	uint32_t rm[2];
	struct mls_commit_spec spec = { kps, lens, 0, rm, 0, 0, 0 };
	uint64_t now = (uint64_t)time(NULL);

	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	CHECK(mls_member_init(&ms[0], "a@example.org"));
	CHECK(mls_member_init(&ms[1], "b@example.org"));
	CHECK(mls_member_init(&ms[2], "c@example.org"));
	CHECK(mls_group_create(&ms[0].g, gid, sizeof(gid) - 1, &ms[0].kp, ms[0].ks.enc_sec) == 0);
	ms[0].in = 1;
	commit_all(ms, 3, 0, &ms[1], 0, 0, &commit, &welcome);
	/* Removing ourselves, a leaf outside the tree, the same leaf twice. */
	spec.n_removes = 1;
	rm[0] = 0;
	CHECK(commit_refused(&ms[0], &spec, SOTTO_ERR_PROTOCOL));
	rm[0] = 5;
	CHECK(commit_refused(&ms[0], &spec, SOTTO_ERR_PROTOCOL));
	spec.n_removes = 2;
	rm[0] = rm[1] = 1;
	CHECK(commit_refused(&ms[0], &spec, SOTTO_ERR_PROTOCOL));
	spec.n_removes = 0;
	/* Adding a member already in (same keys), the same KeyPackage twice. */
	spec.n_adds = 1;
	kps[0] = ms[1].kp_bytes.p;
	lens[0] = ms[1].kp_bytes.len;
	CHECK(commit_refused(&ms[0], &spec, SOTTO_ERR_PROTOCOL));
	spec.n_adds = 2;
	kps[0] = kps[1] = ms[2].kp_bytes.p;
	lens[0] = lens[1] = ms[2].kp_bytes.len;
	CHECK(commit_refused(&ms[0], &spec, SOTTO_ERR_PROTOCOL));
	/* Adding an expired KeyPackage, or one whose signature does not verify. */
	spec.n_adds = 1;
	buf_init_dyn(&late.kp_bytes, MLS_MESSAGE_MAX);
	CHECK(sign_keypair(late.sig_pub, late.sig_sec) == 0);
	CHECK(mls_key_package_create(&late.kp_bytes, &late.ks, late.sig_sec,
	    (const uint8_t *)"late", 4, now - 7200, now - 3600) == 0);
	kps[0] = late.kp_bytes.p;
	lens[0] = late.kp_bytes.len;
	CHECK(commit_refused(&ms[0], &spec, SOTTO_ERR_PROTOCOL));
	ms[2].kp_bytes.p[ms[2].kp_bytes.len - 1] ^= 1;
	kps[0] = ms[2].kp_bytes.p;
	lens[0] = ms[2].kp_bytes.len;
	CHECK(commit_refused(&ms[0], &spec, SOTTO_ERR_BAD_SIGNATURE));
	ms[2].kp_bytes.p[ms[2].kp_bytes.len - 1] ^= 1;
	/* Leaves that do not fit the group (RFC 9420 7.3): no support for the members' basic
	 * credentials; an extension in the leaf its capabilities do not list. A KeyPackage
	 * made the same way that fits is accepted by the same checks. */
	{
		static const uint8_t caps_basic[] = { 2, 0, 1, 2, 0, 3, 0, 0, 2, 0, 1 };
		static const uint8_t caps_none[] = { 2, 0, 1, 2, 0, 3, 0, 0, 0 };
		static const uint8_t caps_ext[] = { 2, 0, 1, 2, 0, 3, 2, 0x0a, 0x0a, 0, 2, 0, 1 };
		static const uint8_t ext[] = { 0x0a, 0x0a, 1, 0x55 };
		struct buf kp;
		uint8_t sig_pub[32], sig_sec[64];

		buf_init_dyn(&kp, MLS_MESSAGE_MAX);
		CHECK(sign_keypair(sig_pub, sig_sec) == 0);
		spec.n_adds = 1;
		CHECK(custom_key_package(&kp, sig_sec, caps_none, sizeof(caps_none), ext, 0) == 0);
		kps[0] = kp.p;
		lens[0] = kp.len;
		CHECK(commit_refused(&ms[0], &spec, SOTTO_ERR_PROTOCOL));
		CHECK(custom_key_package(&kp, sig_sec, caps_basic, sizeof(caps_basic), ext,
		    sizeof(ext)) == 0);
		kps[0] = kp.p;
		lens[0] = kp.len;
		CHECK(commit_refused(&ms[0], &spec, SOTTO_ERR_PROTOCOL));
		CHECK(custom_key_package(&kp, sig_sec, caps_ext, sizeof(caps_ext), ext,
		    sizeof(ext)) == 0);
		kps[0] = kp.p;
		lens[0] = kp.len;
		CHECK(mls_group_commit(&ms[0].g, ms[0].sig_sec, &spec, &commit, &welcome) == 0);
		CHECK(mls_group_process_commit(&ms[1].g, commit.p, commit.len) == 0);
		sodium_memzero(sig_sec, sizeof(sig_sec));
		buf_free(&kp);
	}
	kps[0] = ms[2].kp_bytes.p;
	lens[0] = ms[2].kp_bytes.len;
	/* The valid list still goes through, and B follows. */
	CHECK(mls_group_commit(&ms[0].g, ms[0].sig_sec, &spec, &commit, &welcome) == 0);
	CHECK(mls_group_process_commit(&ms[1].g, commit.p, commit.len) == 0);
	CHECK(sodium_memcmp(ms[0].g.epoch.epoch_authenticator, ms[1].g.epoch.epoch_authenticator,
	    MLS_HASH_LEN) == 0);
	buf_free(&late.kp_bytes);
	mls_key_package_secrets_wipe(&late.ks);
	sodium_memzero(late.sig_sec, sizeof(late.sig_sec));
	buf_free(&commit);
	buf_free(&welcome);
	mls_member_free(&ms[0]);
	mls_member_free(&ms[1]);
	mls_member_free(&ms[2]);
}

/* A group larger than the old caps: 400 members added in one Commit (more proposals than
 * MLS_GROUP_PROPOSALS_MAX, the cache's cap) with one Welcome whose GroupInfo, carrying the
 * ratchet tree, is over 64 KiB (once the cap on HPKE info and on GroupInfo extensions).
 * Three members spread over the tree join from it, one of them commits, all agree. */
#define LARGE_GROUP 400
TEST(large_group_in_one_commit)
{
	static struct mls_member ms[LARGE_GROUP];
	static const uint8_t *kps[LARGE_GROUP];
	static size_t lens[LARGE_GROUP];
	static const size_t joiners[] = { 1, LARGE_GROUP / 2, LARGE_GROUP - 1 };
	static const uint8_t gid[] = "large group";
	struct mls_commit_spec spec;
	struct mls_message w;
	struct buf commit, welcome;
	struct cur c;
	size_t i;

	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	for (i = 0; i < LARGE_GROUP; i++) {
		char id[32];

		snprintf(id, sizeof(id), "m%zu", i);
		CHECK(mls_member_init(&ms[i], id));
		kps[i] = ms[i].kp_bytes.p;
		lens[i] = ms[i].kp_bytes.len;
	}
	CHECK(mls_group_create(&ms[0].g, gid, sizeof(gid) - 1, &ms[0].kp, ms[0].ks.enc_sec) == 0);
	ms[0].in = 1;
	memset(&spec, 0, sizeof(spec));
	spec.add_kps = kps + 1;
	spec.add_lens = lens + 1;
	spec.n_adds = LARGE_GROUP - 1;
	CHECK(spec.n_adds > MLS_GROUP_PROPOSALS_MAX);
	CHECK(mls_group_commit(&ms[0].g, ms[0].sig_sec, &spec, &commit, &welcome) == 0);
	cur_init(&c, welcome.p, welcome.len);
	mls_message_read(&c, &w);
	CHECK(cur_finish(&c) == 0 && w.wire_format == MLS_WIRE_WELCOME &&
	    w.welcome.encrypted_group_info_len > 64 * 1024);
	CHECK(ms[0].g.tree.n_leaves == 512);
	for (i = 0; i < sizeof(joiners) / sizeof(joiners[0]); i++)
		CHECK(join(&ms[joiners[i]], &welcome));
	check_agreement(ms, LARGE_GROUP, 0);
	commit_all(ms, LARGE_GROUP, LARGE_GROUP - 1, NULL, 0, 1, &commit, &welcome);
	check_agreement(ms, LARGE_GROUP, LARGE_GROUP - 1);
	for (i = 0; i < LARGE_GROUP; i++)
		mls_member_free(&ms[i]);
	buf_free(&commit);
	buf_free(&welcome);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(three_members_add_update_remove);
	RUN(invalid_proposal_lists_are_refused);
	RUN(large_group_in_one_commit);
	printf("# %d epochs agreed by every member, %d application messages read\n",
	    epochs_agreed, messages_read);
	return check_summary();
}
