/*
 * Sotto's MLS layer (src/mls) against ts-mls 1.6.4, an independent implementation in
 * TypeScript, live: `make interop-mls` (and `make test`) run this program, which drives
 * ts-mls members in one node process over pipes (ts_oracle.c, oracle.mjs) and Sotto
 * members in this one (party.c), in the same groups, cipher suite 3.
 *
 * In both directions (ts-mls creates the group and Sotto joins by its Welcome; Sotto
 * creates it and ts-mls joins), each implementation's Add, Remove and empty (path) Commits,
 * as PublicMessages and PrivateMessages, are processed by the other, proposals of one are
 * committed by reference by the other, and after every Commit every member in the group
 * checks that it agrees with the others on the epoch, the epoch authenticator, the tree
 * hash and an exported secret, and reads an application message from the committer.
 * Removed members can no longer read; changed bytes are refused by both sides. PSK and
 * GroupContextExtensions Commits of ts-mls, authenticated data and GREASE go across too.
 * docs/MLS.md lists the cases; tests/interop/mls/README.md what the runs found.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "check.h"
#include "crypto/init.h"
#include "mls/key_package.h"
#include "mls/limits.h"
#include "mls/message.h"
#include "mls/crypto.h"
#include "mls/psk.h"
#include "mls/transcript.h"
#include "party.h"
#include "ts_oracle.h"
#include "sotto/error.h"

#define FAILF(...) do { char m_[8192]; snprintf(m_, sizeof(m_), __VA_ARGS__); \
	check_fail(__FILE__, __LINE__, m_); } while (0)
#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct ts_oracle oracle;
static int epochs_agreed, messages_read;

/* What a scenario sends around: a Commit, its Welcome, the ratchet tree out of band, a
 * proposal or application message, what a member read, a changed copy. */
struct wire {
	struct buf commit, welcome, tree, msg, got, bad;
};

static void
wire_init(struct wire *w)
{
	struct buf *b[] = { &w->commit, &w->welcome, &w->tree, &w->msg, &w->got, &w->bad };

	for (size_t i = 0; i < N(b); i++)
		buf_init_dyn(b[i], MLS_MESSAGE_MAX);
}

static void
wire_free(struct wire *w)
{
	struct buf *b[] = { &w->commit, &w->welcome, &w->tree, &w->msg, &w->got, &w->bad };

	for (size_t i = 0; i < N(b); i++)
		buf_free(b[i]);
}

/* Every member in the group (ps[i]->in) is at the same epoch with the same epoch
 * authenticator, tree hash and exported secret as the first. */
static int
agree(struct party *const *ps, size_t n)
{
	struct party_state ref, st;
	const struct party *first = NULL;
	size_t i;
	int r, auth, tree, exp, ok = 1;

	for (i = 0; i < n; i++) {
		if (!ps[i]->in)
			continue;
		if ((r = party_state(ps[i], &st)) != 0) {
			FAILF("state of %s: %s", ps[i]->name, party_result(r));
			return 0;
		}
		if (first == NULL) {
			ref = st;
			first = ps[i];
			continue;
		}
		auth = memcmp(st.epoch_authenticator, ref.epoch_authenticator, MLS_HASH_LEN) != 0;
		tree = memcmp(st.tree_hash, ref.tree_hash, MLS_HASH_LEN) != 0;
		exp = memcmp(st.exported, ref.exported, MLS_HASH_LEN) != 0;
		if (st.epoch != ref.epoch || auth || tree || exp) {
			FAILF("%s (epoch %llu) and %s (epoch %llu) disagree: authenticator %s, tree "
			    "hash %s, exporter %s", ps[i]->name, (unsigned long long)st.epoch,
			    first->name, (unsigned long long)ref.epoch, auth ? "differs" : "same",
			    tree ? "differs" : "same", exp ? "differs" : "same");
			ok = 0;
		}
	}
	if (ok)
		epochs_agreed++;
	return ok;
}

/* from sends a message; every other member in the group reads it. */
static int
broadcast(struct party *const *ps, size_t n, struct party *from)
{
	struct party_state st;
	struct wire w;
	char text[128];
	size_t i;
	int r, ok = 0;

	wire_init(&w);
	if ((r = party_state(from, &st)) != 0) {
		FAILF("state of %s: %s", from->name, party_result(r));
		goto out;
	}
	snprintf(text, sizeof(text), "epoch %llu, from %s", (unsigned long long)st.epoch, from->name);
	if ((r = party_send(from, (const uint8_t *)text, strlen(text), &w.msg)) != 0) {
		FAILF("%s sends: %s", from->name, party_result(r));
		goto out;
	}
	ok = 1;
	for (i = 0; i < n; i++) {
		if (!ps[i]->in || ps[i] == from)
			continue;
		if ((r = party_read(ps[i], &w.msg, &w.got)) != 0) {
			FAILF("%s reads %s's message: %s", ps[i]->name, from->name, party_result(r));
			ok = 0;
		} else if (w.got.len != strlen(text) || memcmp(w.got.p, text, w.got.len) != 0) {
			FAILF("%s reads %s's message as other bytes", ps[i]->name, from->name);
			ok = 0;
		} else
			messages_read++;
	}
out:
	wire_free(&w);
	return ok;
}

static int
listed(struct party *const *list, size_t n, const struct party *p)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == p)
			return 1;
	return 0;
}

/* Every member in the group other than the committer processes commit: those c removes
 * learn it (and are out), the others move on. */
static int
deliver_commit(struct party *const *ps, size_t n, struct party *committer, const struct change *c,
    const struct buf *commit)
{
	size_t i;
	int r, removed, ok = 1;

	for (i = 0; i < n; i++) {
		struct party *p = ps[i];

		if (!p->in || p == committer || listed(c->adds, c->n_adds, p))
			continue;
		r = party_process(p, commit, &removed);
		if (listed(c->removes, c->n_removes, p)) {
			if (p->ts ? r != 0 || !removed : r != SOTTO_ERR_STATE) {
				FAILF("%s, removed by %s, processes the Commit: %s%s", p->name,
				    committer->name, party_result(r), removed ? "" : ", not told it was removed");
				ok = 0;
			}
			p->in = 0;
		} else if (r != 0 || removed) {
			FAILF("%s processes %s's Commit: %s", p->name, committer->name,
			    removed ? "removed" : party_result(r));
			ok = 0;
		}
	}
	return ok;
}

/* committer commits c; everyone else in the group processes it, those added join from
 * the Welcome; then all agree and read a message from the committer. */
