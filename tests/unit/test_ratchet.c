/* Double Ratchet and sessions under the native suite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "crypto/init.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"

/* Field offsets in a native ratchet state (docs/PROTOCOL.md section 6). */
#define OFF_RK (7 + 33 + 33)
#define OFF_DHS_PUB (OFF_RK + 32)
#define OFF_DHS_SEC (OFF_DHS_PUB + 32)
#define OFF_DHR (OFF_DHS_SEC + 32)
#define OFF_CKS (OFF_DHR + 32)

struct msg {
	uint8_t *p;
	size_t len;
	int type;
	uint8_t pt[96];
	size_t pt_len;
};

struct pair {
	struct x3dh_identity ida, idb;
	struct x3dh_keypair spk, opk;
	struct e2e_session *a, *b;
};

static void
msg_free(struct msg *m)
{
	free(m->p);
	memset(m, 0, sizeof(*m));
}

static int
msg_send(struct e2e_session *s, struct msg *m, const char *text)
{
	struct buf b;
	int r;

	memset(m, 0, sizeof(*m));
	m->pt_len = strlen(text);
	if (m->pt_len > sizeof(m->pt))
		return -1;
	memcpy(m->pt, text, m->pt_len);
	buf_init_dyn(&b, RATCHET_MSG_MAX + 256);
	if ((r = e2e_session_encrypt(s, &b, &m->type, m->pt, m->pt_len)) != 0) {
		buf_free(&b);
		return r;
	}
	m->p = b.p;        /* transferred */
	m->len = b.len;
	return 0;
}

/* Decrypts and checks the plaintext; returns the error code. */
static int
msg_recv(struct e2e_session *s, const struct msg *m)
{
	uint8_t out[256];
	struct buf b;
	int r;

	buf_init_fixed(&b, out, sizeof(out));
	if ((r = e2e_session_decrypt(s, &b, m->type, m->p, m->len)) != 0) {
		if (b.len != 0)
			return -1000;     /* a failure must not leave output behind */
		return r;
	}
	if (b.len != m->pt_len || memcmp(out, m->pt, m->pt_len) != 0)
		return -1001;
	return 0;
}

static void
snap(struct e2e_session *s, struct buf *b)
{
	buf_init_dyn(b, 1u << 24);
	if (e2e_session_serialize(s, b) != 0)
		abort();
}

static int
snap_same(struct e2e_session *s, const struct buf *before)
{
	struct buf now;
	int same;

	snap(s, &now);
	same = now.len == before->len && memcmp(now.p, before->p, now.len) == 0;
	buf_wipe_free(&now);
	return same;
}

static int
pair_setup(struct pair *p, int with_opk, uint32_t max_skip)
{
	struct e2e_session_opts o = { .max_skip = max_skip, .local_registration_id = 0 };
	struct x3dh_bundle bundle;
	struct msg first;
	uint8_t out[64];
	struct buf pt;
	int r;

	memset(p, 0, sizeof(*p));
	if (suite_native_identity_generate(&p->ida) != 0 ||
	    suite_native_identity_generate(&p->idb) != 0 ||
	    x3dh_keypair_generate(&p->spk, 1) != 0 || x3dh_keypair_generate(&p->opk, 100) != 0 ||
	    x3dh_bundle_make(&suite_native, &bundle, &p->idb, 0, &p->spk,
	        with_opk ? &p->opk : NULL) != 0)
		return -1;
	if ((r = e2e_session_initiate(&p->a, &suite_native, &p->ida, &bundle, &o)) != 0)
		return r;
	if ((r = msg_send(p->a, &first, "hello bob")) != 0)
		return r;
	if (first.type != E2E_SESSION_MSG_PREKEY)
		return -2;
	buf_init_fixed(&pt, out, sizeof(out));
	r = e2e_session_respond(&p->b, &suite_native, &p->idb, &p->spk, with_opk ? &p->opk : NULL,
	    first.p, first.len, &pt, &o);
	if (r == 0 && (pt.len != 9 || memcmp(out, "hello bob", 9) != 0))
		r = -3;
	msg_free(&first);
	return r;
}

static void
pair_free(struct pair *p)
{
	e2e_session_free(p->a);
	e2e_session_free(p->b);
	memset(p, 0, sizeof(*p));
}

TEST(session_basic_conversation)
{
	struct pair p;
	struct msg m;
	int i;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	CHECK(e2e_session_pending_prekey(p.a));
	REQUIRE(msg_send(p.a, &m, "second before reply") == 0);
	CHECK_EQ_INT(m.type, E2E_SESSION_MSG_PREKEY);
	CHECK_EQ_INT(msg_recv(p.b, &m), 0);
	msg_free(&m);
	/* Bob answers; from then on Alice sends normal messages. */
	REQUIRE(msg_send(p.b, &m, "hi alice") == 0);
	CHECK_EQ_INT(m.type, E2E_SESSION_MSG_NORMAL);
	CHECK_EQ_INT(msg_recv(p.a, &m), 0);
	msg_free(&m);
	CHECK(!e2e_session_pending_prekey(p.a));
	for (i = 0; i < 20; i++) {
		struct e2e_session *from = i % 3 == 0 ? p.b : p.a, *to = from == p.a ? p.b : p.a;
		char text[32];

		snprintf(text, sizeof(text), "message %d", i);
		REQUIRE(msg_send(from, &m, text) == 0);
		CHECK_EQ_INT(m.type, E2E_SESSION_MSG_NORMAL);
		CHECK_EQ_INT(m.len, SUITE_NATIVE_OVERHEAD + strlen(text));
		CHECK_EQ_INT(msg_recv(to, &m), 0);
		msg_free(&m);
	}
	{
		size_t n;
		const uint8_t *id = e2e_session_remote_identity(p.b, &n);

		CHECK_EQ_INT(n, 32);
		CHECK_MEM(id, p.ida.pub, 32);
	}
	pair_free(&p);
}

TEST(session_without_one_time_prekey)
{
	struct pair p;
	struct msg m;

	REQUIRE(pair_setup(&p, 0, 0) == 0);
	REQUIRE(msg_send(p.b, &m, "reply") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &m), 0);
	msg_free(&m);
	pair_free(&p);
}

