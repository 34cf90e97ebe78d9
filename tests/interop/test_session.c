/*
 * Sotto's X3DH + Double Ratchet (Signal-v3 suite) against libsignal-protocol-c, in both
 * roles: sessions with and without a one-time prekey, long conversations, out-of-order
 * delivery with gaps, the skip bound, tampering, replays, repeated prekey messages.
 * "ours" is Sotto; "theirs" is libsignal. libsignal names us OURS, we have one session.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "interop_tests.h"
#include "our_party.h"
#include "sig_party.h"

#define OURS "sotto"

struct pair {
	struct our_party o;
	struct sig_party *t;
	unsigned o_sent, t_sent;        /* message numbers, to make each plaintext distinct */
};

/* A message stamped with its sender and number; lengths vary, so the CBC padding does too. */
static size_t
make_text(uint8_t *out, size_t cap, char who, unsigned n)
{
	int k = snprintf((char *)out, cap, "%c%u:", who, n);
	size_t len = (size_t)k + (n * 37u) % 90u, i;

	if (len > cap)
		len = cap;
	for (i = (size_t)k; i < len; i++)
		out[i] = (uint8_t)('a' + (n + i) % 26);
	return len;
}

static void
pair_free(struct pair *p)
{
	our_party_wipe(&p->o);
	sig_party_free(p->t);
	p->t = NULL;
}

/* Our Alice, their Bob. */
static int
pair_our_alice(struct pair *p, int with_opk, uint32_t max_skip)
{
	struct sig_bundle b;

	memset(p, 0, sizeof(*p));
	if (our_party_init(&p->o, 0) != 0 || sig_party_new(&p->t, 4) != 0)
		return -1;
	p->o.max_skip = max_skip;
	if (sig_party_bundle(p->t, &b, with_opk, 3) != 0)
		return -1;
	return our_party_initiate(&p->o, &b) == 0 ? 0 : -1;
}

/* Their Alice, our Bob. */
static int
pair_their_alice(struct pair *p, int with_opk, uint32_t max_skip)
{
	struct sig_bundle b;

	memset(p, 0, sizeof(*p));
	if (our_party_init(&p->o, 4) != 0 || sig_party_new(&p->t, 0) != 0)
		return -1;
	p->o.max_skip = max_skip;
	if (our_party_bundle(&p->o, &b, with_opk, 2) != 0)
		return -1;
	return sig_party_process_bundle(p->t, OURS, &b) == 0 ? 0 : -1;
}

struct wire {
	uint8_t *ct;
	size_t len;
	int prekey;
	uint8_t pt[128];
	size_t pt_len;
};

static void
wire_free(struct wire *w)
{
	free(w->ct);
	w->ct = NULL;
}

static int
ours_send(struct pair *p, struct wire *w)
{
	w->pt_len = make_text(w->pt, sizeof(w->pt), 'o', p->o_sent++);
	return our_party_encrypt(&p->o, w->pt, w->pt_len, &w->ct, &w->len, &w->prekey);
}

static int
theirs_send(struct pair *p, struct wire *w)
{
	w->pt_len = make_text(w->pt, sizeof(w->pt), 't', p->t_sent++);
	return sig_party_encrypt(p->t, OURS, w->pt, w->pt_len, &w->ct, &w->len, &w->prekey);
}

/* Delivery: 0 when the plaintext came out right, else the receiver's error (or 1 for a
 * wrong plaintext). */
static int
theirs_receive(struct pair *p, const struct wire *w)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	int r = sig_party_decrypt(p->t, OURS, w->prekey, w->ct, w->len, &pt, &n);

	if (r == 0 && (n != w->pt_len || memcmp(pt, w->pt, n) != 0))
		r = 1;
	free(pt);
	return r;
}

static int
ours_receive(struct pair *p, const struct wire *w)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	int r = our_party_decrypt(&p->o, w->prekey, w->ct, w->len, &pt, &n);

	if (r == 0 && (n != w->pt_len || memcmp(pt, w->pt, n) != 0))
		r = 1;
	if (pt != NULL) {
		sodium_memzero(pt, n);
		free(pt);
	}
	return r;
}