static int
step(struct party *const *ps, size_t n, struct party *committer, const struct change *c)
{
	struct wire w;
	size_t i;
	int r, ok = 0;

	wire_init(&w);
	if ((r = party_commit(committer, c, &w.commit, &w.welcome, &w.tree)) != 0) {
		FAILF("%s commits: %s", committer->name, party_result(r));
		goto out;
	}
	if (w.commit.len < 4 || w.commit.p[3] != (c->public ? MLS_WIRE_PUBLIC_MESSAGE :
	    MLS_WIRE_PRIVATE_MESSAGE)) {
		FAILF("%s's Commit is not a %s", committer->name, c->public ? "PublicMessage" : "PrivateMessage");
		goto out;
	}
	if (!deliver_commit(ps, n, committer, c, &w.commit))
		goto out;
	if ((w.welcome.len > 0) != (c->n_adds > 0)) {
		FAILF("%s's Commit %s a Welcome", committer->name, w.welcome.len ? "has" : "lacks");
		goto out;
	}
	for (i = 0; i < c->n_adds; i++)
		if ((r = party_join(c->adds[i], &w.welcome, c->tree_out_of_band ? &w.tree : NULL)) != 0) {
			FAILF("%s joins from %s's Welcome: %s", c->adds[i]->name, committer->name,
			    party_result(r));
			goto out;
		}
	ok = agree(ps, n) && broadcast(ps, n, committer);
out:
	wire_free(&w);
	return ok;
}

static int
add(struct party *const *ps, size_t n, struct party *committer, struct party *a, int public)
{
	struct change c = { .adds = &a, .n_adds = 1, .public = public };

	return step(ps, n, committer, &c);
}

static int
rm(struct party *const *ps, size_t n, struct party *committer, struct party *r, int public)
{
	struct change c = { .removes = &r, .n_removes = 1, .public = public };

	return step(ps, n, committer, &c);
}

static int
empty(struct party *const *ps, size_t n, struct party *committer, int public)
{
	struct change c = { .public = public };

	return step(ps, n, committer, &c);
}

/* Parties named by name, ts-mls for each 't' in kinds and Sotto for each 's'. */
static int
parties_init(struct party *p, const char *kinds, const char *const *names)
{
	for (size_t i = 0; kinds[i] != '\0'; i++) {
		int r = party_init(&p[i], names[i], kinds[i] == 't', 0);

		if (r != 0) {
			FAILF("new member %s: %s", names[i], party_result(r));
			while (i-- > 0)
				party_free(&p[i]);
			return 0;
		}
	}
	return 1;
}

static void
parties_free(struct party *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		party_free(&p[i]);
}

static int
create(struct party *p, const char *group_id)
{
	int r = party_create_group(p, group_id);

	if (r != 0)
		FAILF("%s creates the group: %s", p->name, party_result(r));
	return r == 0;
}

/* ---- The equipment ---- */

TEST(oracle_runs_pinned_ts_mls)
{
	struct party t;
	struct party_state st;

	REQUIRE(party_init(&t, "probe-ts", 1, 0) == 0);
	CHECK(party_create_group(&t, "probe") == 0);
	CHECK(party_state(&t, &st) == 0 && st.epoch == 0 && st.n_leaves == 1);
	party_free(&t);
}

/* A ts-mls member's transcript of its current epoch, from the oracle: 1 if all three
 * fields are there (the confirmed hash may be empty, *confirmed_len 0). */
static int
ts_transcript(struct party *p, uint8_t key[static MLS_HASH_LEN], uint8_t tag[static MLS_HASH_LEN],
    uint8_t confirmed[static MLS_HASH_LEN], long *confirmed_len)
{
	json_t *ans = ts_oracle_call(party_oracle(), "{s:s, s:s}", "op", "transcript", "member",
	    p->name);
	int ok;

	if (ans == NULL)
		return 0;
	*confirmed_len = check_unhex(json_string_value(json_object_get(ans,
	    "confirmed_transcript_hash")), confirmed, MLS_HASH_LEN);
	ok = check_unhex(json_string_value(json_object_get(ans, "confirmation_key")), key,
	    MLS_HASH_LEN) == MLS_HASH_LEN &&
	    check_unhex(json_string_value(json_object_get(ans, "confirmation_tag")), tag,
	    MLS_HASH_LEN) == MLS_HASH_LEN && *confirmed_len >= 0;
	json_decref(ans);
	return ok;
}

/* RFC 9420 8.2 and 11: a new group's interim transcript hash is Hash(opaque<V> tag) with
 * tag = MAC(confirmation_key, "") over the empty confirmed[0]. No joiner can check what a
 * creator used (a Welcome carries confirmed[1] itself), so Sotto's derivation
 * (mls_interim_transcript_hash_0, what mls_group_create uses) is checked against ts-mls's
 * own group: from ts-mls's epoch-0 confirmation key, Sotto must get ts-mls's epoch-0 tag,
 * and from its interim hash and ts-mls's first Commit, ts-mls's confirmed[1]. */
TEST(epoch0_interim_transcript_hash)
{
	uint8_t key[MLS_HASH_LEN], tag[MLS_HASH_LEN], confirmed[MLS_HASH_LEN];
	uint8_t mine_tag[MLS_HASH_LEN], interim[MLS_HASH_LEN], mine[MLS_HASH_LEN];
	struct change c = { .public = 1 };
	struct buf commit, welcome, tree;
	struct mls_message m;
	struct party t;
	struct cur cu;
	long confirmed_len;

	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	buf_init_dyn(&tree, MLS_MESSAGE_MAX);
	REQUIRE(party_init(&t, "transcript-ts", 1, 0) == 0);
	CHECK(party_create_group(&t, "transcript-0") == 0);
	CHECK(ts_transcript(&t, key, tag, confirmed, &confirmed_len) && confirmed_len == 0);
	mls_interim_transcript_hash_0(interim, mine_tag, key);
	CHECK(memcmp(mine_tag, tag, MLS_HASH_LEN) == 0);
	CHECK(party_commit(&t, &c, &commit, &welcome, &tree) == 0);
	CHECK(ts_transcript(&t, key, tag, confirmed, &confirmed_len) &&
	    confirmed_len == MLS_HASH_LEN);
	cur_init(&cu, commit.p, commit.len);
	mls_message_read(&cu, &m);
	CHECK(cur_finish(&cu) == 0 && m.wire_format == MLS_WIRE_PUBLIC_MESSAGE);
	CHECK(mls_confirmed_transcript_hash(mine, interim, MLS_HASH_LEN, MLS_WIRE_PUBLIC_MESSAGE,
	    &m.pub.content, m.pub.auth.signature, m.pub.auth.signature_len) == 0);
	CHECK(memcmp(mine, confirmed, MLS_HASH_LEN) == 0);
	/* A different interim hash (the tag's bare bytes, without the opaque<V> length) does
	 * not give ts-mls's confirmed[1]: the comparison can fail. */
	mls_hash(interim, mine_tag, MLS_HASH_LEN);
	CHECK(mls_confirmed_transcript_hash(mine, interim, MLS_HASH_LEN, MLS_WIRE_PUBLIC_MESSAGE,
	    &m.pub.content, m.pub.auth.signature, m.pub.auth.signature_len) == 0);
	CHECK(memcmp(mine, confirmed, MLS_HASH_LEN) != 0);
	party_free(&t);
	buf_free(&commit);
	buf_free(&welcome);
	buf_free(&tree);
}

/* ---- ts-mls creates the group ---- */

/* The first (kinds[0]) creates a group and adds the second, which joins by the Welcome
 * and answers. */