TEST(bob_cannot_send_first_and_prekey_rules)
{
	struct x3dh_identity ida, idb;
	struct x3dh_keypair spk;
	struct x3dh_bundle bundle;
	struct e2e_session *a = NULL, *b = NULL, *a2 = NULL;
	struct msg m, m2;
	uint8_t out[64];
	struct buf pt;
	int type;

	REQUIRE(suite_native_identity_generate(&ida) == 0);
	REQUIRE(suite_native_identity_generate(&idb) == 0);
	REQUIRE(x3dh_keypair_generate(&spk, 5) == 0);
	REQUIRE(x3dh_bundle_make(&suite_native, &bundle, &idb, 0, &spk, NULL) == 0);
	REQUIRE(e2e_session_initiate(&a, &suite_native, &ida, &bundle, NULL) == 0);
	REQUIRE(e2e_session_initiate(&a2, &suite_native, &ida, &bundle, NULL) == 0);
	REQUIRE(msg_send(a, &m, "one") == 0);
	REQUIRE(msg_send(a2, &m2, "other session") == 0);
	buf_init_fixed(&pt, out, sizeof(out));
	/* Wrong prekeys for this message: nothing is created. */
	{
		struct x3dh_keypair other;

		REQUIRE(x3dh_keypair_generate(&other, 5) == 0);
		CHECK_EQ_INT(e2e_session_respond(&b, &suite_native, &idb, &other, NULL, m.p, m.len, &pt,
		    NULL), SOTTO_ERR_DECRYPT);
		CHECK(b == NULL);
		CHECK_EQ_INT(pt.len, 0);
	}
	REQUIRE(e2e_session_respond(&b, &suite_native, &idb, &spk, NULL, m.p, m.len, &pt, NULL) == 0);
	/* A prekey message from another X3DH run does not belong to this session. */
	pt.len = 0;
	CHECK_EQ_INT(e2e_session_decrypt(b, &pt, m2.type, m2.p, m2.len), SOTTO_ERR_STATE);
	/* An unknown type. */
	CHECK_EQ_INT(e2e_session_decrypt(b, &pt, 9, m2.p, m2.len), SOTTO_ERR_INVALID_ARG);
	/* The raw ratchet: a fresh Bob has no sending chain. */
	{
		struct ratchet *rb = NULL;
		struct buf ob;
		uint8_t rk[32] = { 1 }, tmp[128];

		REQUIRE(ratchet_init_bob(&rb, &suite_native, rk, &spk, idb.pub, 32, ida.pub, 32, 0) == 0);
		buf_init_fixed(&ob, tmp, sizeof(tmp));
		CHECK_EQ_INT(ratchet_encrypt(rb, &ob, (const uint8_t *)"x", 1), SOTTO_ERR_STATE);
		CHECK_EQ_INT(ob.len, 0);
		CHECK_EQ_INT(ratchet_init_bob(&rb, &suite_native, rk, &spk, idb.pub, 31, ida.pub, 32, 0),
		    SOTTO_ERR_INVALID_ARG);
		ratchet_free(rb);
	}
	/* A plaintext over the limit. */
	{
		struct buf ob;

		buf_init_dyn(&ob, RATCHET_MSG_MAX * 2);
		CHECK_EQ_INT(e2e_session_encrypt(b, &ob, &type, out, RATCHET_PLAINTEXT_MAX + 1),
		    SOTTO_ERR_TOO_LARGE);
		buf_free(&ob);
	}
	msg_free(&m);
	msg_free(&m2);
	e2e_session_free(a);
	e2e_session_free(a2);
	e2e_session_free(b);
}

/* xorshift64*: a fixed seed makes the schedule reproducible. */
static uint64_t rng_state;

static uint32_t
rng(uint32_t upper)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32) % upper;
}

#define QMAX 64
#define DONE_MAX 16