/* One message each way and back, checking the message types on the way. */
static int
exchange(struct pair *p, unsigned rounds, int ours_first)
{
	struct wire w;
	unsigned i;
	int r = 0;

	for (i = 0; i < rounds && r == 0; i++) {
		memset(&w, 0, sizeof(w));
		if (ours_first) {
			if ((r = ours_send(p, &w)) == 0)
				r = theirs_receive(p, &w);
			wire_free(&w);
			if (r == 0 && (r = theirs_send(p, &w)) == 0)
				r = ours_receive(p, &w);
		} else {
			if ((r = theirs_send(p, &w)) == 0)
				r = ours_receive(p, &w);
			wire_free(&w);
			if (r == 0 && (r = ours_send(p, &w)) == 0)
				r = theirs_receive(p, &w);
		}
		wire_free(&w);
	}
	return r;
}

static void
check_our_alice(int with_opk)
{
	struct pair p;
	struct wire w = { 0 };

	REQUIRE(pair_our_alice(&p, with_opk, 0) == 0);
	REQUIRE(ours_send(&p, &w) == 0);
	CHECK(w.prekey);
	CHECK(sig_party_has_prekey(p.t, 3) == 1);
	CHECK_EQ_INT(theirs_receive(&p, &w), 0);
	/* libsignal deletes a one-time prekey once a session came from it. */
	CHECK_EQ_INT(sig_party_has_prekey(p.t, 3), !with_opk);
	wire_free(&w);
	REQUIRE(theirs_send(&p, &w) == 0);
	CHECK(!w.prekey);
	CHECK_EQ_INT(ours_receive(&p, &w), 0);
	wire_free(&w);
	REQUIRE(ours_send(&p, &w) == 0);
	CHECK(!w.prekey);               /* a reply arrived: no more prekey messages */
	CHECK_EQ_INT(theirs_receive(&p, &w), 0);
	wire_free(&w);
	CHECK_EQ_INT(exchange(&p, 5, 1), 0);
	pair_free(&p);
}

static void
check_their_alice(int with_opk)
{
	struct pair p;
	struct wire w = { 0 };

	REQUIRE(pair_their_alice(&p, with_opk, 0) == 0);
	REQUIRE(theirs_send(&p, &w) == 0);
	CHECK(w.prekey);
	CHECK(p.o.opk_live[1]);
	CHECK_EQ_INT(ours_receive(&p, &w), 0);
	CHECK_EQ_INT(p.o.opk_live[1], !with_opk);
	CHECK(p.o.opk_live[0]);
	wire_free(&w);
	REQUIRE(ours_send(&p, &w) == 0);
	CHECK(!w.prekey);
	CHECK_EQ_INT(theirs_receive(&p, &w), 0);
	wire_free(&w);
	REQUIRE(theirs_send(&p, &w) == 0);
	CHECK(!w.prekey);
	CHECK_EQ_INT(ours_receive(&p, &w), 0);
	wire_free(&w);
	CHECK_EQ_INT(exchange(&p, 5, 0), 0);
	pair_free(&p);
}

TEST(our_alice_their_bob_with_opk) { check_our_alice(1); }
TEST(our_alice_their_bob_without_opk) { check_our_alice(0); }
TEST(their_alice_our_bob_with_opk) { check_their_alice(1); }
TEST(their_alice_our_bob_without_opk) { check_their_alice(0); }

/* Bursts of 1..9 messages from alternating senders: every change of sender is a DH
 * ratchet turn; a few hundred messages in all. Halfway, our state is serialized and
 * reloaded, so the conversation also runs through our session persistence. */
static void
check_long_conversation(int our_alice)
{
	struct pair p;
	struct wire w = { 0 };
	unsigned burst, i, turns = 0, total = 0;
	int r = 0, from_ours = our_alice;

	REQUIRE((our_alice ? pair_our_alice(&p, 1, 0) : pair_their_alice(&p, 1, 0)) == 0);
	for (burst = 0; burst < 60 && r == 0; burst++) {
		unsigned n = 1 + (burst * 7) % 9;

		for (i = 0; i < n && r == 0; i++, total++) {
			if (from_ours) {
				if ((r = ours_send(&p, &w)) == 0)
					r = theirs_receive(&p, &w);
			} else {
				if ((r = theirs_send(&p, &w)) == 0)
					r = ours_receive(&p, &w);
			}
			wire_free(&w);
		}
		from_ours = !from_ours;
		turns++;
		if (burst == 30)
			CHECK_EQ_INT(our_party_reload(&p.o), 0);
	}
	CHECK_EQ_INT(r, 0);
	CHECK(total >= 250);
	CHECK(turns >= 50);
	pair_free(&p);
}

