/*
 * Late application messages across Commits (src/mls/group_past.c): a message sent in
 * epoch N reaches a member after the Commit to N+1, N+2 or N+3 and is read with the keys
 * kept of that epoch (MLS_PAST_EPOCHS_MAX), once (a replay is refused); after the Commit
 * to N + MLS_PAST_EPOCHS_MAX + 1 that epoch's keys are wiped and it is refused. A sender
 * removed by the Commit, whose leaf a new member took, is refused rather than taken for
 * the new member. A forged late
 * message uses up nothing. A retired secret tree gives no handshake keys. The kept epochs
 * survive the state written and read back (version 2), and a version 1 state still reads.
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_member.h"
#include "crypto/init.h"
#include "mls/group_application.h"
#include "mls/group_past.h"
#include "mls/group_state.h"
#include "mls/limits.h"

#define LATE (MLS_PAST_EPOCHS_MAX + 1)

static const char *const names[3] = { "a@example.org", "b@example.org", "c@example.org" };

static int
send_text(struct mls_member *m, const char *text, struct buf *out)
{
	return mls_group_send_application(&m->g, m->sig_sec, (const uint8_t *)text, strlen(text), out);
}

/* A, B and C in one group, every member at the same epoch. */
static int
setup(struct mls_member ms[3])
{
	size_t i;
	int r = 0;

	for (i = 0; i < 3 && r == 0; i++)
		r = mls_member_init(&ms[i], names[i]) ? 0 : SOTTO_ERR_INTERNAL;
	if (r == 0)
		r = mls_member_create(&ms[0], "past epochs test");
	if (r == 0)
		r = mls_member_commit_all(ms, 3, 0, &ms[1], NULL, 0, 0);
	if (r == 0)
		r = mls_member_commit_all(ms, 3, 0, &ms[2], NULL, 0, 0);
	return r;
}

static void
teardown(struct mls_member ms[3], struct buf *msgs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf_free(&msgs[i]);
	for (i = 0; i < 3; i++)
		mls_member_free(&ms[i]);
}

/* A sends LATE messages in epoch N; C commits again and again, and B reads message k
 * after the Commit to N + k + 1: within the bound, each once; the last one, after the
 * bound, is refused and its epoch's keys are gone. */
TEST(late_messages_read_within_the_bound)
{
	struct mls_member ms[3];
	struct buf msgs[LATE], forged;
	char text[16];
	uint64_t n;
	size_t k;

	REQUIRE(setup(ms) == 0);
	n = ms[1].g.gc.epoch;
	for (k = 0; k < LATE; k++) {
		buf_init_dyn(&msgs[k], MLS_MESSAGE_MAX);
		snprintf(text, sizeof(text), "late %zu", k);
		REQUIRE(send_text(&ms[0], text, &msgs[k]) == 0);
	}
	buf_init_dyn(&forged, MLS_MESSAGE_MAX);
	for (k = 0; k < LATE; k++) {
		REQUIRE(mls_member_commit_all(ms, 3, 2, NULL, NULL, 0, 0) == 0);
		CHECK(ms[1].g.gc.epoch == n + k + 1);
		snprintf(text, sizeof(text), "late %zu", k);
		if (k < MLS_PAST_EPOCHS_MAX) {
			/* A changed ciphertext byte: refused, and the key is still there. */
			buf_reset(&forged);
			buf_put(&forged, msgs[k].p, msgs[k].len);
			forged.p[forged.len - 1] ^= 1;
			CHECK_EQ_INT(mls_member_reads_text(&ms[1].g, &forged, text, 0), SOTTO_ERR_DECRYPT);
			CHECK_EQ_INT(mls_member_reads_text(&ms[1].g, &msgs[k], text, 0), 0);
			CHECK_EQ_INT(mls_member_reads_text(&ms[1].g, &msgs[k], text, 0), SOTTO_ERR_REPLAY);
			CHECK(mls_group_past_find(&ms[1].g, n) != NULL);
		} else {
			CHECK_EQ_INT(mls_member_reads_text(&ms[1].g, &msgs[k], text, 0), SOTTO_ERR_STATE);
			CHECK(mls_group_past_find(&ms[1].g, n) == NULL);
			CHECK(mls_group_past_find(&ms[1].g, n + 1) != NULL);
		}
	}
	/* C, which committed every time, reads the first after the bound neither. */
	CHECK_EQ_INT(mls_member_reads_text(&ms[2].g, &msgs[0], "late 0", 0), SOTTO_ERR_STATE);
	buf_free(&forged);
	teardown(ms, msgs, LATE);
}