static void
pair_joins(const char *kinds, const char *const *names, int public)
{
	struct party p[2];
	struct party *ps[] = { &p[0], &p[1] };

	REQUIRE(parties_init(p, kinds, names));
	if (create(&p[0], names[0]) && add(ps, 2, &p[0], &p[1], public))
		CHECK(broadcast(ps, 2, &p[1]));
	parties_free(p, 2);
}

TEST(ts_group_sotto_joins_by_welcome)
{
	static const char *const names[] = { "alice-ts", "bob-sotto" };

	pair_joins("ts", names, 0);
}

/* ts-mls leaves the ratchet_tree extension out of the Welcome: Sotto cannot join without
 * the tree, and joins with it given out of band. */
TEST(ts_welcome_tree_out_of_band)
{
	static const char *const names[] = { "alice-ts", "bob-sotto" };
	struct party p[2];
	struct party *ps[] = { &p[0], &p[1] };
	struct party *adds[] = { &p[1] };
	struct change c = { .adds = adds, .n_adds = 1, .tree_out_of_band = 1 };
	struct wire w;

	REQUIRE(parties_init(p, "ts", names));
	wire_init(&w);
	if (create(&p[0], "ts group 2")) {
		CHECK(party_commit(&p[0], &c, &w.commit, &w.welcome, &w.tree) == 0);
		CHECK(party_join(&p[1], &w.welcome, NULL) == SOTTO_ERR_NOT_FOUND);
		CHECK(party_join(&p[1], &w.welcome, &w.tree) == 0);
		CHECK(agree(ps, 2) && broadcast(ps, 2, &p[0]) && broadcast(ps, 2, &p[1]));
	}
	parties_free(p, 2);
	wire_free(&w);
}

/* from sends count messages in one epoch; to reads them in the order given, each once:
 * the same message again is refused. */
static void
out_of_order(struct party *from, struct party *to, const size_t *order, size_t count)
{
	struct buf msgs[8], got;
	char text[8][32];
	size_t i;

	REQUIRE(count <= N(msgs));
	buf_init_dyn(&got, MLS_MESSAGE_MAX);
	for (i = 0; i < count; i++) {
		buf_init_dyn(&msgs[i], MLS_MESSAGE_MAX);
		snprintf(text[i], sizeof(text[i]), "message %zu", i);
		CHECK(party_send(from, (const uint8_t *)text[i], strlen(text[i]), &msgs[i]) == 0);
	}
	for (i = 0; i < count; i++) {
		size_t k = order[i];
		int r = party_read(to, &msgs[k], &got);

		if (r != 0)
			FAILF("%s reads message %zu (%zu-th): %s", to->name, k, i, party_result(r));
		else if (got.len != strlen(text[k]) || memcmp(got.p, text[k], got.len) != 0)
			FAILF("%s reads message %zu as other bytes", to->name, k);
		else
			messages_read++;
	}
	CHECK(party_read(to, &msgs[order[0]], &got) != 0);
	CHECK(party_read(to, &msgs[order[count - 1]], &got) != 0);
	for (i = 0; i < count; i++)
		buf_free(&msgs[i]);
	buf_free(&got);
}

/* In a group of ts-mls's alice and Sotto's bob, p[from] sends and the other reads out of
 * order. */
static void
out_of_order_in_pair(const char *group_id, size_t from, const size_t *order, size_t count)
{
	static const char *const names[] = { "alice-ts", "bob-sotto" };
	struct party p[2];
	struct party *ps[] = { &p[0], &p[1] };

	REQUIRE(parties_init(p, "ts", names));
	if (create(&p[0], group_id) && add(ps, 2, &p[0], &p[1], 0))
		out_of_order(&p[from], &p[1 - from], order, count);
	parties_free(p, 2);
}

TEST(sotto_reads_ts_messages_out_of_order)
{
	static const size_t order[] = { 7, 2, 5, 0, 3, 6, 1, 4 };

	out_of_order_in_pair("ts group 3", 0, order, N(order));
}

TEST(ts_reads_sotto_messages_out_of_order)
{
	static const size_t order[] = { 4, 0, 7, 1, 6, 2, 5, 3 };

	out_of_order_in_pair("ts group 4", 1, order, N(order));
}

/* ts-mls adds a ts-mls and a Sotto member in one Commit (a PublicMessage): one Welcome for
 * both; the Sotto member already in processes it. */
TEST(ts_commits_two_adds_one_welcome)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts", "dave-sotto" };
	struct party p[4];
	struct party *ps[] = { &p[0], &p[1], &p[2], &p[3] };
	struct party *adds[] = { &p[2], &p[3] };
	struct change c = { .adds = adds, .n_adds = 2, .public = 1 };

	REQUIRE(parties_init(p, "tsts", names));
	if (create(&p[0], "ts group 5") && add(ps, 4, &p[0], &p[1], 0) && step(ps, 4, &p[0], &c))
		CHECK(broadcast(ps, 4, &p[3]) && broadcast(ps, 4, &p[1]));
	parties_free(p, 4);
}

/* Empty Commits from ts-mls members (a path: new keys for the committer), as
 * PrivateMessages and PublicMessages, processed by the Sotto members. */
TEST(ts_update_commits_sotto_follows)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts" };
	struct party p[3];
	struct party *ps[] = { &p[0], &p[1], &p[2] };

	REQUIRE(parties_init(p, "tst", names));
	if (create(&p[0], "ts group 6") && add(ps, 3, &p[0], &p[1], 0) && add(ps, 3, &p[0], &p[2], 1)) {
		CHECK(empty(ps, 3, &p[0], 0));
		CHECK(empty(ps, 3, &p[2], 1));
		CHECK(empty(ps, 3, &p[2], 0));
		CHECK(empty(ps, 3, &p[0], 1));
	}
	parties_free(p, 3);
}

/* ts-mls removes another ts-mls member; the Sotto member follows; the removed one is told. */
TEST(ts_remove_commit_sotto_follows)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts", "dave-ts" };
	struct party p[4];
	struct party *ps[] = { &p[0], &p[1], &p[2], &p[3] };

	REQUIRE(parties_init(p, "tstt", names));
	if (create(&p[0], "ts group 7") && add(ps, 4, &p[0], &p[1], 0) &&
	    add(ps, 4, &p[0], &p[2], 0) && add(ps, 4, &p[0], &p[3], 1)) {
		CHECK(rm(ps, 4, &p[0], &p[2], 0));
		CHECK(rm(ps, 4, &p[3], &p[0], 1));
		CHECK(!p[0].in && !p[2].in && p[1].in && p[3].in);
	}
	parties_free(p, 4);
}

/* A Sotto member commits in a group ts-mls created: empty Commits, Adds of a ts-mls and
 * a Sotto member, and the Remove of the group's creator; ts-mls accepts each. */
