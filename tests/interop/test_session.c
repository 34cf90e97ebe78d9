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


/*
 * The skip bound, as the Double Ratchet specification states it: a message may skip at
 * most max_skip keys of its chain (libsignal: 2000). One message further is rejected and
 * leaves the state as it was; the message exactly at the bound is accepted.
 */
static void
check_skip_bound_ours(uint32_t bound)
{
	struct wire *w;
	struct pair p;
	uint8_t *s0 = NULL, *s1 = NULL;
	size_t l0 = 0, l1 = 0;
	unsigned i, n = bound + 2;
	int r = 0;

	REQUIRE((w = calloc(n, sizeof(*w))) != NULL);
	REQUIRE(pair_their_alice(&p, 1, bound == 2000 ? 0 : bound) == 0);
	REQUIRE(exchange(&p, 1, 0) == 0);
	for (i = 0; i < n && r == 0; i++)
		r = theirs_send(&p, &w[i]);
	REQUIRE(r == 0);
	REQUIRE(our_party_state(&p.o, &s0, &l0) == 0);
	CHECK_EQ_INT(ours_receive(&p, &w[bound + 1]), SOTTO_ERR_TOO_MANY_SKIPPED);
	REQUIRE(our_party_state(&p.o, &s1, &l1) == 0);
	CHECK(l0 == l1 && memcmp(s0, s1, l0) == 0);
	CHECK_EQ_INT(ours_receive(&p, &w[bound]), 0);
	CHECK_EQ_INT(ours_receive(&p, &w[bound + 1]), 0);
	CHECK_EQ_INT(ours_receive(&p, &w[0]), 0);
	CHECK_EQ_INT(ours_receive(&p, &w[bound - 1]), 0);
	CHECK_EQ_INT(exchange(&p, 2, 1), 0);
	for (i = 0; i < n; i++)
		wire_free(&w[i]);
	free(w);
	free(s0);
	free(s1);
	pair_free(&p);
}

TEST(skip_bound_rejected_by_ours) { check_skip_bound_ours(40); }
TEST(skip_bound_default_rejected_by_ours) { check_skip_bound_ours(2000); }

/* libsignal's bound is 2000: our 2002nd message on a fresh chain is refused by it. */
TEST(skip_bound_rejected_by_theirs)
{
	enum { N = 2002 };
	struct wire *w;
	struct pair p;
	uint8_t *s0 = NULL, *s1 = NULL;
	size_t l0 = 0, l1 = 0;
	unsigned i;
	int r = 0;

	REQUIRE((w = calloc(N, sizeof(*w))) != NULL);
	REQUIRE(pair_our_alice(&p, 0, 0) == 0);
	REQUIRE(exchange(&p, 1, 1) == 0);
	for (i = 0; i < N && r == 0; i++)
		r = ours_send(&p, &w[i]);
	REQUIRE(r == 0);
	REQUIRE(sig_party_session_record(p.t, OURS, &s0, &l0) == 0);
	CHECK(theirs_receive(&p, &w[N - 1]) < 0);
	REQUIRE(sig_party_session_record(p.t, OURS, &s1, &l1) == 0);
	CHECK(l0 == l1 && memcmp(s0, s1, l0) == 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[N - 2]), 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[N - 1]), 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[7]), 0);
	CHECK_EQ_INT(exchange(&p, 2, 0), 0);
	for (i = 0; i < N; i++)
		wire_free(&w[i]);
	free(w);
	free(s0);
	free(s1);
	pair_free(&p);
}

/* The byte range [*start, *end) of top-level protobuf field `field` in a Signal message
 * (after the version byte), tag included. 0 if found. */