static void
interleave(uint64_t seed, int steps)
{
	struct pair p;
	struct msg q[2][QMAX], done[DONE_MAX];
	size_t nq[2] = { 0, 0 }, ndone = 0, i;
	int step, delivered = 0, dropped = 0, replays = 0, reloads = 0, sent[2] = { 0, 0 };

	rng_state = seed;
	memset(done, 0, sizeof(done));
	REQUIRE(pair_setup(&p, 1, 0) == 0);
	for (step = 0; step < steps && !check_failed_now(); step++) {
		uint32_t op = rng(100), dir = rng(2);
		struct e2e_session *from = dir == 0 ? p.a : p.b, *to = dir == 0 ? p.b : p.a;

		if (op < 40 && nq[dir] < QMAX) {
			char text[80];
			size_t len = 1 + rng(60);

			snprintf(text, sizeof(text), "%u:%d:%.*s", dir, sent[dir]++, (int)len,
			    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz");
			REQUIRE(msg_send(from, &q[dir][nq[dir]++], text) == 0);
		} else if (op < 85 && nq[dir] > 0) {
			size_t k = rng((uint32_t)nq[dir]);
			int r = msg_recv(to, &q[dir][k]);

			if (r != 0)
				fprintf(stderr, "seed %llu step %d dir %u: recv %d\n",
				    (unsigned long long)seed, step, dir, r);
			CHECK_EQ_INT(r, 0);
			delivered++;
			/* Keep it for a later replay attempt. */
			if (ndone == DONE_MAX) {
				msg_free(&done[0]);
				memmove(done, done + 1, (DONE_MAX - 1) * sizeof(done[0]));
				memset(&done[DONE_MAX - 1], 0, sizeof(done[0]));
				ndone--;
			}
			done[ndone] = q[dir][k];
			done[ndone++].type |= (int)dir << 8;
			q[dir][k] = q[dir][--nq[dir]];
		} else if (op < 90 && nq[dir] > 0) {
			size_t k = rng((uint32_t)nq[dir]);

			msg_free(&q[dir][k]);
			q[dir][k] = q[dir][--nq[dir]];
			dropped++;
		} else if (op < 95 && ndone > 0) {
			struct msg m = done[rng((uint32_t)ndone)];
			struct e2e_session *dst = (m.type >> 8) == 0 ? p.b : p.a;
			struct buf before;
			int r;

			m.type &= 0xff;
			snap(dst, &before);
			r = msg_recv(dst, &m);
			/* A replayed first-flight prekey message on a session that already
			 * moved on fails as a replay too. */
			CHECK_EQ_INT(r, SOTTO_ERR_REPLAY);
			CHECK(snap_same(dst, &before));
			buf_wipe_free(&before);
			replays++;
		} else if (op >= 95) {
			/* Save and reload one side: serialization must lose nothing. */
			struct e2e_session **sp = dir == 0 ? &p.a : &p.b, *ns = NULL;
			struct buf st;

			snap(*sp, &st);
			REQUIRE(e2e_session_deserialize(&ns, &suite_native, st.p, st.len) == 0);
			buf_wipe_free(&st);
			e2e_session_free(*sp);
			*sp = ns;
			reloads++;
		}
	}
	/* Everything still in flight arrives, in random order. */
	for (i = 0; i < 2; i++)
		while (nq[i] > 0) {
			size_t k = rng((uint32_t)nq[i]);

			CHECK_EQ_INT(msg_recv(i == 0 ? p.b : p.a, &q[i][k]), 0);
			msg_free(&q[i][k]);
			q[i][k] = q[i][--nq[i]];
			delivered++;
		}
	for (i = 0; i < ndone; i++)
		msg_free(&done[i]);
	CHECK(delivered > steps / 3);
	CHECK(dropped > 0 && replays > 0 && reloads > 0);
	CHECK(ratchet_skipped_count(e2e_session_ratchet(p.b)) <= RATCHET_MAX_SKIP_DEFAULT);
	pair_free(&p);
}

TEST(randomized_interleavings)
{
	interleave(1, 3000);
	interleave(0x5077011, 3000);
	interleave(20261129, 2000);
}

/* Flips every bit of m in turn: each must be rejected with the state untouched, then the
 * real message still decrypts. */
static void
flip_all_bits(struct e2e_session *to, const struct msg *m)
{
	uint8_t *c = malloc(m->len);
	struct buf before;
	size_t bit;

	REQUIRE(c != NULL);
	snap(to, &before);
	for (bit = 0; bit < m->len * 8; bit++) {
		struct msg t = *m;
		int r;

		memcpy(c, m->p, m->len);
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		t.p = c;
		r = msg_recv(to, &t);
		if (r == 0 || r == -1000 || r == -1001)
			fprintf(stderr, "bit %zu accepted (%d)\n", bit, r);
		CHECK(r < 0 && r > -1000);
		if (!snap_same(to, &before)) {
			CHECK(!"state changed");
			break;
		}
	}
	buf_wipe_free(&before);
	free(c);
	CHECK_EQ_INT(msg_recv(to, m), 0);
}

TEST(any_flipped_bit_rejected_state_unchanged)
{
	struct pair p;
	struct msg m1, m2, m3;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	/* A new chain for Alice (the DH ratchet path). */
	REQUIRE(msg_send(p.b, &m1, "reply") == 0);
	flip_all_bits(p.a, &m1);
	msg_free(&m1);
	/* The current chain, and a skipped key. */
	REQUIRE(msg_send(p.a, &m1, "one") == 0);
	REQUIRE(msg_send(p.a, &m2, "two") == 0);
	flip_all_bits(p.b, &m2);
	flip_all_bits(p.b, &m1);
	REQUIRE(msg_send(p.a, &m3, "three") == 0);
	flip_all_bits(p.b, &m3);
	msg_free(&m1);
	msg_free(&m2);
	msg_free(&m3);
	pair_free(&p);
}

TEST(flipped_prekey_message_creates_nothing)
{
	struct x3dh_identity ida, idb;
	struct x3dh_keypair spk, opk;
	struct x3dh_bundle bundle;
	struct e2e_session *a = NULL, *b = NULL;
	struct msg m;
	uint8_t out[64], *c;
	struct buf pt;
	size_t bit;

	REQUIRE(suite_native_identity_generate(&ida) == 0);
	REQUIRE(suite_native_identity_generate(&idb) == 0);
	REQUIRE(x3dh_keypair_generate(&spk, 5) == 0 && x3dh_keypair_generate(&opk, 6) == 0);
	REQUIRE(x3dh_bundle_make(&suite_native, &bundle, &idb, 0, &spk, &opk) == 0);
	REQUIRE(e2e_session_initiate(&a, &suite_native, &ida, &bundle, NULL) == 0);
	REQUIRE(msg_send(a, &m, "first") == 0);
	REQUIRE((c = malloc(m.len)) != NULL);
	for (bit = 0; bit < m.len * 8; bit++) {
		memcpy(c, m.p, m.len);
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		buf_init_fixed(&pt, out, sizeof(out));
		CHECK(e2e_session_respond(&b, &suite_native, &idb, &spk, &opk, c, m.len, &pt, NULL) < 0);
		CHECK(b == NULL);
		CHECK_EQ_INT(pt.len, 0);
		if (check_failed_now())
			break;
	}
	free(c);
	buf_init_fixed(&pt, out, sizeof(out));
	CHECK_EQ_INT(e2e_session_respond(&b, &suite_native, &idb, &spk, &opk, m.p, m.len, &pt, NULL), 0);
	msg_free(&m);
	e2e_session_free(a);
	e2e_session_free(b);
}

TEST(replays_rejected)
{
	struct pair p;
	struct msg m0, m1, m2, r;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	REQUIRE(msg_send(p.b, &r, "reply") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &r), 0);
	CHECK_EQ_INT(msg_recv(p.a, &r), SOTTO_ERR_REPLAY);       /* in order */
	REQUIRE(msg_send(p.a, &m0, "zero") == 0);
	REQUIRE(msg_send(p.a, &m1, "one") == 0);
	REQUIRE(msg_send(p.a, &m2, "two") == 0);
	CHECK_EQ_INT(msg_recv(p.b, &m2), 0);
	CHECK_EQ_INT(ratchet_skipped_count(e2e_session_ratchet(p.b)), 2);
	CHECK_EQ_INT(msg_recv(p.b, &m0), 0);
	CHECK_EQ_INT(ratchet_skipped_count(e2e_session_ratchet(p.b)), 1);
	CHECK_EQ_INT(msg_recv(p.b, &m0), SOTTO_ERR_REPLAY);      /* skipped key was deleted */
	CHECK_EQ_INT(msg_recv(p.b, &m2), SOTTO_ERR_REPLAY);
	/* After both sides ratchet, a message of an old chain is still a replay. */
	msg_free(&r);
	REQUIRE(msg_send(p.b, &r, "again") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &r), 0);
	msg_free(&r);
	REQUIRE(msg_send(p.a, &r, "new chain") == 0);
	CHECK_EQ_INT(msg_recv(p.b, &r), 0);
	CHECK_EQ_INT(msg_recv(p.b, &m2), SOTTO_ERR_REPLAY);
	CHECK_EQ_INT(msg_recv(p.b, &m1), 0);                     /* still skipped: fine */
	CHECK_EQ_INT(msg_recv(p.b, &m1), SOTTO_ERR_REPLAY);
	msg_free(&m0);
	msg_free(&m1);
	msg_free(&m2);
	msg_free(&r);
	pair_free(&p);
}