TEST(sotto_commits_in_ts_group)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts", "dave-sotto" };
	struct party p[4];
	struct party *ps[] = { &p[0], &p[1], &p[2], &p[3] };

	REQUIRE(parties_init(p, "tsts", names));
	if (create(&p[0], "ts group 8") && add(ps, 4, &p[0], &p[1], 0)) {
		CHECK(empty(ps, 4, &p[1], 0));
		CHECK(empty(ps, 4, &p[1], 1));
		CHECK(add(ps, 4, &p[1], &p[2], 1));
		CHECK(add(ps, 4, &p[1], &p[3], 0));
		CHECK(rm(ps, 4, &p[1], &p[0], 0));
		CHECK(empty(ps, 4, &p[2], 0));
	}
	parties_free(p, 4);
}

/* ts-mls removes a Sotto member: it refuses the Commit (its epoch stays), and cannot read
 * what is said in the next epoch, even trying that epoch with its own keys. */
TEST(ts_removes_sotto_member_who_cannot_read)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-sotto" };
	struct party p[3];
	struct party *ps[] = { &p[0], &p[1], &p[2] };
	struct party_state before, after, now;
	struct wire w;

	REQUIRE(parties_init(p, "tss", names));
	wire_init(&w);
	if (create(&p[0], "ts group 9") && add(ps, 3, &p[0], &p[1], 0) && add(ps, 3, &p[0], &p[2], 0)) {
		CHECK(party_state(&p[1], &before) == 0);
		CHECK(rm(ps, 3, &p[0], &p[1], 1));
		CHECK(party_state(&p[1], &after) == 0 && after.epoch == before.epoch &&
		    memcmp(after.epoch_authenticator, before.epoch_authenticator, MLS_HASH_LEN) == 0);
		CHECK(party_state(&p[0], &now) == 0 && now.epoch == before.epoch + 1);
		CHECK(party_send(&p[0], (const uint8_t *)"after bob left", 14, &w.msg) == 0);
		CHECK(mls_member_read(&p[1].m, w.msg.p, w.msg.len, &w.got, 0) == SOTTO_ERR_STATE);
		CHECK(mls_member_read(&p[1].m, w.msg.p, w.msg.len, &w.got, now.epoch) == SOTTO_ERR_DECRYPT);
		CHECK(party_read(&p[2], &w.msg, &w.got) == 0 && w.got.len == 14);
	}
	parties_free(p, 3);
	wire_free(&w);
}

/* A Sotto member proposes an Update; ts-mls commits it by reference; the proposer takes
 * its new leaf key from the proposal to decrypt the path. */
TEST(sotto_update_proposal_committed_by_ts)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts" };
	struct party p[3];
	struct party *ps[] = { &p[0], &p[1], &p[2] };
	struct change c = { .public = 0 };
	struct wire w;
	uint8_t old_key[MLS_KEM_PUBLIC_LEN];
	int removed;

	REQUIRE(parties_init(p, "tst", names));
	wire_init(&w);
	if (create(&p[0], "ts group 10") && add(ps, 3, &p[0], &p[1], 0) && add(ps, 3, &p[0], &p[2], 0)) {
		memcpy(old_key, p[1].m.g.tree.nodes[2 * p[1].m.g.own_leaf].leaf.encryption_key,
		    sizeof(old_key));
		CHECK(party_propose_update(&p[1], &w.msg) == 0);
		CHECK(party_process(&p[1], &w.msg, &removed) == 0);
		CHECK(party_process(&p[0], &w.msg, &removed) == 0);
		CHECK(party_process(&p[2], &w.msg, &removed) == 0);
		CHECK(step(ps, 3, &p[2], &c));
		CHECK(memcmp(old_key, p[1].m.g.tree.nodes[2 * p[1].m.g.own_leaf].leaf.encryption_key,
		    sizeof(old_key)) != 0);
		CHECK(p[1].m.g.has_pending_update == 0);
		CHECK(empty(ps, 3, &p[0], 0));
	}
	parties_free(p, 3);
	wire_free(&w);
}

/* A ts-mls member proposes an Update (its LeafNode made by the oracle with ts-mls's
 * encoders: ts-mls 1.6.4 has no call for it); Sotto checks it, commits it by reference,
 * and encrypts the path to the new leaf key; the proposer, and the others, follow. */
TEST(ts_update_proposal_committed_by_sotto)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts", "dave-sotto" };
	struct party p[4];
	struct party *ps[] = { &p[0], &p[1], &p[2], &p[3] };
	struct change c = { .cached = 1 };
	uint8_t old_key[MLS_KEM_PUBLIC_LEN];
	struct wire w;
	int removed;
	size_t i;

	REQUIRE(parties_init(p, "tsts", names));
	wire_init(&w);
	if (create(&p[0], "ts group 21") && add(ps, 4, &p[0], &p[1], 0) &&
	    add(ps, 4, &p[0], &p[2], 0) && add(ps, 4, &p[0], &p[3], 0)) {
		memcpy(old_key, p[1].m.g.tree.nodes[4].leaf.encryption_key, sizeof(old_key));
		CHECK(party_propose_update(&p[2], &w.msg) == 0);
		for (i = 0; i < 4; i++)
			if (i != 2)
				CHECK(party_process(&p[i], &w.msg, &removed) == 0);
		CHECK(step(ps, 4, &p[1], &c));
		CHECK(memcmp(old_key, p[1].m.g.tree.nodes[4].leaf.encryption_key, sizeof(old_key)) != 0);
		CHECK(p[1].m.g.tree.nodes[4].leaf.source == MLS_LEAF_SOURCE_UPDATE);
		CHECK(empty(ps, 4, &p[3], 0));
		CHECK(empty(ps, 4, &p[2], 1));
	}
	parties_free(p, 4);
	wire_free(&w);
}

/* ts-mls proposes a Remove (a PrivateMessage); Sotto commits it by reference. */
TEST(ts_remove_proposal_committed_by_sotto)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts" };
	struct party p[3];
	struct party *ps[] = { &p[0], &p[1], &p[2] };
	struct party *gone[] = { &p[2] };
	struct change c = { .removes = gone, .n_removes = 0, .cached = 1 };
	struct wire w;
	int removed;

	REQUIRE(parties_init(p, "tst", names));
	wire_init(&w);
	if (create(&p[0], "ts group 11") && add(ps, 3, &p[0], &p[1], 0) && add(ps, 3, &p[0], &p[2], 0)) {
		CHECK(party_propose(&p[0], 0, &p[2], 0, &w.msg) == 0);
		CHECK(party_process(&p[1], &w.msg, &removed) == 0);
		CHECK(party_process(&p[2], &w.msg, &removed) == 0);
		CHECK(party_commit(&p[1], &c, &w.commit, &w.welcome, &w.tree) == 0);
		/* the Remove comes by reference: deliver as for a Commit that removes carol */
		c.n_removes = 1;
		CHECK(deliver_commit(ps, 3, &p[1], &c, &w.commit));
		CHECK(!p[2].in);
		CHECK(agree(ps, 3) && broadcast(ps, 3, &p[1]));
	}
	parties_free(p, 3);
	wire_free(&w);
}

/* ts-mls proposes an Add (a PublicMessage); Sotto commits it by reference and writes the
 * Welcome for the new member. */
