/*
 * What a member does with messages from the group (src/mls/group.c, join.c): B is in a
 * group A created and added it to (made once, by Sotto's own code). The first input byte
 * picks the path:
 *   0  the rest as a Commit for B (mls_group_process_commit);
 *   1  the rest as a proposal for B to cache (mls_group_cache_proposal);
 *   2  the rest as a Welcome for a KeyPackage of C's (mls_join).
 * Nothing may crash, leak or read out of bounds, and a refused message must leave B's
 * group exactly as it was (its epoch and authenticator, its proposal cache). The fuzzer
 * cannot forge signatures or MACs: it exercises the parsers and the checks before them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/init.h"
#include "crypto/sign.h"
#include "mls/group.h"
#include "mls/join.h"
#include "mls/key_package.h"
#include "mls/limits.h"
#include "mls/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct member {
	uint8_t sig_pub[32], sig_sec[64];
	struct mls_key_package_secrets ks;
	struct buf kp_bytes;
	struct mls_key_package kp;
	struct mls_group g;
};

static struct member a, b, c;
static int ready;

static void
member_init(struct member *m)
{
	struct cur cu;

	buf_init_dyn(&m->kp_bytes, MLS_MESSAGE_MAX);
	if (sign_keypair(m->sig_pub, m->sig_sec) != 0 ||
	    mls_key_package_create(&m->kp_bytes, &m->ks, m->sig_sec, (const uint8_t *)"fuzz", 4,
	    0, UINT64_MAX) != 0)
		abort();
	cur_init(&cu, m->kp_bytes.p, m->kp_bytes.len);
	mls_key_package_read(&cu, &m->kp);
	if (cur_finish(&cu) != 0)
		abort();
}

static void
setup(void)
{
	static const uint8_t gid[] = "fuzz group";
	const uint8_t *kps[1];
	size_t lens[1];
	struct mls_commit_spec spec = { kps, lens, 1, NULL, 0, 0, 0 };
	struct buf commit, welcome;
	struct mls_message w;
	struct mls_join_input in = { 0 };
	struct mls_joined j;
	struct cur cu;

	if (sotto_crypto_init() != 0)
		abort();
	member_init(&a);
	member_init(&b);
	member_init(&c);
	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	kps[0] = b.kp_bytes.p;
	lens[0] = b.kp_bytes.len;
	if (mls_group_create(&a.g, gid, sizeof(gid) - 1, &a.kp, a.ks.enc_sec) != 0 ||
	    mls_group_commit(&a.g, a.sig_sec, &spec, &commit, &welcome) != 0)
		abort();
	cur_init(&cu, welcome.p, welcome.len);
	mls_message_read(&cu, &w);
	in.key_package = &b.kp;
	in.init_sec = b.ks.init_sec;
	if (cur_finish(&cu) != 0 || mls_join(&j, &w.welcome, &in) != 0 ||
	    mls_group_from_join(&b.g, &j, b.ks.enc_sec, NULL, 0) != 0)
		abort();
	mls_joined_free(&j);
	buf_free(&commit);
	buf_free(&welcome);
	ready = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t auth[MLS_HASH_LEN];
	uint64_t epoch;
	size_t n_cache;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	memcpy(auth, b.g.epoch.epoch_authenticator, sizeof(auth));
	epoch = b.g.gc.epoch;
	n_cache = b.g.n_cache;
	switch (data[0] % 3) {
	case 0:
		if (mls_group_process_commit(&b.g, data + 1, size - 1) == 0)
			abort();   /* no forged Commit can be accepted */
		break;
	case 1:
		if (mls_group_cache_proposal(&b.g, data + 1, size - 1) == 0)
			abort();   /* nor a forged proposal */
		break;
	default: {
		struct mls_message w;
		struct mls_join_input in = { 0 };
		struct mls_joined j;
		struct cur cu;

		cur_init(&cu, data + 1, size - 1);
		mls_message_read(&cu, &w);
		in.key_package = &c.kp;
		in.init_sec = c.ks.init_sec;
		if (cur_finish(&cu) == 0 && w.wire_format == MLS_WIRE_WELCOME &&
		    mls_join(&j, &w.welcome, &in) == 0)
			mls_joined_free(&j);
		break;
	}
	}
	if (b.g.gc.epoch != epoch || b.g.n_cache != n_cache ||
	    memcmp(auth, b.g.epoch.epoch_authenticator, sizeof(auth)) != 0)
		abort();
	return 0;
}