TEST(skip_bound_enforced)
{
	struct pair p;
	struct msg m[16], r;
	struct buf before;
	int i;

	REQUIRE(pair_setup(&p, 1, 10) == 0);
	CHECK_EQ_INT(ratchet_max_skip(e2e_session_ratchet(p.b)), 10);
	for (i = 0; i < 16; i++)
		REQUIRE(msg_send(p.a, &m[i], "x") == 0);
	/* Bob has n=0; m[11] is n=12: 11 keys to skip > 10. */
	snap(p.b, &before);
	CHECK_EQ_INT(msg_recv(p.b, &m[11]), SOTTO_ERR_TOO_MANY_SKIPPED);
	CHECK(snap_same(p.b, &before));
	buf_wipe_free(&before);
	CHECK_EQ_INT(msg_recv(p.b, &m[10]), 0);                  /* exactly 10 skipped: fine */
	CHECK_EQ_INT(ratchet_skipped_count(e2e_session_ratchet(p.b)), 10);
	CHECK_EQ_INT(msg_recv(p.b, &m[3]), 0);
	CHECK_EQ_INT(ratchet_skipped_count(e2e_session_ratchet(p.b)), 9);
	/* The store never holds more than the bound: older keys are evicted. */
	CHECK_EQ_INT(msg_recv(p.b, &m[15]), 0);
	CHECK_EQ_INT(ratchet_skipped_count(e2e_session_ratchet(p.b)), 10);
	CHECK_EQ_INT(msg_recv(p.b, &m[0]), SOTTO_ERR_REPLAY);    /* evicted */
	CHECK_EQ_INT(msg_recv(p.b, &m[14]), 0);
	/* The bound also applies to the previous chain's length announced in a new chain. */
	for (i = 0; i < 16; i++)
		msg_free(&m[i]);
	REQUIRE(msg_send(p.b, &r, "reply") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &r), 0);
	msg_free(&r);
	REQUIRE(msg_send(p.a, &r, "a") == 0);
	CHECK_EQ_INT(msg_recv(p.b, &r), 0);
	msg_free(&r);
	for (i = 0; i < 12; i++) {
		REQUIRE(msg_send(p.a, &r, "lost") == 0);
		msg_free(&r);
	}
	REQUIRE(msg_send(p.b, &r, "b") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &r), 0);
	msg_free(&r);
	REQUIRE(msg_send(p.a, &r, "pn too far") == 0);           /* pn = 13, Bob nr = 1 */
	CHECK_EQ_INT(msg_recv(p.b, &r), SOTTO_ERR_TOO_MANY_SKIPPED);
	msg_free(&r);
	pair_free(&p);
}

TEST(forward_secrecy)
{
	struct pair p;
	struct msg m1, m2, r;
	struct e2e_session *saved = NULL;
	struct buf st;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	REQUIRE(msg_send(p.a, &m1, "captured one") == 0);
	REQUIRE(msg_send(p.a, &m2, "captured two") == 0);
	CHECK_EQ_INT(msg_recv(p.b, &m2), 0);
	CHECK_EQ_INT(msg_recv(p.b, &m1), 0);
	/* State saved after reading: nothing in it opens the captured messages. */
	snap(p.b, &st);
	REQUIRE(e2e_session_deserialize(&saved, &suite_native, st.p, st.len) == 0);
	CHECK_EQ_INT(ratchet_skipped_count(e2e_session_ratchet(saved)), 0);
	CHECK(msg_recv(saved, &m1) < 0);
	CHECK(msg_recv(saved, &m2) < 0);
	e2e_session_free(saved);
	saved = NULL;
	buf_wipe_free(&st);
	/* Also after further ratchet steps. */
	REQUIRE(msg_send(p.b, &r, "reply") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &r), 0);
	msg_free(&r);
	snap(p.b, &st);
	REQUIRE(e2e_session_deserialize(&saved, &suite_native, st.p, st.len) == 0);
	CHECK(msg_recv(saved, &m1) < 0);
	e2e_session_free(saved);
	buf_wipe_free(&st);
	msg_free(&m1);
	msg_free(&m2);
	pair_free(&p);
}

TEST(post_compromise_recovery)
{
	struct pair p;
	struct msg r, a1, a2, a3;
	struct ratchet *thief = NULL;
	uint8_t out[128];
	struct buf pt;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	REQUIRE(msg_send(p.b, &r, "reply") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &r), 0);
	msg_free(&r);
	/* Time t: an attacker copies Bob's whole state. */
	REQUIRE(ratchet_clone(&thief, e2e_session_ratchet(p.b)) == 0);
	/* Alice's next chain is still derived from Bob's stolen ratchet key: the thief reads it
	 * (this shows the test would notice if the thief could read later messages). */
	REQUIRE(msg_send(p.a, &a1, "still exposed") == 0);
	buf_init_fixed(&pt, out, sizeof(out));
	CHECK_EQ_INT(ratchet_decrypt(thief, &pt, a1.p, a1.len), 0);
	CHECK_EQ_INT(msg_recv(p.b, &a1), 0);
	/* Both sides ratchet with fresh keys the thief never saw. */
	REQUIRE(msg_send(p.b, &r, "bob ratchets") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &r), 0);
	msg_free(&r);
	REQUIRE(msg_send(p.a, &a2, "recovered") == 0);
	REQUIRE(msg_send(p.a, &a3, "recovered too") == 0);
	pt.len = 0;
	CHECK_EQ_INT(ratchet_decrypt(thief, &pt, a2.p, a2.len), SOTTO_ERR_DECRYPT);
	CHECK_EQ_INT(ratchet_decrypt(thief, &pt, a3.p, a3.len), SOTTO_ERR_DECRYPT);
	CHECK_EQ_INT(pt.len, 0);
	CHECK_EQ_INT(msg_recv(p.b, &a3), 0);
	CHECK_EQ_INT(msg_recv(p.b, &a2), 0);
	ratchet_free(thief);
	msg_free(&a1);
	msg_free(&a2);
	msg_free(&a3);
	pair_free(&p);
}