TEST(ts_add_proposal_committed_by_sotto)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-sotto" };
	struct party p[3];
	struct party *ps[] = { &p[0], &p[1], &p[2] };
	struct change c = { .cached = 1, .public = 1 };
	struct wire w;
	int removed;

	REQUIRE(parties_init(p, "tss", names));
	wire_init(&w);
	if (create(&p[0], "ts group 12") && add(ps, 3, &p[0], &p[1], 0)) {
		CHECK(party_propose(&p[0], 1, &p[2], 1, &w.msg) == 0);
		CHECK(party_process(&p[1], &w.msg, &removed) == 0);
		CHECK(party_commit(&p[1], &c, &w.commit, &w.welcome, &w.tree) == 0);
		CHECK(w.welcome.len > 0);
		CHECK(deliver_commit(ps, 3, &p[1], &c, &w.commit));
		CHECK(party_join(&p[2], &w.welcome, NULL) == 0);
		CHECK(agree(ps, 3) && broadcast(ps, 3, &p[1]) && broadcast(ps, 3, &p[2]));
	}
	parties_free(p, 3);
	wire_free(&w);
}

/* ---- Sotto creates the group ---- */

TEST(sotto_group_ts_joins_by_welcome)
{
	static const char *const names[] = { "alice-sotto", "bob-ts" };

	pair_joins("st", names, 1);
}

/* A ts-mls member commits in a group Sotto created: empty Commits both ways of framing,
 * two Adds in one Commit (one of them a Sotto member joining from ts-mls's Welcome), and
 * the Remove of the group's Sotto creator. */
TEST(ts_commits_in_sotto_group)
{
	static const char *const names[] = { "alice-sotto", "bob-ts", "carol-sotto", "dave-ts" };
	struct party p[4];
	struct party *ps[] = { &p[0], &p[1], &p[2], &p[3] };
	struct party *adds[] = { &p[2], &p[3] };
	struct change c = { .adds = adds, .n_adds = 2 };

	REQUIRE(parties_init(p, "stst", names));
	if (create(&p[0], "sotto group 2") && add(ps, 4, &p[0], &p[1], 0)) {
		CHECK(empty(ps, 4, &p[1], 0));
		CHECK(empty(ps, 4, &p[1], 1));
		CHECK(step(ps, 4, &p[1], &c));
		CHECK(rm(ps, 4, &p[1], &p[0], 1));
		CHECK(empty(ps, 4, &p[2], 0));
		CHECK(!p[0].in);
	}
	parties_free(p, 4);
}

/* Sotto removes a ts-mls member, which is told and can no longer read. */
TEST(sotto_removes_ts_member_who_cannot_read)
{
	static const char *const names[] = { "alice-sotto", "bob-ts", "carol-ts" };
	struct party p[3];
	struct party *ps[] = { &p[0], &p[1], &p[2] };
	struct wire w;

	REQUIRE(parties_init(p, "stt", names));
	wire_init(&w);
	if (create(&p[0], "sotto group 3") && add(ps, 3, &p[0], &p[1], 0) && add(ps, 3, &p[0], &p[2], 0)) {
		CHECK(rm(ps, 3, &p[0], &p[1], 0));
		CHECK(party_send(&p[0], (const uint8_t *)"after bob left", 14, &w.msg) == 0);
		CHECK(party_read(&p[1], &w.msg, &w.got) == PARTY_TS_REFUSED);
		CHECK(party_read(&p[2], &w.msg, &w.got) == 0 && w.got.len == 14);
	}
	parties_free(p, 3);
	wire_free(&w);
}

/* Six members, three of each: Sotto adds a ts-mls and a Sotto member in one Commit (one
 * Welcome); ts-mls adds two more with a Commit without a path (ts-mls sends none for Adds
 * alone), which leaves a parent with an unmerged leaf that a Sotto member joining next
 * must validate (RFC 9420 12.4.3.1); every member commits in turn; one of each
 * implementation removes one of the other; Sotto fills a blank leaf with a ts-mls member.
 * (A ts-mls 1.6.4 member joining while that unmerged leaf is still listed refuses the
 * tree: tests/interop/mls/README.md.) */
TEST(mixed_group_every_member_commits)
{
	static const char *const names[] = { "a-sotto", "b-ts", "c-sotto", "d-ts", "e-sotto",
	    "f-sotto", "g-ts" };
	struct party p[7];
	struct party *ps[] = { &p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6] };
	struct party *adds1[] = { &p[1], &p[2] }, *adds2[] = { &p[3], &p[4] };
	struct change c1 = { .adds = adds1, .n_adds = 2 };
	struct change c2 = { .adds = adds2, .n_adds = 2, .public = 1 };
	size_t i;

	REQUIRE(parties_init(p, "ststsst", names));
	if (create(&p[0], "sotto group 4") && step(ps, 7, &p[0], &c1) && step(ps, 7, &p[1], &c2)) {
		/* d (leaf 3) is unmerged at the parent of leaves 0 to 3 */
		CHECK(p[0].m.g.tree.nodes[3].n_unmerged == 1 && p[0].m.g.tree.nodes[3].unmerged[0] == 3);
		CHECK(add(ps, 7, &p[4], &p[5], 0));
		for (i = 0; i < 6; i++)
			CHECK(empty(ps, 7, &p[i], (int)(i % 2)));
		CHECK(rm(ps, 7, &p[3], &p[2], 0));
		CHECK(rm(ps, 7, &p[4], &p[1], 1));
		CHECK(add(ps, 7, &p[0], &p[6], 0));
		CHECK(p[6].in && p[0].m.g.tree.n_leaves == 8);
		CHECK(empty(ps, 7, &p[6], 0));
		CHECK(empty(ps, 7, &p[5], 1));
	}
	parties_free(p, 7);
}

/* ts-mls members whose capabilities list a GREASE value (RFC 9420 13.5) in every list:
 * Sotto adds one, commits with it in the group, and joins a group one of them made. */
TEST(grease_capabilities_accepted)
{
	struct party s, t, u;
	struct party *ps[] = { &s, &t, &u };

	REQUIRE(party_init(&s, "alice-sotto", 0, 0) == 0);
	REQUIRE(party_init(&t, "bob-ts-grease", 1, 1) == 0);
	REQUIRE(party_init(&u, "carol-ts-grease", 1, 1) == 0);
	if (create(&s, "sotto group 5") && add(ps, 3, &s, &t, 1)) {
		CHECK(empty(ps, 3, &t, 0));
		CHECK(add(ps, 3, &t, &u, 0));
		CHECK(empty(ps, 3, &s, 1));
	}
	party_free(&s);
	party_free(&t);
	party_free(&u);
	REQUIRE(party_init(&s, "alice-sotto", 0, 0) == 0);
	REQUIRE(party_init(&t, "bob-ts-grease", 1, 1) == 0);
	if (create(&t, "ts grease group") && add(ps, 2, &t, &s, 0))
		CHECK(empty(ps, 2, &s, 0));
	party_free(&s);
	party_free(&t);
}

/* Changed bytes in a Commit of either implementation are refused by the other (a public
 * Commit's membership tag, a private Commit's ciphertext), leaving it in its epoch; the
 * Commit as sent is then accepted. */