static int
pb_field_span(const uint8_t *msg, size_t len, unsigned field, size_t *start, size_t *end)
{
	size_t off = 1;

	while (off < len) {
		size_t at = off, vlen = 0;
		uint64_t tag = 0, v = 0;
		unsigned shift = 0;

		do {
			if (off >= len || shift > 63)
				return -1;
			tag |= (uint64_t)(msg[off] & 0x7F) << shift;
			shift += 7;
		} while (msg[off++] & 0x80);
		if ((tag & 7) == 0 || (tag & 7) == 2) {
			shift = 0;
			do {
				if (off >= len || shift > 63)
					return -1;
				v |= (uint64_t)(msg[off] & 0x7F) << shift;
				shift += 7;
			} while (msg[off++] & 0x80);
			if ((tag & 7) == 2)
				vlen = (size_t)v;
		} else
			return -1;
		if (vlen > len - off)
			return -1;
		off += vlen;
		if ((tag >> 3) == field) {
			*start = at;
			*end = off;
			return 0;
		}
	}
	return -1;
}

/*
 * Every single-bit flip of a message is rejected and leaves the receiver's state exactly
 * as it was; the untouched message decrypts afterwards. The registrationId of a
 * PreKeySignalMessage is the one exception: Signal v3 does not authenticate it (it is not
 * an input of X3DH or of the MAC), so flips there are skipped, not hidden.
 */
static void
check_tamper_ours(struct pair *p, const struct wire *w)
{
	uint8_t *s0 = NULL, *s1 = NULL, *bad;
	size_t l0 = 0, l1 = 0, rs = 0, re = 0, i;
	int had_session = p->o.sess != NULL, bit, rejected = 1, unchanged = 1;
	struct wire t = *w;

	if (w->prekey && pb_field_span(w->ct, w->len, 5, &rs, &re) != 0)
		rs = re = 0;
	if (had_session)
		REQUIRE(our_party_state(&p->o, &s0, &l0) == 0);
	REQUIRE((bad = malloc(w->len)) != NULL);
	for (i = 0; i < w->len; i++) {
		if (i >= rs && i < re)
			continue;
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, w->ct, w->len);
			bad[i] ^= (uint8_t)(1u << bit);
			t.ct = bad;
			if (ours_receive(p, &t) >= 0)
				rejected = 0;
			if (had_session) {
				free(s1);
				s1 = NULL;
				if (our_party_state(&p->o, &s1, &l1) != 0 || l1 != l0 ||
				    memcmp(s0, s1, l0) != 0)
					unchanged = 0;
			} else if (p->o.sess != NULL) {
				unchanged = 0;
				e2e_session_free(p->o.sess);
				p->o.sess = NULL;
			}
		}
	}
	CHECK(rejected);
	CHECK(unchanged);
	CHECK_EQ_INT(ours_receive(p, w), 0);
	free(bad);
	free(s0);
	free(s1);
}

static void
check_tamper_theirs(struct pair *p, const struct wire *w)
{
	uint8_t *s0 = NULL, *s1 = NULL, *bad;
	size_t l0 = 0, l1 = 0, rs = 0, re = 0, i;
	int had_session = sig_party_has_session(p->t, OURS), bit, rejected = 1, unchanged = 1;
	struct wire t = *w;
	size_t bs = 0, be = 0;

	if (w->prekey && pb_field_span(w->ct, w->len, 5, &rs, &re) != 0)
		rs = re = 0;
	if (w->prekey && pb_field_span(w->ct, w->len, 2, &bs, &be) != 0)
		bs = be = 0;
	if (had_session)
		REQUIRE(sig_party_session_record(p->t, OURS, &s0, &l0) == 0);
	REQUIRE((bad = malloc(w->len)) != NULL);
	for (i = 0; i < w->len; i++) {
		if (i >= rs && i < re)
			continue;
		for (bit = 0; bit < 8; bit++) {
			/* libsignal reads only the high nibble of a prekey message's (outer,
			 * unauthenticated) version byte; the low one is the sender's newest
			 * version, which it ignores. We insist on 0x33. */
			if (w->prekey && i == 0 && bit < 4)
				continue;
			/* Nor does it mind bit 255 of the base key, which X25519 ignores; our
			 * decoder accepts only canonical keys. */
			if (w->prekey && i + 1 == be && bit == 7)
				continue;
			memcpy(bad, w->ct, w->len);
			bad[i] ^= (uint8_t)(1u << bit);
			t.ct = bad;
			if (theirs_receive(p, &t) >= 0)
				rejected = 0;
			if (had_session) {
				free(s1);
				s1 = NULL;
				if (sig_party_session_record(p->t, OURS, &s1, &l1) != 0 ||
				    l1 != l0 || memcmp(s0, s1, l0) != 0)
					unchanged = 0;
			} else if (sig_party_has_session(p->t, OURS))
				unchanged = 0;
		}
	}
	CHECK(rejected);
	CHECK(unchanged);
	CHECK_EQ_INT(theirs_receive(p, w), 0);
	free(bad);
	free(s0);
	free(s1);
}