TEST(malformed_messages)
{
	struct pair p;
	struct msg m, t;
	struct buf before;
	static uint8_t big[RATCHET_MSG_MAX + 1];
	uint8_t c[256];
	size_t n;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	REQUIRE(msg_send(p.b, &m, "reply") == 0);
	REQUIRE(msg_recv(p.a, &m) == 0);
	msg_free(&m);
	REQUIRE(msg_send(p.a, &m, "malformed tests") == 0);
	REQUIRE(m.type == E2E_SESSION_MSG_NORMAL);
	REQUIRE(m.len <= sizeof(c));
	snap(p.b, &before);
	t = m;
	t.p = c;
	/* Every truncation. */
	for (n = 0; n < m.len; n++) {
		memcpy(c, m.p, n);
		t.len = n;
		CHECK(msg_recv(p.b, &t) < 0 && msg_recv(p.b, &t) > -1000);
	}
	CHECK_EQ_INT(e2e_session_decrypt(p.b, &before, E2E_SESSION_MSG_NORMAL, NULL, 0), SOTTO_ERR_TRUNCATED);
	t.len = m.len;
	/* Wrong version; version 1's shorter header does not authenticate these bytes. */
	memcpy(c, m.p, m.len);
	c[0] = 0x04;
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_BAD_VERSION);
	c[0] = 0x03;                 /* a PQ header: misparsed, or refused in a classical session */
	CHECK(msg_recv(p.b, &t) < 0);
	c[0] = 0x00;
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_BAD_VERSION);
	c[0] = 0x01;
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_DECRYPT);
	/* Bad ratchet keys: zero, and a small-order point (all-zero DH). */
	memcpy(c, m.p, m.len);
	memset(c + 1, 0, 32);
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_BAD_KEY);
	c[1] = 1;
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_CRYPTO);
	/* Non-canonical encodings: top bit set, u >= p. */
	memcpy(c, m.p, m.len);
	c[32] |= 0x80;
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_BAD_KEY);
	memset(c + 1, 0xff, 32);
	c[32] = 0x7f;
	c[1] = 0xed;
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_BAD_KEY);
	/* Counter at the top of its range. */
	memcpy(c, m.p, m.len);
	memset(c + 37, 0xff, 4);
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_MALFORMED);
	/* Oversized. */
	memcpy(big, m.p, m.len);
	t.p = big;
	t.len = sizeof(big);
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_TOO_LARGE);
	/* Trailing garbage is a different ciphertext: rejected. */
	t.len = m.len + 1;
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_DECRYPT);
	CHECK(snap_same(p.b, &before));
	buf_wipe_free(&before);
	CHECK_EQ_INT(msg_recv(p.b, &m), 0);
	msg_free(&m);
	/* An empty plaintext is a real message, authenticated like any other. */
	REQUIRE(msg_send(p.a, &m, "") == 0);
	memcpy(c, m.p, m.len);
	c[m.len - 1] ^= 1;
	t = m;
	t.p = c;
	CHECK_EQ_INT(msg_recv(p.b, &t), SOTTO_ERR_DECRYPT);
	CHECK_EQ_INT(msg_recv(p.b, &m), 0);
	msg_free(&m);
	pair_free(&p);
}

TEST(malformed_prekey_messages)
{
	struct x3dh_init_info info;
	struct pair p;
	struct msg m;
	uint8_t c[256];
	size_t n;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	REQUIRE(msg_send(p.a, &m, "pk") == 0);
	REQUIRE(m.type == E2E_SESSION_MSG_PREKEY && m.len <= sizeof(c));
	CHECK_EQ_INT(e2e_session_prekey_info(&suite_native, &info, m.p, m.len), 0);
	CHECK_EQ_INT(info.spk_id, 1);
	CHECK_EQ_INT(info.has_opk, 1);
	CHECK_EQ_INT(info.opk_id, 100);
	for (n = 0; n < 75; n++)
		CHECK(e2e_session_prekey_info(&suite_native, &info, m.p, n) < 0);
	memcpy(c, m.p, m.len);
	c[0] = 0x33;
	CHECK_EQ_INT(e2e_session_prekey_info(&suite_native, &info, c, m.len), SOTTO_ERR_BAD_VERSION);
	memcpy(c, m.p, m.len);
	c[1] = 0x05;    /* an unknown flag */
	CHECK_EQ_INT(e2e_session_prekey_info(&suite_native, &info, c, m.len), SOTTO_ERR_MALFORMED);
	c[1] = 0x00;    /* no OPK flag but an OPK id */
	CHECK_EQ_INT(e2e_session_prekey_info(&suite_native, &info, c, m.len), SOTTO_ERR_MALFORMED);
	memcpy(c, m.p, m.len);
	memset(c + 10, 0, 32);
	CHECK_EQ_INT(e2e_session_prekey_info(&suite_native, &info, c, m.len), SOTTO_ERR_BAD_KEY);
	/* A repeat of the first flight still decrypts on Bob's session. */
	CHECK_EQ_INT(msg_recv(p.b, &m), 0);
	msg_free(&m);
	pair_free(&p);
}