static void
tamper_commit(struct party *const *ps, size_t n, struct party *committer, struct party *victim,
    int public)
{
	struct change c = { .public = public };
	struct party_state before, after;
	struct wire w;
	int r, removed;

	REQUIRE(party_state(victim, &before) == 0);
	wire_init(&w);
	if ((r = party_commit(committer, &c, &w.commit, &w.welcome, &w.tree)) != 0) {
		FAILF("%s commits: %s", committer->name, party_result(r));
		goto out;
	}
	buf_put(&w.bad, w.commit.p, w.commit.len);
	w.bad.p[w.bad.len - 1] ^= 0x01;
	CHECK(party_process(victim, &w.bad, &removed) != 0);
	CHECK(party_state(victim, &after) == 0 && after.epoch == before.epoch &&
	    memcmp(after.epoch_authenticator, before.epoch_authenticator, MLS_HASH_LEN) == 0);
	w.bad.p[w.bad.len - 1] ^= 0x01;
	w.bad.p[w.bad.len / 2] ^= 0x80;
	CHECK(party_process(victim, &w.bad, &removed) != 0);
	CHECK(deliver_commit(ps, n, committer, &c, &w.commit));
	CHECK(agree(ps, n));
out:
	wire_free(&w);
}

TEST(tampered_commits_refused_both_ways)
{
	static const char *const names[] = { "alice-sotto", "bob-ts" };
	struct party p[2];
	struct party *ps[] = { &p[0], &p[1] };

	REQUIRE(parties_init(p, "st", names));
	if (create(&p[0], "sotto group 6") && add(ps, 2, &p[0], &p[1], 0)) {
		tamper_commit(ps, 2, &p[0], &p[1], 1);
		tamper_commit(ps, 2, &p[0], &p[1], 0);
		tamper_commit(ps, 2, &p[1], &p[0], 1);
		tamper_commit(ps, 2, &p[1], &p[0], 0);
		CHECK(broadcast(ps, 2, &p[0]) && broadcast(ps, 2, &p[1]));
	}
	parties_free(p, 2);
}

/* An application message with a changed byte is refused; as sent, it is read. */
static void
tamper_message(struct party *from, struct party *to)
{
	struct wire w;
	size_t at;

	wire_init(&w);
	if (party_send(from, (const uint8_t *)"tamper with me", 14, &w.msg) != 0) {
		FAILF("%s sends: %s", from->name, party_result(PARTY_TS_REFUSED));
		goto out;
	}
	for (at = w.msg.len - 1; at > w.msg.len - 40; at -= 13) {
		buf_reset(&w.bad);
		buf_put(&w.bad, w.msg.p, w.msg.len);
		w.bad.p[at] ^= 0x04;
		if (party_read(to, &w.bad, &w.got) == 0)
			FAILF("%s reads %s's message with byte %zu changed", to->name, from->name, at);
	}
	CHECK(party_read(to, &w.msg, &w.got) == 0 && w.got.len == 14 &&
	    memcmp(w.got.p, "tamper with me", 14) == 0);
out:
	wire_free(&w);
}

TEST(tampered_messages_refused_both_ways)
{
	static const char *const names[] = { "alice-ts", "bob-sotto" };
	struct party p[2];
	struct party *ps[] = { &p[0], &p[1] };

	REQUIRE(parties_init(p, "ts", names));
	if (create(&p[0], "ts group 13") && add(ps, 2, &p[0], &p[1], 0)) {
		tamper_message(&p[0], &p[1]);
		tamper_message(&p[1], &p[0]);
	}
	parties_free(p, 2);
}

/* Application data of every length around Sotto's 32-byte padding block and ts-mls's
 * padding to 256 bytes, both ways. */
TEST(message_sizes_both_ways)
{
	static const char *const names[] = { "alice-sotto", "bob-ts" };
	static const size_t lens[] = { 0, 1, 31, 32, 33, 200, 255, 256, 257, 4096, 65536 };
	struct party p[2];
	struct party *ps[] = { &p[0], &p[1] };
	struct wire w;
	uint8_t data[65536];
	size_t i, k;

	randombytes_buf(data, sizeof(data));
	REQUIRE(parties_init(p, "st", names));
	wire_init(&w);
	if (create(&p[0], "sotto group 7") && add(ps, 2, &p[0], &p[1], 0)) {
		for (i = 0; i < N(lens); i++)
			for (k = 0; k < 2; k++) {
				int r;

				CHECK(party_send(&p[k], data, lens[i], &w.msg) == 0);
				if ((r = party_read(&p[1 - k], &w.msg, &w.got)) != 0)
					FAILF("%zu bytes from %s: %s", lens[i], p[k].name, party_result(r));
				else if (w.got.len != lens[i] ||
				    (lens[i] > 0 && memcmp(w.got.p, data, lens[i]) != 0))
					FAILF("%zu bytes from %s read as other bytes", lens[i], p[k].name);
			}
	}
	parties_free(p, 2);
	wire_free(&w);
}

/* authenticated_data (RFC 9420 6: signed, and in a PrivateMessage bound by the AEAD) on
 * application messages both ways and on ts-mls's Commits, public and private. */
TEST(authenticated_data_both_ways)
{
	static const char *const names[] = { "alice-ts", "bob-sotto" };
	struct party p[2];
	struct party *ps[] = { &p[0], &p[1] };
	struct change priv = { .aad = "commit header" }, pub = { .aad = "x", .public = 1 };
	struct wire w;
	size_t k;

	REQUIRE(parties_init(p, "ts", names));
	wire_init(&w);
	if (create(&p[0], "ts group 15") && add(ps, 2, &p[0], &p[1], 0)) {
		for (k = 0; k < 2; k++) {
			CHECK(party_send_aad(&p[k], (const uint8_t *)"with a header", 13,
			    "message header", &w.msg) == 0);
			CHECK(party_read(&p[1 - k], &w.msg, &w.got) == 0 && w.got.len == 13);
		}
		CHECK(step(ps, 2, &p[0], &priv));
		CHECK(step(ps, 2, &p[0], &pub));
	}
	parties_free(p, 2);
	wire_free(&w);
}

/* A Sotto KeyPackage whose lifetime ended an hour ago: ts-mls refuses to add it and stays
 * in its epoch; the same member with a current one is added. */
TEST(expired_sotto_key_package_refused_by_ts)
{
	static const char *const names[] = { "alice-ts", "bob-sotto" };
	struct party p[2];
	struct party *ps[] = { &p[0], &p[1] };
	struct change c = { .adds = &ps[1], .n_adds = 1 };
	struct party_state before, after;
	uint64_t now = (uint64_t)time(NULL);
	struct wire w;

	REQUIRE(parties_init(p, "ts", names));
	wire_init(&w);
	if (create(&p[0], "ts group 16")) {
		buf_reset(&p[1].m.kp_bytes);
		mls_key_package_secrets_wipe(&p[1].m.ks);
		CHECK(mls_key_package_create(&p[1].m.kp_bytes, &p[1].m.ks, p[1].m.sig_sec,
		    (const uint8_t *)names[1], strlen(names[1]), now - 7200, now - 3600) == 0);
		CHECK(party_state(&p[0], &before) == 0);
		CHECK(party_commit(&p[0], &c, &w.commit, &w.welcome, &w.tree) == PARTY_TS_REFUSED);
		CHECK(party_state(&p[0], &after) == 0 && after.epoch == before.epoch);
		party_free(&p[1]);
		REQUIRE(party_init(&p[1], names[1], 0, 0) == 0);
		CHECK(add(ps, 2, &p[0], &p[1], 0));
	}
	parties_free(p, 2);
	wire_free(&w);
}