TEST(tampered_rejected_by_ours)
{
	struct pair p;
	struct wire w = { 0 };

	REQUIRE(pair_their_alice(&p, 1, 0) == 0);
	REQUIRE(theirs_send(&p, &w) == 0);
	REQUIRE(w.prekey);
	check_tamper_ours(&p, &w);              /* the session-starting prekey message */
	CHECK_EQ_INT(p.o.opk_live[1], 0);
	wire_free(&w);
	REQUIRE(exchange(&p, 2, 1) == 0);
	REQUIRE(theirs_send(&p, &w) == 0);
	REQUIRE(!w.prekey);
	check_tamper_ours(&p, &w);              /* an ordinary message */
	wire_free(&w);
	pair_free(&p);
}

TEST(tampered_rejected_by_theirs)
{
	struct pair p;
	struct wire w = { 0 };

	REQUIRE(pair_our_alice(&p, 1, 0) == 0);
	REQUIRE(ours_send(&p, &w) == 0);
	REQUIRE(w.prekey);
	check_tamper_theirs(&p, &w);
	CHECK_EQ_INT(sig_party_has_prekey(p.t, 3), 0);
	wire_free(&w);
	REQUIRE(exchange(&p, 2, 0) == 0);
	REQUIRE(ours_send(&p, &w) == 0);
	REQUIRE(!w.prekey);
	check_tamper_theirs(&p, &w);
	wire_free(&w);
	pair_free(&p);
}

TEST(replay_rejected_by_ours)
{
	struct pair p;
	struct wire w[4];
	uint8_t *s0 = NULL, *s1 = NULL;
	size_t l0 = 0, l1 = 0;
	unsigned i;

	memset(w, 0, sizeof(w));
	REQUIRE(pair_their_alice(&p, 1, 0) == 0);
	REQUIRE(theirs_send(&p, &w[0]) == 0);
	CHECK_EQ_INT(ours_receive(&p, &w[0]), 0);
	CHECK_EQ_INT(ours_receive(&p, &w[0]), SOTTO_ERR_REPLAY);     /* prekey message again */
	REQUIRE(exchange(&p, 1, 1) == 0);
	for (i = 1; i < 4; i++)
		REQUIRE(theirs_send(&p, &w[i]) == 0);
	CHECK_EQ_INT(ours_receive(&p, &w[3]), 0);
	CHECK_EQ_INT(ours_receive(&p, &w[1]), 0);            /* from the skipped keys */
	REQUIRE(our_party_state(&p.o, &s0, &l0) == 0);
	CHECK_EQ_INT(ours_receive(&p, &w[3]), SOTTO_ERR_REPLAY);
	CHECK_EQ_INT(ours_receive(&p, &w[1]), SOTTO_ERR_REPLAY);
	CHECK_EQ_INT(ours_receive(&p, &w[0]), SOTTO_ERR_REPLAY);
	REQUIRE(our_party_state(&p.o, &s1, &l1) == 0);
	CHECK(l0 == l1 && memcmp(s0, s1, l0) == 0);
	CHECK_EQ_INT(ours_receive(&p, &w[2]), 0);
	CHECK_EQ_INT(exchange(&p, 2, 1), 0);
	for (i = 0; i < 4; i++)
		wire_free(&w[i]);
	free(s0);
	free(s1);
	pair_free(&p);
}