TEST(state_serialization_roundtrip_and_corruption)
{
	struct pair p;
	struct msg m[4], r;
	struct e2e_session *s2 = NULL;
	struct buf st, st2;
	size_t n;
	int i;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	for (i = 0; i < 4; i++)
		REQUIRE(msg_send(p.a, &m[i], "s") == 0);
	CHECK_EQ_INT(msg_recv(p.b, &m[3]), 0);       /* three skipped keys in the state */
	snap(p.b, &st);
	REQUIRE(e2e_session_deserialize(&s2, &suite_native, st.p, st.len) == 0);
	snap(s2, &st2);
	CHECK_EQ_INT(st.len, st2.len);
	CHECK(st.len == st2.len && memcmp(st.p, st2.p, st.len) == 0);
	buf_wipe_free(&st2);
	CHECK_EQ_INT(msg_recv(s2, &m[1]), 0);
	e2e_session_free(s2);
	s2 = NULL;
	/* Every truncation, and one byte too many. */
	for (n = 0; n < st.len; n++) {
		CHECK(e2e_session_deserialize(&s2, &suite_native, st.p, n) < 0);
		CHECK(s2 == NULL);
	}
	{
		uint8_t *x = malloc(st.len + 1);

		REQUIRE(x != NULL);
		memcpy(x, st.p, st.len);
		x[st.len] = 0;
		CHECK_EQ_INT(e2e_session_deserialize(&s2, &suite_native, x, st.len + 1), SOTTO_ERR_TRAILING);
		/* Version and suite. */
		x[0] = 3;
		CHECK_EQ_INT(e2e_session_deserialize(&s2, &suite_native, x, st.len), SOTTO_ERR_BAD_VERSION);
		x[0] = st.p[0];
		x[1] = 0x7f;
		CHECK_EQ_INT(e2e_session_deserialize(&s2, &suite_native, x, st.len), SOTTO_ERR_UNSUPPORTED);
		x[1] = st.p[1];
		/* Flags with unknown bits. */
		x[2] = 0x80;
		CHECK_EQ_INT(e2e_session_deserialize(&s2, &suite_native, x, st.len), SOTTO_ERR_MALFORMED);
		free(x);
	}
	/* The inner ratchet state: corrupt its fields one by one. */
	{
		struct ratchet *rt = NULL;
		struct buf rs;
		uint8_t *x;
		size_t off_skip;

		buf_init_dyn(&rs, 1u << 20);
		REQUIRE(ratchet_serialize(e2e_session_ratchet(p.b), &rs) == 0);
		REQUIRE((x = malloc(rs.len)) != NULL);
		for (n = 0; n < rs.len; n++)
			CHECK(ratchet_deserialize(&rt, &suite_native, rs.p, n) < 0);
		memcpy(x, rs.p, rs.len);
		x[2] = 0; x[3] = 0; x[4] = 0; x[5] = 0;       /* max_skip 0 */
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_MALFORMED);
		memcpy(x, rs.p, rs.len);
		x[7] = 31;                                    /* identity length */
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_MALFORMED);
		memcpy(x, rs.p, rs.len);
		x[OFF_DHS_SEC + 8] ^= 1;                      /* a secret key: caught by the checksum */
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_CORRUPT);
		/* Any secret or counter changed, or the checksum itself: caught by the checksum. */
		memcpy(x, rs.p, rs.len);
		x[OFF_RK] ^= 0x80;
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_CORRUPT);
		memcpy(x, rs.p, rs.len);
		x[OFF_CKS + 31] ^= 1;
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_CORRUPT);
		memcpy(x, rs.p, rs.len);
		CHECK_EQ_INT(x[rs.len - 17], 0);              /* KEM flags: a classical ratchet */
		x[rs.len - 17] = 0x08;
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_MALFORMED);
		x[rs.len - 17] = 0x02;                        /* a key pair without PQ */
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_MALFORMED);
		memcpy(x, rs.p, rs.len);
		x[rs.len - 18] ^= 1;                          /* last byte of the last digest */
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_CORRUPT);
		memcpy(x, rs.p, rs.len);
		x[rs.len - 17 - 105 - 1] ^= 1;                 /* last byte of the last skipped key */
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_CORRUPT);
		memcpy(x, rs.p, rs.len);
		x[rs.len - 1] ^= 1;
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_CORRUPT);
		memcpy(x, rs.p, rs.len);
		x[0] = 6;
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_BAD_VERSION);
		/* The count of recent messages (two received): larger than the data or the bound. */
		memcpy(x, rs.p, rs.len);
		CHECK_EQ_INT(x[rs.len - 17 - 105], 2);
		x[rs.len - 17 - 105] = 3;
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_TRUNCATED);
		x[rs.len - 17 - 105] = 33;
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_MALFORMED);
		/* The skipped-key count: larger than the data, larger than the bound. */
		off_skip = rs.len - 17 - 105 - 4 - 3 * 68;
		memcpy(x, rs.p, rs.len);
		CHECK_EQ_INT(x[off_skip + 3], 3);
		x[off_skip + 3] = 5;            /* 4 would fit in the bytes of the recent messages */
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_TRUNCATED);
		x[off_skip] = 0xff;
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_MALFORMED);
		CHECK(rt == NULL);
		CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, rs.p, rs.len), 0);
		ratchet_free(rt);
		free(x);
		buf_wipe_free(&rs);
	}
	buf_wipe_free(&st);
	for (i = 0; i < 4; i++)
		msg_free(&m[i]);
	(void)r;
	pair_free(&p);
}

/* Rebuilds a native message from the primitives as docs/PROTOCOL.md describes it, using
 * the keys in the serialized state, and compares it with what the library sent. */
/* Version 1 states (no checksum; written before the checksum existed), version 2 states
 * (no digests of received messages), version 3 states (no KEM part) and version 4 states
 * (a classical one is version 5's bytes under another version number) still load, are
 * checked as before, and are written back as version 5. */