/* A KeyPackage of either implementation with a changed byte in its signature is refused
 * by the other, which stays in its epoch; as made, it is added. */
static void
tampered_key_package(struct party *committer, struct party *joiner, const char *group_id)
{
	struct party *ps[] = { committer, joiner };
	struct change c = { .adds = &ps[1], .n_adds = 1 };
	struct buf *kp = joiner->ts ? &joiner->ts_kp : &joiner->m.kp_bytes;
	struct wire w;
	int r;

	wire_init(&w);
	if (create(committer, group_id)) {
		kp->p[kp->len - 1] ^= 0x01;
		r = party_commit(committer, &c, &w.commit, &w.welcome, &w.tree);
		if (r != (committer->ts ? PARTY_TS_REFUSED : SOTTO_ERR_BAD_SIGNATURE))
			FAILF("%s adds %s's changed KeyPackage: %s", committer->name, joiner->name,
			    party_result(r));
		kp->p[kp->len - 1] ^= 0x01;
		CHECK(add(ps, 2, committer, joiner, 0));
	}
	wire_free(&w);
}

TEST(tampered_key_packages_refused_both_ways)
{
	static const char *const names[] = { "alice-ts", "bob-sotto" };
	struct party p[2];

	REQUIRE(parties_init(p, "ts", names));
	tampered_key_package(&p[0], &p[1], "ts group 17");
	parties_free(p, 2);
	REQUIRE(parties_init(p, "st", (const char *const[]){ "alice-sotto", "bob-ts" }));
	tampered_key_package(&p[0], &p[1], "sotto group 10");
	parties_free(p, 2);
}

/* ts-mls commits PreSharedKey proposals (RFC 9420 8.4): this group's resumption PSKs of the
 * current and of a past epoch, and an external PSK its members hold; Sotto members follow.
 * A Sotto member without the external PSK refuses that Commit (NOT_FOUND), unchanged. A
 * Sotto member joins from a Welcome whose GroupSecrets name the external PSK. */
TEST(ts_psk_commits_sotto_follows)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts", "dave-sotto",
	    "eve-sotto" };
	static const uint8_t secret[MLS_HASH_LEN] = "the team's pre-shared key, 32 B";
	static const char *const ids[] = { "team psk" };
	const struct mls_psk team = { .type = MLS_PSK_EXTERNAL, .id = (const uint8_t *)ids[0],
	    .id_len = strlen(ids[0]), .psk = secret, .psk_len = sizeof(secret) };
	struct party p[5];
	struct party *ps[] = { &p[0], &p[1], &p[2], &p[3], &p[4] };
	struct party_state st, before, after;
	uint64_t epochs[1];
	struct change c = { .psk_epochs = epochs, .n_psk_epochs = 1 };
	struct change join = { .adds = &ps[4], .n_adds = 1, .psk_ids = ids, .n_psk_ids = 1 };
	struct wire w;
	int removed;
	size_t i;

	REQUIRE(parties_init(p, "tstss", names));
	wire_init(&w);
	for (i = 0; i < 5; i++)
		if (i != 3)
			CHECK(party_hold_psk(&p[i], &team) == 0);
	if (create(&p[0], "ts group 18") && add(ps, 5, &p[0], &p[1], 0) &&
	    add(ps, 5, &p[0], &p[2], 0) && add(ps, 5, &p[0], &p[3], 1)) {
		CHECK(party_state(&p[2], &st) == 0);
		epochs[0] = st.epoch;
		c.public = 1;
		CHECK(step(ps, 5, &p[2], &c));
		c.public = 0;
		CHECK(step(ps, 5, &p[0], &c));
		/* the external PSK and the current epoch's resumption PSK; dave lacks the first */
		CHECK(party_state(&p[0], &st) == 0);
		epochs[0] = st.epoch;
		c.psk_ids = ids;
		c.n_psk_ids = 1;
		CHECK(party_state(&p[3], &before) == 0);
		CHECK(party_commit(&p[0], &c, &w.commit, &w.welcome, &w.tree) == 0);
		CHECK(party_process(&p[3], &w.commit, &removed) == SOTTO_ERR_NOT_FOUND);
		CHECK(party_state(&p[3], &after) == 0 && after.epoch == before.epoch);
		p[3].in = 0;
		CHECK(deliver_commit(ps, 5, &p[0], &c, &w.commit));
		CHECK(agree(ps, 5) && broadcast(ps, 5, &p[0]) && broadcast(ps, 5, &p[1]));
		CHECK(step(ps, 5, &p[2], &join));
	}
	parties_free(p, 5);
	wire_free(&w);
}

/* GroupContextExtensions proposals from ts-mls. With the extensions unchanged (and a Remove,
 * so a path), Sotto follows. Two deviations of ts-mls 1.6.4 from RFC 9420 are refused:
 * with new extensions (required_capabilities asking for basic credentials) it encrypts the
 * path secrets under the old GroupContext extensions, where 12.4.1 says the provisional
 * GroupContext has the new ones (Sotto: DECRYPT; another ts-mls member refuses it too);
 * alone, it sends no path, which 12.4 requires for this proposal type (Sotto: PROTOCOL).
 * Each refusal leaves the Sotto member in its epoch. */
TEST(ts_group_context_extensions)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts", "dave-ts",
	    "erin-ts" };
	/* RequiredCapabilities: no extension or proposal types, credential types { basic } */
	static const uint8_t required[] = { 0, 0, 2, 0, 1 };
	struct party p[5];
	struct party *ps[] = { &p[0], &p[1], &p[2], &p[3], &p[4] };
	struct change same = { .removes = &ps[2], .n_removes = 1, .gce = 1 };
	struct change changed = { .removes = &ps[3], .n_removes = 1, .gce = 1, .extension_type = 3,
	    .extension = required, .extension_len = sizeof(required) };
	struct change alone = { .gce = 1, .extension_type = 3, .extension = required,
	    .extension_len = sizeof(required) };
	struct party_state before, after;
	struct wire w;
	int removed;
	size_t i;

	REQUIRE(parties_init(p, "tsttt", names));
	wire_init(&w);
	if (create(&p[0], "ts group 19")) {
		for (i = 1; i < 5; i++)
			CHECK(add(ps, 5, &p[0], &p[i], 0));
		/* GroupContextExtensions of none, as now */
		CHECK(step(ps, 5, &p[0], &same));
		CHECK(p[1].m.g.gc.extensions_len == 0);
		CHECK(party_state(&p[1], &before) == 0);
		CHECK(party_commit(&p[0], &changed, &w.commit, &w.welcome, &w.tree) == 0);
		CHECK(party_process(&p[1], &w.commit, &removed) == SOTTO_ERR_DECRYPT);
		CHECK(party_process(&p[4], &w.commit, &removed) == PARTY_TS_REFUSED);
		CHECK(party_state(&p[1], &after) == 0 && after.epoch == before.epoch);
	}
	parties_free(p, 5);
	REQUIRE(parties_init(p, "ts", names));
	if (create(&p[0], "ts group 20") && add(ps, 2, &p[0], &p[1], 0)) {
		CHECK(party_state(&p[1], &before) == 0);
		CHECK(party_commit(&p[0], &alone, &w.commit, &w.welcome, &w.tree) == 0);
		CHECK(party_process(&p[1], &w.commit, &removed) == SOTTO_ERR_PROTOCOL);
		CHECK(party_state(&p[1], &after) == 0 && after.epoch == before.epoch);
	}
	parties_free(p, 2);
	wire_free(&w);
}