TEST(replay_rejected_by_theirs)
{
	struct pair p;
	struct wire w[4];
	uint8_t *s0 = NULL, *s1 = NULL;
	size_t l0 = 0, l1 = 0;
	unsigned i;

	memset(w, 0, sizeof(w));
	REQUIRE(pair_our_alice(&p, 1, 0) == 0);
	REQUIRE(ours_send(&p, &w[0]) == 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[0]), 0);
	CHECK(theirs_receive(&p, &w[0]) < 0);
	REQUIRE(exchange(&p, 1, 0) == 0);
	for (i = 1; i < 4; i++)
		REQUIRE(ours_send(&p, &w[i]) == 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[3]), 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[1]), 0);
	REQUIRE(sig_party_session_record(p.t, OURS, &s0, &l0) == 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[3]), SG_ERR_DUPLICATE_MESSAGE);
	CHECK_EQ_INT(theirs_receive(&p, &w[1]), SG_ERR_DUPLICATE_MESSAGE);
	REQUIRE(sig_party_session_record(p.t, OURS, &s1, &l1) == 0);
	CHECK(l0 == l1 && memcmp(s0, s1, l0) == 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[2]), 0);
	CHECK_EQ_INT(exchange(&p, 2, 0), 0);
	for (i = 0; i < 4; i++)
		wire_free(&w[i]);
	free(s0);
	free(s1);
	pair_free(&p);
}

/*
 * Until the initiator hears back, every message it sends is a prekey message carrying the
 * same X3DH data, so the responder can start from whichever arrives first. Delivered 2, 1,
 * 3; after one reply the initiator switches to ordinary messages.
 */
TEST(prekey_messages_repeat_until_reply_our_alice)
{
	struct pair p;
	struct wire w[3], x = { 0 };
	unsigned i;

	memset(w, 0, sizeof(w));
	REQUIRE(pair_our_alice(&p, 1, 0) == 0);
	for (i = 0; i < 3; i++) {
		REQUIRE(ours_send(&p, &w[i]) == 0);
		CHECK(w[i].prekey);
	}
	CHECK_EQ_INT(theirs_receive(&p, &w[1]), 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[0]), 0);
	CHECK_EQ_INT(theirs_receive(&p, &w[2]), 0);
	REQUIRE(theirs_send(&p, &x) == 0);
	CHECK(!x.prekey);
	CHECK_EQ_INT(ours_receive(&p, &x), 0);
	wire_free(&x);
	REQUIRE(ours_send(&p, &x) == 0);
	CHECK(!x.prekey);
	CHECK_EQ_INT(theirs_receive(&p, &x), 0);
	wire_free(&x);
	for (i = 0; i < 3; i++)
		wire_free(&w[i]);
	CHECK_EQ_INT(exchange(&p, 3, 1), 0);
	pair_free(&p);
}

TEST(prekey_messages_repeat_until_reply_their_alice)
{
	struct pair p;
	struct wire w[3], x = { 0 };
	unsigned i;

	memset(w, 0, sizeof(w));
	REQUIRE(pair_their_alice(&p, 1, 0) == 0);
	for (i = 0; i < 3; i++) {
		REQUIRE(theirs_send(&p, &w[i]) == 0);
		CHECK(w[i].prekey);
	}
	CHECK_EQ_INT(ours_receive(&p, &w[1]), 0);
	CHECK_EQ_INT(ours_receive(&p, &w[0]), 0);
	CHECK_EQ_INT(ours_receive(&p, &w[2]), 0);
	REQUIRE(ours_send(&p, &x) == 0);
	CHECK(!x.prekey);
	CHECK_EQ_INT(theirs_receive(&p, &x), 0);
	wire_free(&x);
	REQUIRE(theirs_send(&p, &x) == 0);
	CHECK(!x.prekey);
	CHECK_EQ_INT(ours_receive(&p, &x), 0);
	wire_free(&x);
	CHECK_EQ_INT(ours_receive(&p, &w[1]), SOTTO_ERR_REPLAY);
	for (i = 0; i < 3; i++)
		wire_free(&w[i]);
	CHECK_EQ_INT(exchange(&p, 3, 0), 0);
	pair_free(&p);
}