TEST(long_conversation_our_alice) { check_long_conversation(1); }
TEST(long_conversation_their_alice) { check_long_conversation(0); }

/* Fisher-Yates with libsodium's uniform randomness. */
static void
shuffle(unsigned *a, unsigned n)
{
	unsigned i, j, t;

	for (i = n; i > 1; i--) {
		j = randombytes_uniform(i);
		t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

#define OOO_A 130
#define OOO_B 110

/*
 * The sender sends OOO_A messages; the receiver gets them shuffled, with every 7th held
 * back and every 11th dropped for good. The receiver replies (a DH turn); the sender sends
 * OOO_B more on a new chain; the held-back messages of the first chain then arrive mixed
 * into the shuffled second chain. Every delivered message must decrypt exactly once.
 */
static void
check_out_of_order(int to_ours)
{
	struct wire a[OOO_A], b[OOO_B], w = { 0 };
	unsigned order[OOO_A + OOO_B], n = 0, i, delivered = 0;
	struct pair p;
	int r = 0;

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	/* The receiver of the test is the responder, so that its first message is a reply. */
	REQUIRE((to_ours ? pair_their_alice(&p, 1, 0) : pair_our_alice(&p, 1, 0)) == 0);
	/* Establish the session so that the reordered messages are ordinary ones. */
	REQUIRE(exchange(&p, 1, !to_ours) == 0);
	for (i = 0; i < OOO_A && r == 0; i++)
		r = to_ours ? theirs_send(&p, &a[i]) : ours_send(&p, &a[i]);
	REQUIRE(r == 0);
	for (i = 0; i < OOO_A; i++)
		if (i % 7 != 3 && i % 11 != 5)
			order[n++] = i;
	shuffle(order, n);
	for (i = 0; i < n && r == 0; i++, delivered++)
		r = to_ours ? ours_receive(&p, &a[order[i]]) : theirs_receive(&p, &a[order[i]]);
	CHECK_EQ_INT(r, 0);

	/* The reply turns the ratchet. */
	REQUIRE((to_ours ? ours_send(&p, &w) : theirs_send(&p, &w)) == 0);
	CHECK_EQ_INT(to_ours ? theirs_receive(&p, &w) : ours_receive(&p, &w), 0);
	wire_free(&w);

	for (i = 0; i < OOO_B && r == 0; i++)
		r = to_ours ? theirs_send(&p, &b[i]) : ours_send(&p, &b[i]);
	REQUIRE(r == 0);
	n = 0;
	for (i = 0; i < OOO_B; i++)
		if (i % 13 != 4)
			order[n++] = OOO_A + i;
	for (i = 0; i < OOO_A; i++)
		if (i % 7 == 3 && i % 11 != 5)
			order[n++] = i;
	shuffle(order, n);
	for (i = 0; i < n && r == 0; i++, delivered++) {
		struct wire *m = order[i] < OOO_A ? &a[order[i]] : &b[order[i] - OOO_A];

		r = to_ours ? ours_receive(&p, m) : theirs_receive(&p, m);
	}
	CHECK_EQ_INT(r, 0);
	CHECK(delivered >= 200);
	/* Each delivered message decrypts only once. */
	for (i = 0; i < 20; i++) {
		struct wire *m = &a[(i * 17) % OOO_A];

		if ((i * 17) % OOO_A % 11 == 5)
			continue;
		CHECK((to_ours ? ours_receive(&p, m) : theirs_receive(&p, m)) < 0);
	}
	for (i = 0; i < OOO_A; i++)
		wire_free(&a[i]);
	for (i = 0; i < OOO_B; i++)
		wire_free(&b[i]);
	pair_free(&p);
}

TEST(out_of_order_with_gaps_to_ours) { check_out_of_order(1); }
TEST(out_of_order_with_gaps_to_theirs) { check_out_of_order(0); }

void
interop_run_session_tests(void)
{
	RUN(our_alice_their_bob_with_opk);
	RUN(our_alice_their_bob_without_opk);
	RUN(their_alice_our_bob_with_opk);
	RUN(their_alice_our_bob_without_opk);
	RUN(long_conversation_our_alice);
	RUN(long_conversation_their_alice);
	RUN(out_of_order_with_gaps_to_ours);
	RUN(out_of_order_with_gaps_to_theirs);
}