/* A message each side sent in the previous epoch reaches the other after the next Commit:
 * both keep past epochs' application keys and read it (Sotto: MLS_PAST_EPOCHS_MAX, from
 * the kept epoch's keys and signature keys); given again, Sotto refuses it as a replay. */
TEST(late_message_of_previous_epoch)
{
	static const char *const names[] = { "alice-sotto", "bob-ts" };
	struct party p[2];
	struct party *ps[] = { &p[0], &p[1] };
	struct buf from_s, from_t, got;

	buf_init_dyn(&from_s, MLS_MESSAGE_MAX);
	buf_init_dyn(&from_t, MLS_MESSAGE_MAX);
	buf_init_dyn(&got, MLS_MESSAGE_MAX);
	REQUIRE(parties_init(p, "st", names));
	if (create(&p[0], "sotto group 8") && add(ps, 2, &p[0], &p[1], 0)) {
		CHECK(party_send(&p[0], (const uint8_t *)"said in epoch 1", 15, &from_s) == 0);
		CHECK(party_send(&p[1], (const uint8_t *)"said in epoch 1", 15, &from_t) == 0);
		CHECK(empty(ps, 2, &p[1], 0));
		CHECK(party_read(&p[1], &from_s, &got) == 0 && got.len == 15 &&
		    memcmp(got.p, "said in epoch 1", 15) == 0);
		CHECK(party_read(&p[0], &from_t, &got) == 0 && got.len == 15 &&
		    memcmp(got.p, "said in epoch 1", 15) == 0);
		CHECK(party_read(&p[0], &from_t, &got) == SOTTO_ERR_REPLAY);
	}
	parties_free(p, 2);
	buf_free(&from_s);
	buf_free(&from_t);
	buf_free(&got);
}

/* A Sotto member removed by ts-mls comes back with a new KeyPackage into its old leaf. */
TEST(sotto_member_removed_and_added_again)
{
	static const char *const names[] = { "alice-ts", "bob-sotto", "carol-ts" };
	struct party p[3];
	struct party *ps[] = { &p[0], &p[1], &p[2] };

	REQUIRE(parties_init(p, "tst", names));
	if (create(&p[0], "ts group 14") && add(ps, 3, &p[0], &p[1], 0) && add(ps, 3, &p[0], &p[2], 0) &&
	    rm(ps, 3, &p[0], &p[1], 0)) {
		party_free(&p[1]);
		REQUIRE(party_init(&p[1], "bob-sotto", 0, 0) == 0);
		CHECK(add(ps, 3, &p[2], &p[1], 1));
		CHECK(p[1].m.g.own_leaf == 1);
		CHECK(empty(ps, 3, &p[1], 0));
	}
	parties_free(p, 3);
}

/* Sotto adds three members, two of ts-mls and one of Sotto, in one Commit: one Welcome
 * that each finds its secrets in. */
TEST(sotto_welcome_for_three)
{
	static const char *const names[] = { "alice-sotto", "bob-ts", "carol-sotto", "dave-ts" };
	struct party p[4];
	struct party *ps[] = { &p[0], &p[1], &p[2], &p[3] };
	struct party *adds[] = { &p[1], &p[2], &p[3] };
	struct change c = { .adds = adds, .n_adds = 3, .public = 1 };

	REQUIRE(parties_init(p, "stst", names));
	if (create(&p[0], "sotto group 9") && step(ps, 4, &p[0], &c)) {
		CHECK(broadcast(ps, 4, &p[1]) && broadcast(ps, 4, &p[2]) && broadcast(ps, 4, &p[3]));
		CHECK(empty(ps, 4, &p[3], 1));
	}
	parties_free(p, 4);
}

int
main(void)
{
	int started;

	signal(SIGPIPE, SIG_IGN);
	if (sotto_crypto_init() != 0)
		return 1;
	started = ts_oracle_start(&oracle) == 0;
	party_use_oracle(&oracle);
	if (!started) {
		check_begin("oracle_runs_pinned_ts_mls");
		check_fail(__FILE__, __LINE__, oracle.error);
		check_end();
		return check_summary();
	}
	RUN(oracle_runs_pinned_ts_mls);
	RUN(epoch0_interim_transcript_hash);
	RUN(ts_group_sotto_joins_by_welcome);
	RUN(ts_welcome_tree_out_of_band);
	RUN(sotto_reads_ts_messages_out_of_order);
	RUN(ts_reads_sotto_messages_out_of_order);
	RUN(ts_commits_two_adds_one_welcome);
	RUN(ts_update_commits_sotto_follows);
	RUN(ts_remove_commit_sotto_follows);
	RUN(sotto_commits_in_ts_group);
	RUN(ts_removes_sotto_member_who_cannot_read);
	RUN(sotto_update_proposal_committed_by_ts);
	RUN(ts_update_proposal_committed_by_sotto);
	RUN(ts_remove_proposal_committed_by_sotto);
	RUN(ts_add_proposal_committed_by_sotto);
	RUN(sotto_group_ts_joins_by_welcome);
	RUN(ts_commits_in_sotto_group);
	RUN(sotto_removes_ts_member_who_cannot_read);
	RUN(mixed_group_every_member_commits);
	RUN(grease_capabilities_accepted);
	RUN(tampered_commits_refused_both_ways);
	RUN(tampered_messages_refused_both_ways);
	RUN(message_sizes_both_ways);
	RUN(authenticated_data_both_ways);
	RUN(expired_sotto_key_package_refused_by_ts);
	RUN(tampered_key_packages_refused_both_ways);
	RUN(ts_psk_commits_sotto_follows);
	RUN(ts_group_context_extensions);
	RUN(late_message_of_previous_epoch);
	RUN(sotto_member_removed_and_added_again);
	RUN(sotto_welcome_for_three);
	ts_oracle_stop(&oracle);
	printf("# %d epochs agreed by every member, %d application messages read across "
	    "implementations and within them\n", epochs_agreed, messages_read);
	return check_summary();
}