TEST(state_version_1_still_loads)
{
	struct pair p;
	struct msg m[3], r;
	struct ratchet *rt = NULL;
	struct e2e_session *s1 = NULL;
	struct buf rs, v1, v2, v3, again, st;
	uint8_t *x, check[16];
	size_t off, body;
	int i;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	for (i = 0; i < 3; i++)
		REQUIRE(msg_send(p.a, &m[i], "v1") == 0);
	CHECK_EQ_INT(msg_recv(p.b, &m[2]), 0);       /* two skipped keys, two recent messages */
	buf_init_dyn(&rs, 1u << 20);
	buf_init_dyn(&v1, 1u << 20);
	buf_init_dyn(&v2, 1u << 20);
	buf_init_dyn(&again, 1u << 20);
	REQUIRE(ratchet_serialize(e2e_session_ratchet(p.b), &rs) == 0);
	CHECK_EQ_INT(rs.p[0], 5);
	/* Version 4 of a classical ratchet: the same bytes (no KEM part, no kem_check). */
	buf_init_dyn(&v3, 1u << 20);
	buf_u8(&v3, 4);
	buf_put(&v3, rs.p + 1, rs.len - 1 - 16);
	REQUIRE(crypto_generichash(check, 16, v3.p, v3.len, NULL, 0) == 0);
	buf_put(&v3, check, 16);
	REQUIRE(buf_status(&v3) == 0);
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, v3.p, v3.len), 0);
	REQUIRE(rt != NULL);
	REQUIRE(ratchet_serialize(rt, &again) == 0);
	CHECK(again.len == rs.len && memcmp(again.p, rs.p, rs.len) == 0);
	again.len = 0;
	ratchet_free(rt);
	rt = NULL;
	v3.len = 0;
	/* Version 3 is version 4 without the KEM flags byte (0 here, a classical ratchet). */
	CHECK_EQ_INT(rs.p[rs.len - 17], 0);
	buf_u8(&v3, 3);
	buf_put(&v3, rs.p + 1, rs.len - 1 - 17);
	REQUIRE(crypto_generichash(check, 16, v3.p, v3.len, NULL, 0) == 0);
	buf_put(&v3, check, 16);
	REQUIRE(buf_status(&v3) == 0);
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, v3.p, v3.len), 0);
	REQUIRE(rt != NULL);
	CHECK_EQ_INT(ratchet_skipped_count(rt), 2);
	CHECK_EQ_INT(ratchet_is_pq(rt), 0);
	REQUIRE(ratchet_serialize(rt, &again) == 0);
	CHECK(again.len == rs.len && memcmp(again.p, rs.p, rs.len) == 0);
	again.len = 0;
	ratchet_free(rt);
	rt = NULL;
	buf_wipe_free(&v3);
	/* Version 2 is version 3 without the recent messages, version 1 also without the
	 * trailing 16-byte checksum. */
	body = rs.len - 1 - 17 - 105;
	CHECK_EQ_INT(rs.p[1 + body], 2);
	buf_u8(&v1, 1);
	buf_put(&v1, rs.p + 1, body);
	REQUIRE(buf_status(&v1) == 0);
	buf_u8(&v2, 2);
	buf_put(&v2, rs.p + 1, body);
	REQUIRE(crypto_generichash(check, 16, v2.p, v2.len, NULL, 0) == 0);
	buf_put(&v2, check, 16);
	REQUIRE(buf_status(&v2) == 0);
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, v2.p, v2.len), 0);
	REQUIRE(rt != NULL);
	CHECK_EQ_INT(ratchet_skipped_count(rt), 2);
	ratchet_free(rt);
	rt = NULL;
	v2.p[v2.len - 1] ^= 1;
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, v2.p, v2.len), SOTTO_ERR_CORRUPT);
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, v1.p, v1.len), 0);
	REQUIRE(rt != NULL);
	CHECK_EQ_INT(ratchet_skipped_count(rt), 2);
	REQUIRE(ratchet_serialize(rt, &again) == 0);
	CHECK_EQ_INT(again.len, 1 + body + 1 + 1 + 16);
	CHECK(again.p[0] == 5 && memcmp(again.p + 1, rs.p + 1, body) == 0 &&
	    again.p[1 + body] == 0 && again.p[2 + body] == 0);
	ratchet_free(rt);
	rt = NULL;
	/* The version 1 check: a secret key that does not match the public key. */
	REQUIRE((x = malloc(v1.len)) != NULL);
	memcpy(x, v1.p, v1.len);
	x[OFF_DHS_SEC] ^= 0x40;
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, v1.len), SOTTO_ERR_CORRUPT);
	CHECK(rt == NULL);
	free(x);
	/* A version 1 state followed by a checksum has trailing bytes. */
	REQUIRE((x = malloc(rs.len)) != NULL);
	memcpy(x, rs.p, rs.len);
	x[0] = 1;
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x, rs.len), SOTTO_ERR_TRAILING);
	CHECK(rt == NULL);
	free(x);
	/* A whole session state holding a version 1 ratchet: loads and keeps working. */
	snap(p.b, &st);
	off = st.len - rs.len;                      /* the ratchet state ends the session state */
	REQUIRE(memcmp(st.p + off, rs.p, rs.len) == 0);
	REQUIRE((x = malloc(st.len)) != NULL);
	memcpy(x, st.p, off);
	x[off - 4] = (uint8_t)(v1.len >> 24);
	x[off - 3] = (uint8_t)(v1.len >> 16);
	x[off - 2] = (uint8_t)(v1.len >> 8);
	x[off - 1] = (uint8_t)v1.len;
	memcpy(x + off, v1.p, v1.len);
	CHECK_EQ_INT(e2e_session_deserialize(&s1, &suite_native, x, off + v1.len), 0);
	REQUIRE(s1 != NULL);
	e2e_session_free(p.b);
	p.b = s1;
	CHECK_EQ_INT(msg_recv(p.b, &m[0]), 0);      /* a skipped key from the old state */
	CHECK_EQ_INT(msg_send(p.b, &r, "back"), 0);
	CHECK_EQ_INT(msg_recv(p.a, &r), 0);
	msg_free(&r);
	free(x);
	buf_wipe_free(&st);
	buf_wipe_free(&rs);
	buf_wipe_free(&v1);
	buf_wipe_free(&v2);
	buf_wipe_free(&again);
	for (i = 0; i < 3; i++)
		msg_free(&m[i]);
	pair_free(&p);
}

TEST(native_suite_matches_protocol_doc)
{
	struct x3dh_identity ida, idb;
	struct x3dh_keypair spk;
	struct ratchet *a = NULL;
	struct buf st, msg;
	uint8_t rk0[32], dh[32], okm[64], mk[32], ck[32], key[32], hdr[65], ad[65 + 64];
	uint8_t ct[5 + 16];
	static const uint8_t one = 1, two = 2;
	int i;

	REQUIRE(suite_native_identity_generate(&ida) == 0);
	REQUIRE(suite_native_identity_generate(&idb) == 0);
	REQUIRE(x3dh_keypair_generate(&spk, 1) == 0);
	randombytes_buf(rk0, sizeof(rk0));
	REQUIRE(ratchet_init_alice(&a, &suite_native, rk0, spk.pub, ida.pub, 32, idb.pub, 32, 0) == 0);
	buf_init_dyn(&st, 1 << 20);
	REQUIRE(ratchet_serialize(a, &st) == 0);
	/* KDF_RK: rk' || cks = HKDF(salt = rk0, DH(DHs, SPK), "Sotto ratchet root v1", 64) */
	REQUIRE(crypto_scalarmult_curve25519(dh, st.p + OFF_DHS_SEC, spk.pub) == 0);
	REQUIRE(hkdf_sha256(okm, 64, rk0, 32, dh, 32, (const uint8_t *)"Sotto ratchet root v1", 21) == 0);
	CHECK_MEM(st.p + OFF_RK, okm, 32);
	CHECK_MEM(st.p + OFF_CKS, okm + 32, 32);
	CHECK_MEM(st.p + OFF_DHR, spk.pub, 32);
	memcpy(ck, okm + 32, 32);
	buf_init_dyn(&msg, 4096);
	for (i = 0; i < 3; i++) {
		buf_reset(&msg);
		REQUIRE(ratchet_encrypt(a, &msg, (const uint8_t *)"hello", 5) == 0);
		REQUIRE(msg.len == 65 + 5 + 16);
		/* KDF_CK, message key, header with the sender's random nonce, AD, AEAD. */
		hmac_sha256(mk, ck, 32, &one, 1);
		hmac_sha256(ck, ck, 32, &two, 1);
		REQUIRE(hkdf_sha256(key, 32, NULL, 0, mk, 32,
		    (const uint8_t *)"Sotto message keys v2", 21) == 0);
		hdr[0] = 0x02;
		memcpy(hdr + 1, st.p + OFF_DHS_PUB, 32);
		memset(hdr + 33, 0, 4);
		hdr[37] = 0; hdr[38] = 0; hdr[39] = 0; hdr[40] = (uint8_t)i;
		memcpy(hdr + 41, msg.p + 41, 24);
		memcpy(ad, hdr, 65);
		memcpy(ad + 65, ida.pub, 32);
		memcpy(ad + 97, idb.pub, 32);
		REQUIRE(aead_seal(ct, (const uint8_t *)"hello", 5, ad, sizeof(ad), hdr + 41, key) == 0);
		CHECK_MEM(msg.p, hdr, 65);
		CHECK_MEM(msg.p + 65, ct, sizeof(ct));
	}
	buf_free(&msg);
	buf_wipe_free(&st);
	ratchet_free(a);
	/* A max_skip over the limit is refused. */
	CHECK_EQ_INT(ratchet_init_alice(&a, &suite_native, rk0, spk.pub, ida.pub, 32, idb.pub, 32,
	    RATCHET_MAX_SKIP_LIMIT + 1), SOTTO_ERR_INVALID_ARG);
	CHECK(a == NULL);
}