/* A bundle whose signed prekey signature does not verify starts no session, either way. */
TEST(bad_prekey_signature_rejected_by_both)
{
	struct our_party o;
	struct sig_party *t = NULL;
	struct sig_bundle b;

	REQUIRE(our_party_init(&o, 1) == 0);
	REQUIRE(sig_party_new(&t, 1) == 0);
	REQUIRE(sig_party_bundle(t, &b, 1, 1) == 0);
	b.signed_prekey_sig[10] ^= 0x01;
	CHECK_EQ_INT(our_party_initiate(&o, &b), SOTTO_ERR_BAD_SIGNATURE);
	CHECK(o.sess == NULL);
	b.signed_prekey_sig[10] ^= 0x01;
	b.signed_prekey[7] ^= 0x01;
	CHECK_EQ_INT(our_party_initiate(&o, &b), SOTTO_ERR_BAD_SIGNATURE);
	CHECK(o.sess == NULL);
	b.signed_prekey[7] ^= 0x01;
	b.identity_key[0] = 0x06;
	CHECK(our_party_initiate(&o, &b) < 0);
	CHECK(o.sess == NULL);

	REQUIRE(our_party_bundle(&o, &b, 1, 1) == 0);
	b.signed_prekey_sig[40] ^= 0x20;
	CHECK_EQ_INT(sig_party_process_bundle(t, OURS, &b), SG_ERR_INVALID_KEY);
	CHECK(!sig_party_has_session(t, OURS));
	b.signed_prekey_sig[40] ^= 0x20;
	CHECK_EQ_INT(sig_party_process_bundle(t, OURS, &b), 0);
	CHECK(sig_party_has_session(t, OURS));
	our_party_wipe(&o);
	sig_party_free(t);
}

/* Plaintext sizes around the AES block and up to 64 KiB, both ways, including empty. */
TEST(message_sizes_both_ways)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 31, 32, 33, 255, 4096, 65536 };
	struct pair p;
	uint8_t *big, *ct = NULL, *pt = NULL;
	size_t i, ct_len, pt_len;
	int pre = 0;

	REQUIRE((big = malloc(65536)) != NULL);
	randombytes_buf(big, 65536);
	REQUIRE(pair_our_alice(&p, 1, 0) == 0);
	REQUIRE(exchange(&p, 1, 1) == 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		REQUIRE(our_party_encrypt(&p.o, big, sizes[i], &ct, &ct_len, &pre) == 0);
		/* version, key, counters, CBC (always at least one padding byte), MAC */
		CHECK(ct_len >= 1 + 35 + 4 + 2 + (sizes[i] / 16 + 1) * 16 + 8);
		CHECK_EQ_INT(sig_party_decrypt(p.t, OURS, pre, ct, ct_len, &pt, &pt_len), 0);
		CHECK(pt_len == sizes[i] && (sizes[i] == 0 || memcmp(pt, big, sizes[i]) == 0));
		free(ct);
		free(pt);
		ct = pt = NULL;
		REQUIRE(sig_party_encrypt(p.t, OURS, big, sizes[i], &ct, &ct_len, &pre) == 0);
		CHECK_EQ_INT(our_party_decrypt(&p.o, pre, ct, ct_len, &pt, &pt_len), 0);
		CHECK(pt_len == sizes[i] && (sizes[i] == 0 || memcmp(pt, big, sizes[i]) == 0));
		free(ct);
		free(pt);
		ct = pt = NULL;
	}
	free(big);
	pair_free(&p);
}

/* A session whose state went through serialize/deserialize on our side, at each stage:
 * before the first reply (prekey messages pending), and after. */
TEST(reloaded_state_keeps_talking)
{
	struct pair p;
	struct wire w = { 0 };

	REQUIRE(pair_our_alice(&p, 1, 0) == 0);
	CHECK_EQ_INT(our_party_reload(&p.o), 0);
	REQUIRE(ours_send(&p, &w) == 0);
	CHECK(w.prekey);
	CHECK_EQ_INT(theirs_receive(&p, &w), 0);
	wire_free(&w);
	CHECK_EQ_INT(our_party_reload(&p.o), 0);
	REQUIRE(ours_send(&p, &w) == 0);
	CHECK(w.prekey);                /* still no reply: still a prekey message */
	CHECK_EQ_INT(theirs_receive(&p, &w), 0);
	wire_free(&w);
	REQUIRE(theirs_send(&p, &w) == 0);
	CHECK_EQ_INT(ours_receive(&p, &w), 0);
	wire_free(&w);
	CHECK_EQ_INT(our_party_reload(&p.o), 0);
	REQUIRE(ours_send(&p, &w) == 0);
	CHECK(!w.prekey);
	CHECK_EQ_INT(theirs_receive(&p, &w), 0);
	wire_free(&w);
	CHECK_EQ_INT(exchange(&p, 3, 0), 0);
	pair_free(&p);
}