/* A sends in epoch N and B removes A, adding D into A's leaf in the same Commit: C does
 * not take A's late message for D's (SOTTO_ERR_AUTH), while B's late message from the same
 * epoch reads. A message of a later epoch than ours stays refused. */
TEST(late_message_of_a_removed_sender)
{
	struct mls_member ms[3], d;
	struct buf msgs[3];
	uint32_t remove_a = 0;

	REQUIRE(setup(ms) == 0);
	REQUIRE(mls_member_init(&d, "d@example.org"));
	buf_init_dyn(&msgs[0], MLS_MESSAGE_MAX);
	buf_init_dyn(&msgs[1], MLS_MESSAGE_MAX);
	buf_init_dyn(&msgs[2], MLS_MESSAGE_MAX);
	REQUIRE(send_text(&ms[0], "before my removal", &msgs[0]) == 0);
	REQUIRE(send_text(&ms[1], "before the commit", &msgs[1]) == 0);
	REQUIRE(mls_member_commit_all(ms, 3, 1, &d, &remove_a, 1, 0) == 0);
	REQUIRE(d.in && d.g.own_leaf == 0);
	CHECK_EQ_INT(mls_member_reads_text(&ms[2].g, &msgs[0], "before my removal", 0), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(mls_member_reads_text(&ms[2].g, &msgs[1], "before the commit", 1), 0);
	/* B's message of the new epoch, to A (still in the old one): another epoch. */
	REQUIRE(send_text(&ms[1], "after", &msgs[2]) == 0);
	CHECK_EQ_INT(mls_member_reads_text(&ms[0].g, &msgs[2], "after", 1), SOTTO_ERR_STATE);
	CHECK_EQ_INT(mls_member_reads_text(&ms[2].g, &msgs[2], "after", 1), 0);
	CHECK_EQ_INT(mls_member_reads_text(&d.g, &msgs[2], "after", 1), 0);
	mls_member_free(&d);
	teardown(ms, msgs, 3);
}

/* A retired tree keeps the application ratchets (the same keys as before) and gives no
 * handshake key, not even for a leaf started after it retired. */
TEST(retired_tree_has_no_handshake_keys)
{
	static const uint8_t secret[MLS_HASH_LEN] = { 7 };
	struct mls_secret_tree live, old;
	uint8_t k1[MLS_AEAD_KEY_LEN], n1[MLS_AEAD_NONCE_LEN], k2[MLS_AEAD_KEY_LEN], n2[MLS_AEAD_NONCE_LEN];
	struct mls_ratchet *rt;
	uint32_t gen;

	REQUIRE(mls_secret_tree_init(&live, secret, 4) == 0);
	REQUIRE(mls_secret_tree_init(&old, secret, 4) == 0);
	REQUIRE(mls_secret_tree_next_key(&old, 1, 1, &gen, k1, n1) == 0);
	mls_secret_tree_retire(&old);
	CHECK(sodium_is_zero(old.ratchets[2].secret, MLS_HASH_LEN));
	CHECK_EQ_INT(mls_secret_tree_ratchet(&old, 1, 1, &rt), SOTTO_ERR_STATE);
	CHECK_EQ_INT(mls_secret_tree_ratchet(&old, 2, 1, &rt), SOTTO_ERR_STATE);
	CHECK_EQ_INT(mls_secret_tree_peek_key(&old, 3, 1, 0, k1, n1), SOTTO_ERR_STATE);
	/* Application keys as the live tree's. */
	REQUIRE(mls_secret_tree_peek_key(&old, 2, 0, 3, k1, n1) == 0);
	REQUIRE(mls_secret_tree_peek_key(&live, 2, 0, 3, k2, n2) == 0);
	CHECK(memcmp(k1, k2, sizeof(k1)) == 0 && memcmp(n1, n2, sizeof(n1)) == 0);
	CHECK(old.started[2] && sodium_is_zero(old.ratchets[4].secret, MLS_HASH_LEN));
	mls_secret_tree_free(&live);
	mls_secret_tree_free(&old);
}

/* B holds two past epochs, one with a skipped key (A's third message read before the
 * second): restored, it reads the late ones it had not read, refuses those it had, and
 * drops the oldest epoch at the bound like the original. */
TEST(past_epochs_survive_a_restart)
{
	struct mls_member ms[3];
	struct mls_group b2;
	struct buf msgs[4];
	size_t k;

	REQUIRE(setup(ms) == 0);
	for (k = 0; k < 4; k++)
		buf_init_dyn(&msgs[k], MLS_MESSAGE_MAX);
	REQUIRE(send_text(&ms[0], "one", &msgs[0]) == 0);
	REQUIRE(send_text(&ms[0], "two", &msgs[1]) == 0);
	REQUIRE(send_text(&ms[0], "three", &msgs[2]) == 0);
	REQUIRE(mls_member_commit_all(ms, 3, 2, NULL, NULL, 0, 0) == 0);
	REQUIRE(send_text(&ms[2], "four", &msgs[3]) == 0);
	REQUIRE(mls_member_commit_all(ms, 3, 0, NULL, NULL, 0, 0) == 0);
	CHECK_EQ_INT(mls_member_reads_text(&ms[1].g, &msgs[2], "three", 0), 0);   /* "two" skipped */
	REQUIRE(mls_member_state_round_trip(&ms[1].g, &b2) == 0);
	CHECK_EQ_INT(mls_member_reads_text(&b2, &msgs[2], "three", 0), SOTTO_ERR_REPLAY);
	CHECK_EQ_INT(mls_member_reads_text(&b2, &msgs[1], "two", 0), 0);
	CHECK_EQ_INT(mls_member_reads_text(&b2, &msgs[0], "one", 0), 0);
	CHECK_EQ_INT(mls_member_reads_text(&b2, &msgs[3], "four", 2), 0);
	CHECK_EQ_INT(mls_member_reads_text(&b2, &msgs[3], "four", 2), SOTTO_ERR_REPLAY);
	/* The original, not restored, reads the same. */
	CHECK_EQ_INT(mls_member_reads_text(&ms[1].g, &msgs[1], "two", 0), 0);
	mls_group_free(&b2);
	/* Past the bound, the state restored again no longer holds the first epoch. */
	for (k = 0; k < MLS_PAST_EPOCHS_MAX - 1; k++)
		REQUIRE(mls_member_commit_all(ms, 3, 2, NULL, NULL, 0, 0) == 0);
	REQUIRE(mls_member_state_round_trip(&ms[1].g, &b2) == 0);
	CHECK_EQ_INT(mls_member_reads_text(&b2, &msgs[0], "one", 0), SOTTO_ERR_STATE);
	/* The original never read "four": its epoch, 3 back, is still kept. */
	CHECK_EQ_INT(mls_member_reads_text(&b2, &msgs[3], "four", 2), 0);
	CHECK_EQ_INT(mls_member_reads_text(&b2, &msgs[3], "four", 2), SOTTO_ERR_REPLAY);
	mls_group_free(&b2);
	teardown(ms, msgs, 4);
}

/* A version 1 state (written before past epochs were kept: no n_past) still reads, with
 * no past epoch; version 1 with the past epochs' byte is refused as trailing. */
TEST(version_1_state_still_reads)
{
	struct mls_member ms[3];
	struct mls_group g;
	struct buf s;
	size_t k, n = 0;

	REQUIRE(setup(ms) == 0);
	buf_init_dyn(&s, MLS_GROUP_STATE_MAX);
	/* C joined last: it keeps no past epoch, and its state ends in n_past = 0. */
	REQUIRE(mls_group_state_write(&ms[2].g, &s) == 0);
	REQUIRE(s.p[0] == MLS_GROUP_STATE_VERSION && s.p[s.len - 1] == 0);
	s.p[0] = MLS_GROUP_STATE_VERSION_1;
	CHECK_EQ_INT(mls_group_state_read(&g, s.p, s.len), SOTTO_ERR_TRAILING);
	CHECK_EQ_INT(mls_group_state_read(&g, s.p, s.len - 1), 0);
	for (k = 0; k < MLS_PAST_EPOCHS_MAX; k++)
		n += g.past_epochs[k].used != 0;
	CHECK(n == 0 && g.gc.epoch == ms[2].g.gc.epoch);
	mls_group_free(&g);
	buf_wipe_free(&s);
	teardown(ms, NULL, 0);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(late_messages_read_within_the_bound);
	RUN(late_message_of_a_removed_sender);
	RUN(retired_tree_has_no_handshake_keys);
	RUN(past_epochs_survive_a_restart);
	RUN(version_1_state_still_reads);
	return check_summary();
}