/* A sender whose state is restored from an older copy encrypts again under message keys
 * it already used. The random nonce in the header keeps the keystream apart, and the
 * receiver tells the second message from a redelivery of the first (docs/PROTOCOL.md 4.2). */
TEST(rolled_back_sender_reuses_no_keystream)
{
	static const char t1[] = "attack at dawn!", t2[] = "retreat at six.";
	struct pair p;
	struct msg m1, m2, m3;
	struct buf saved;
	struct e2e_session *restored = NULL;
	uint8_t x_ct[sizeof(t1) - 1], x_pt[sizeof(t1) - 1];
	size_t i, len = sizeof(t1) - 1;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	REQUIRE(msg_send(p.b, &m1, "reply") == 0);     /* so that Alice sends normal messages */
	REQUIRE(msg_recv(p.a, &m1) == 0);
	msg_free(&m1);
	snap(p.a, &saved);                              /* the backup */
	REQUIRE(msg_send(p.a, &m1, t1) == 0);
	REQUIRE(e2e_session_deserialize(&restored, &suite_native, saved.p, saved.len) == 0);
	e2e_session_free(p.a);
	p.a = restored;                                 /* restored from the backup */
	REQUIRE(msg_send(p.a, &m2, t2) == 0);
	REQUIRE(m1.len == m2.len && m1.len == SUITE_NATIVE_OVERHEAD + len);
	/* Same ratchet key and number, so the same message key... */
	CHECK(memcmp(m1.p, m2.p, SUITE_NATIVE_HEADER_LEN_1) == 0);
	/* ...but no shared keystream: the ciphertexts' XOR is not the plaintexts' XOR. */
	for (i = 0; i < len; i++) {
		x_ct[i] = m1.p[SUITE_NATIVE_HEADER_LEN + i] ^ m2.p[SUITE_NATIVE_HEADER_LEN + i];
		x_pt[i] = (uint8_t)(t1[i] ^ t2[i]);
	}
	CHECK(memcmp(x_ct, x_pt, len) != 0);
	/* Bob reads the first; the second is no redelivery and is reported as such. */
	CHECK_EQ_INT(msg_recv(p.b, &m1), 0);
	CHECK_EQ_INT(msg_recv(p.b, &m1), SOTTO_ERR_REPLAY);
	CHECK_EQ_INT(msg_recv(p.b, &m2), SOTTO_ERR_ROLLBACK);
	/* The conversation goes on. */
	REQUIRE(msg_send(p.a, &m3, "after") == 0);
	CHECK_EQ_INT(msg_recv(p.b, &m3), 0);
	msg_free(&m1);
	msg_free(&m2);
	msg_free(&m3);
	buf_wipe_free(&saved);
	pair_free(&p);
}

/* A version 1 message (41-byte header, nonce derived from the message key), rebuilt from
 * the primitives as docs/PROTOCOL.md describes it, is still read. */
TEST(version_1_message_still_read)
{
	struct pair p;
	struct msg m, v1;
	struct buf st;
	uint8_t mk[32], keys[56], ad[41 + 64];
	static const uint8_t one = 1;

	REQUIRE(pair_setup(&p, 1, 0) == 0);
	REQUIRE(msg_send(p.b, &m, "reply") == 0);
	REQUIRE(msg_recv(p.a, &m) == 0);
	msg_free(&m);
	/* Alice's next message, n = 0 of her new chain: its key from her state. */
	buf_init_dyn(&st, 1u << 20);
	REQUIRE(ratchet_serialize(e2e_session_ratchet(p.a), &st) == 0);
	REQUIRE(msg_send(p.a, &m, "old format") == 0);
	hmac_sha256(mk, st.p + OFF_CKS, 32, &one, 1);
	REQUIRE(hkdf_sha256(keys, 56, NULL, 0, mk, 32,
	    (const uint8_t *)"Sotto message keys v1", 21) == 0);
	memset(&v1, 0, sizeof(v1));
	v1.type = E2E_SESSION_MSG_NORMAL;
	v1.len = 41 + 10 + 16;
	REQUIRE((v1.p = malloc(v1.len)) != NULL);
	memcpy(v1.p, m.p, 41);
	v1.p[0] = 0x01;
	memcpy(ad, v1.p, 41);
	memcpy(ad + 41, p.ida.pub, 32);
	memcpy(ad + 73, p.idb.pub, 32);
	REQUIRE(aead_seal(v1.p + 41, (const uint8_t *)"old format", 10, ad, sizeof(ad),
	    keys + 32, keys) == 0);
	memcpy(v1.pt, "old format", 10);
	v1.pt_len = 10;
	CHECK_EQ_INT(msg_recv(p.b, &v1), 0);
	msg_free(&m);
	msg_free(&v1);
	buf_wipe_free(&st);
	pair_free(&p);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(session_basic_conversation);
	RUN(session_without_one_time_prekey);
	RUN(bob_cannot_send_first_and_prekey_rules);
	RUN(randomized_interleavings);
	RUN(any_flipped_bit_rejected_state_unchanged);
	RUN(flipped_prekey_message_creates_nothing);
	RUN(replays_rejected);
	RUN(skip_bound_enforced);
	RUN(forward_secrecy);
	RUN(post_compromise_recovery);
	RUN(malformed_messages);
	RUN(malformed_prekey_messages);
	RUN(state_serialization_roundtrip_and_corruption);
	RUN(state_version_1_still_loads);
	RUN(native_suite_matches_protocol_doc);
	RUN(rolled_back_sender_reuses_no_keystream);
	RUN(version_1_message_still_read);
	return check_summary();
}