#define RI_STEPS 1500
#define RI_QUEUE 48
#define RI_MAX_AGE 6

struct flight {
	struct wire w;
	int to_ours;
	unsigned born;
};

static int
ri_deliver(struct pair *p, struct flight *f)
{
	return f->to_ours ? ours_receive(p, &f->w) : theirs_receive(p, &f->w);
}

/*
 * Random sends, deliveries in random order, drops and replays in both directions over
 * RI_STEPS steps. Messages wait at most RI_MAX_AGE steps, which keeps every delivery within
 * libsignal's five kept receiving chains. Every delivery must decrypt to what was sent;
 * every replay must be refused.
 */
TEST(random_interleaving_both_directions)
{
	struct flight q[RI_QUEUE], last = { 0 };
	unsigned n = 0, step, i, sent = 0, delivered = 0, dropped = 0, replays = 0;
	int have_last = 0, r = 0, replay_ok = 1;
	struct pair p;

	memset(q, 0, sizeof(q));
	REQUIRE(pair_our_alice(&p, 1, 0) == 0);
	REQUIRE(exchange(&p, 1, 1) == 0);
	for (step = 0; step < RI_STEPS && r == 0; step++) {
		uint32_t act = randombytes_uniform(100);
		unsigned pick = 0;
		int forced = 0;

		for (i = 0; i < n; i++)
			if (step - q[i].born > RI_MAX_AGE) {
				pick = i;
				forced = 1;
				break;
			}
		if (!forced && act < 45 && n < RI_QUEUE) {
			struct flight *f = &q[n];

			memset(f, 0, sizeof(*f));
			f->to_ours = randombytes_uniform(2);
			f->born = step;
			r = f->to_ours ? theirs_send(&p, &f->w) : ours_send(&p, &f->w);
			n++;
			sent++;
			continue;
		}
		if (n == 0)
			continue;
		if (!forced)
			pick = randombytes_uniform(n);
		if (!forced && act >= 95) {
			wire_free(&q[pick].w);
			dropped++;
		} else {
			if ((r = ri_deliver(&p, &q[pick])) != 0) {
				fprintf(stderr, "random_interleaving: step %u, %s: %d\n", step,
				    q[pick].to_ours ? "ours" : "theirs", r);
				break;
			}
			delivered++;
			if (have_last && randombytes_uniform(10) == 0) {
				if (ri_deliver(&p, &last) >= 0)
					replay_ok = 0;
				replays++;
			}
			if (have_last)
				wire_free(&last.w);
			last = q[pick];
			have_last = 1;
		}
		q[pick] = q[--n];
	}
	CHECK_EQ_INT(r, 0);
	CHECK(replay_ok);
	CHECK(delivered > 400);
	CHECK(dropped > 10);
	CHECK(replays > 10);
	for (i = 0; i < n; i++)
		wire_free(&q[i].w);
	if (have_last)
		wire_free(&last.w);
	CHECK_EQ_INT(exchange(&p, 2, 0), 0);
	(void)sent;
	pair_free(&p);
}

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
	RUN(skip_bound_rejected_by_ours);
	RUN(skip_bound_default_rejected_by_ours);
	RUN(skip_bound_rejected_by_theirs);
	RUN(tampered_rejected_by_ours);
	RUN(tampered_rejected_by_theirs);
	RUN(replay_rejected_by_ours);
	RUN(replay_rejected_by_theirs);
	RUN(prekey_messages_repeat_until_reply_our_alice);
	RUN(prekey_messages_repeat_until_reply_their_alice);
	RUN(bad_prekey_signature_rejected_by_both);
	RUN(message_sizes_both_ways);
	RUN(reloaded_state_keeps_talking);
	RUN(random_interleaving_both_directions);
}
