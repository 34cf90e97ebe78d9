/*
 * bench-crypto: the session layer of Sotto's native suite against libsignal-protocol-c
 * (Debian, with the OpenSSL provider of tests/interop/) doing the same work, in one run.
 *
 *   bench-crypto [SECONDS_PER_RUN [RUNS [ONLY]]]      defaults 0.5 and 5
 *
 * ONLY (for profiling, e.g. under perf record): run just that row of the table, Sotto's side
 * only, numbered from 1.
 *
 *   bench-crypto 1 1 ONLY COUNT
 *
 * runs exactly COUNT operations of row ONLY (Sotto only, no clock) and, when built with
 * valgrind's headers, collects only them under callgrind: instructions per operation are
 *   valgrind --tool=callgrind --instr-atstart=no build/bench/bench-crypto 1 1 ONLY COUNT
 * "Collected" divided by COUNT.
 *
 * Each figure is the median of RUNS timed runs of about SECONDS_PER_RUN each:
 *   msg 256 B / 4 KiB   one encrypt by Alice and one decrypt by Bob, same sending chain
 *   ping-pong 256 B     the same, the direction turning every message (a DH ratchet step each)
 *   setup               X3DH by Alice from Bob's bundle (with a one-time prekey), her first
 *                       256-byte message, Bob's X3DH and decrypt of it
 *   safety number       both parties' 5200-iteration SHA-512 chains, 60 digits
 *   PQ setup            the same with PQXDH: Bob's bundle carries a signed ML-KEM-768 prekey;
 *                       Alice checks its signature and encapsulates, Bob decapsulates with
 *                       the stored decapsulation key; no libsignal-protocol-c comparison (it has no PQXDH),
 *                       the ratio printed under the table is against Sotto's classical setup
 *   PQ msg / ping-pong  rows 1-4 in a PQ session (PQXDH and the KEM ratchet, PROTOCOL.md
 *                       4.4), against the same libsignal-protocol-c figures (rows 11-14)
 *   ML-KEM-768          one key generation, encapsulation (to one fixed key) or
 *                       decapsulation (of one fixed ciphertext); libsignal-protocol-c has
 *                       no KEM, so these rows have no comparison
 * libsignal's session cipher loads and stores a serialized session record on every message
 * (its store API has no other way); "+ state saved" rows make Sotto do the same
 * (e2e_session_serialize + e2e_session_deserialize on both sides), for a like-for-like comparison.
 */
#include <signal_protocol.h>
#include <fingerprint.h>
#include <curve.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

#include "base/buf.h"
#include "crypto/init.h"
#include "crypto/kem_prekey.h"
#include "crypto/mlkem.h"
#include "crypto/safety.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"
#include "crypto/x3dh.h"
#include "sig_party.h"

#define MAX_RUNS 15
#define SETUP_BATCH 64          /* setups timed per batch (prekeys prepared outside the clock) */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
die(const char *what, int r)
{
	fprintf(stderr, "bench-crypto: %s failed: %d\n", what, r);
	exit(1);
}

/* ---- Sotto, native suite ---------------------------------------------------------- */

struct ours {
	struct x3dh_identity ida, idb;
	struct x3dh_keypair spk, opk;
	struct x3dh_bundle bundle, pq_bundle;
	uint8_t kem_dk[MLKEM768_DK_LEN];        /* Bob's ML-KEM prekey, as stored */
	struct e2e_session *a, *b;
	struct e2e_session *pa, *pb;                /* a PQ session (PQXDH, KEM ratchet) */
	struct buf ct, pt;
};

static void
ours_send(struct e2e_session *from, struct e2e_session *to, struct buf *ct, struct buf *pt,
    const uint8_t *msg, size_t len)
{
	int type, r;

	buf_reset(ct);
	buf_reset(pt);
	if ((r = e2e_session_encrypt(from, ct, &type, msg, len)) != 0)
		die("e2e_session_encrypt", r);
	if ((r = e2e_session_decrypt(to, pt, type, ct->p, ct->len)) != 0)
		die("e2e_session_decrypt", r);
	if (pt->len != len)
		die("plaintext length", -1);
}

static void
ours_reload(struct e2e_session **ss)
{
	struct buf st;
	struct e2e_session *n = NULL;
	int r;

	buf_init_dyn(&st, 1 << 24);
	if ((r = e2e_session_serialize(*ss, &st)) != 0 ||
	    (r = e2e_session_deserialize(&n, &suite_native, st.p, st.len)) != 0)
		die("session state round trip", r);
	buf_wipe_free(&st);
	e2e_session_free(*ss);
	*ss = n;
}

/* One setup, both sides; PQXDH if pq. */
static void
ours_setup_one(struct ours *o, struct e2e_session **a, struct e2e_session **b, const uint8_t *msg,
    size_t len, int pq)
{
	struct e2e_session_opts opts = { 0 };
	int type, r;

	buf_reset(&o->ct);
	buf_reset(&o->pt);
	if ((r = e2e_session_initiate(a, &suite_native, &o->ida, pq ? &o->pq_bundle : &o->bundle,
	    NULL)) != 0)
		die("e2e_session_initiate", r);
	if ((r = e2e_session_encrypt(*a, &o->ct, &type, msg, len)) != 0)
		die("first encrypt", r);
	if (type != E2E_SESSION_MSG_PREKEY)
		die("first message type", type);
	if (pq)
		opts.kem_dk = o->kem_dk;
	if ((r = e2e_session_respond(b, &suite_native, &o->idb, &o->spk, &o->opk, o->ct.p, o->ct.len,
	    &o->pt, &opts)) != 0)
		die("e2e_session_respond", r);
	if (e2e_session_is_pq(*b) != pq)
		die("PQXDH", -1);
}

static void
ours_init(struct ours *o)
{
	uint8_t hi[8] = "hi there";
	int r;

	memset(o, 0, sizeof(*o));
	buf_init_dyn(&o->ct, 1 << 20);
	buf_init_dyn(&o->pt, 1 << 20);
	if ((r = suite_native_identity_generate(&o->ida)) != 0 ||
	    (r = suite_native_identity_generate(&o->idb)) != 0 ||
	    (r = x3dh_keypair_generate(&o->spk, 1)) != 0 ||
	    (r = x3dh_keypair_generate(&o->opk, 2)) != 0 ||
	    (r = x3dh_bundle_make(&suite_native, &o->bundle, &o->idb, 0, &o->spk, &o->opk)) != 0)
		die("native keys", r);
	{
		o->pq_bundle = o->bundle;
		o->pq_bundle.has_kem = 1;
		o->pq_bundle.kem_id = 3;
		if ((r = mlkem768_keygen(o->pq_bundle.kem_ek, o->kem_dk)) != 0 ||
		    (r = kem_prekey_sign(o->pq_bundle.kem_sig, 3, o->pq_bundle.kem_ek,
		    o->idb.sign_sec)) != 0)
			die("ML-KEM prekey", r);
	}
	ours_setup_one(o, &o->a, &o->b, hi, sizeof(hi), 0);
	ours_send(o->b, o->a, &o->ct, &o->pt, hi, sizeof(hi));    /* out of prekey mode */
	ours_setup_one(o, &o->pa, &o->pb, hi, sizeof(hi), 1);
	ours_send(o->pb, o->pa, &o->ct, &o->pt, hi, sizeof(hi));
}

static void
ours_free(struct ours *o)
{
	e2e_session_free(o->a);
	e2e_session_free(o->b);
	e2e_session_free(o->pa);
	e2e_session_free(o->pb);
	x3dh_identity_wipe(&o->ida);
	x3dh_identity_wipe(&o->idb);
	x3dh_keypair_wipe(&o->spk);
	x3dh_keypair_wipe(&o->opk);
	buf_wipe_free(&o->ct);
	buf_wipe_free(&o->pt);
}

/* ---- libsignal-protocol-c ---------------------------------------------------------- */

struct theirs {
	struct sig_party *a, *b;
	struct sig_party *bob;          /* responder of the timed setups, new for each run */
	unsigned next_setup;            /* setups so far: unique peer names */
	unsigned n_prekeys;             /* one-time prekeys bob holds */
};

static void
theirs_send(struct sig_party *from, const char *from_name, struct sig_party *to,
    const char *to_name, const uint8_t *msg, size_t len)
{
	uint8_t *ct = NULL, *pt = NULL;
	size_t ct_len, pt_len;
	int pre, r;

	if ((r = sig_party_encrypt(from, to_name, msg, len, &ct, &ct_len, &pre)) < 0)
		die("libsignal encrypt", r);
	if ((r = sig_party_decrypt(to, from_name, pre, ct, ct_len, &pt, &pt_len)) < 0)
		die("libsignal decrypt", r);
	if (pt_len != len)
		die("libsignal plaintext length", -1);
	free(ct);
	free(pt);
}

static void
theirs_init(struct theirs *t)
{
	struct sig_bundle b;
	uint8_t hi[8] = "hi there";
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = sig_party_new(&t->a, 0)) != 0 || (r = sig_party_new(&t->b, 1)) != 0 ||
	    (r = sig_party_bundle(t->b, &b, 1, 1)) != 0 ||
	    (r = sig_party_process_bundle(t->a, "bob", &b)) != 0)
		die("libsignal parties", r);
	theirs_send(t->a, "alice", t->b, "bob", hi, sizeof(hi));
	theirs_send(t->b, "bob", t->a, "alice", hi, sizeof(hi));
	t->next_setup = 1;
}

/* One setup under fresh names on both sides, so that no session record accumulates
 * archived states (which would slow libsignal down unfairly). */
static void
theirs_setup_one(struct theirs *t, const struct sig_bundle *b, const uint8_t *msg, size_t len)
{
	char bob[32], alice[32];
	uint8_t *ct = NULL, *pt = NULL;
	size_t ct_len, pt_len;
	int pre, r;

	snprintf(bob, sizeof(bob), "bob%u", t->next_setup);
	snprintf(alice, sizeof(alice), "alice%u", t->next_setup);
	t->next_setup++;
	if ((r = sig_party_process_bundle(t->a, bob, b)) != 0)
		die("libsignal process bundle", r);
	if ((r = sig_party_encrypt(t->a, bob, msg, len, &ct, &ct_len, &pre)) < 0 || !pre)
		die("libsignal first encrypt", r);
	if ((r = sig_party_decrypt(t->bob, alice, pre, ct, ct_len, &pt, &pt_len)) < 0)
		die("libsignal first decrypt", r);
	free(ct);
	free(pt);
}

/* ---- ML-KEM-768 (ours only) --------------------------------------------------------- */

enum kem_op { KEM_KEYGEN, KEM_ENCAPS, KEM_DECAPS };

struct kem {
	uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], ct[MLKEM768_CT_LEN], ss[MLKEM768_SS_LEN];
};

static void
kem_init(struct kem *k)
{
	if (mlkem768_keygen(k->ek, k->dk) != 0 ||
	    mlkem768_encaps(k->ct, k->ss, k->ek, sizeof(k->ek)) != 0)
		die("ML-KEM setup", -1);
}

static void
kem_once(struct kem *k, enum kem_op op)
{
	uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], ct[MLKEM768_CT_LEN], ss[MLKEM768_SS_LEN];

	switch (op) {
	case KEM_KEYGEN:
		if (mlkem768_keygen(ek, dk) != 0)
			die("mlkem768_keygen", -1);
		break;
	case KEM_ENCAPS:
		if (mlkem768_encaps(ct, ss, k->ek, sizeof(k->ek)) != 0)
			die("mlkem768_encaps", -1);
		break;
	case KEM_DECAPS:
		if (mlkem768_decaps(ss, k->dk, sizeof(k->dk), k->ct, sizeof(k->ct)) != 0 ||
		    memcmp(ss, k->ss, sizeof(ss)) != 0)
			die("mlkem768_decaps", -1);
		break;
	}
}

static double
ours_kem(struct kem *k, enum kem_op op, double secs)
{
	double t0 = now_s(), t;
	unsigned long n = 0;

	do {
		for (int i = 0; i < 16; i++, n++)
			kem_once(k, op);
		t = now_s() - t0;
	} while (t < secs);
	return (double)n / t;
}

/* ---- measurements ------------------------------------------------------------------ */

enum work { W_ONEWAY, W_PINGPONG, W_ONEWAY_SAVED };

/* Message n of a row's work, in the classical or the PQ session. */
static void
ours_msg_once(struct ours *o, const uint8_t *msg, size_t len, enum work w, int pq,
    unsigned long n)
{
	struct e2e_session **a = pq ? &o->pa : &o->a, **b = pq ? &o->pb : &o->b;

	if (w == W_PINGPONG && (n & 1))
		ours_send(*b, *a, &o->ct, &o->pt, msg, len);
	else
		ours_send(*a, *b, &o->ct, &o->pt, msg, len);
	if (w == W_ONEWAY_SAVED) {
		ours_reload(a);
		ours_reload(b);
	}
}

static double
ours_msgs(struct ours *o, size_t len, enum work w, int pq, double secs)
{
	uint8_t *msg = calloc(1, len);
	double t0, t;
	unsigned long n = 0;

	if (msg == NULL)
		die("calloc", -1);
	randombytes_buf(msg, len);
	t0 = now_s();
	do {
		for (int i = 0; i < 64; i++, n++)
			ours_msg_once(o, msg, len, w, pq, n);
		t = now_s() - t0;
	} while (t < secs);
	free(msg);
	return (double)n / t;
}

static double
theirs_msgs(struct theirs *th, size_t len, enum work w, double secs)
{
	uint8_t *msg = calloc(1, len);
	double t0, t;
	unsigned long n = 0;

	if (msg == NULL)
		die("calloc", -1);
	randombytes_buf(msg, len);
	t0 = now_s();
	do {
		for (int i = 0; i < 16; i++, n++) {
			if (w == W_PINGPONG && (n & 1))
				theirs_send(th->b, "bob", th->a, "alice", msg, len);
			else
				theirs_send(th->a, "alice", th->b, "bob", msg, len);
		}
		t = now_s() - t0;
	} while (t < secs);
	free(msg);
	return (double)n / t;
}

/* Exactly count operations of row only (1-based), for instruction counts. */
static void
ours_count(struct ours *o, struct kem *kem, int only, unsigned long count)
{
	static const size_t lens[] = { 256, 4096, 256, 256 };
	static const enum work works[] = { W_ONEWAY, W_ONEWAY, W_PINGPONG, W_ONEWAY_SAVED };
	uint8_t *msg = calloc(1, 4096), ka[32], kb[32];
	char out[SAFETY_DIGITS + 1];
	unsigned long n;

	if (msg == NULL)
		die("calloc", -1);
	randombytes_buf(msg, 4096);
	randombytes_buf(ka, sizeof(ka));
	randombytes_buf(kb, sizeof(kb));
	CALLGRIND_START_INSTRUMENTATION;
	for (n = 0; n < count; n++) {
		if (only <= 4) {
			ours_msg_once(o, msg, lens[only - 1], works[only - 1], 0, n);
		} else if (only >= 11) {
			ours_msg_once(o, msg, lens[only - 11], works[only - 11], 1, n);
		} else if (only == 5) {
			struct e2e_session *a = NULL, *b = NULL;

			ours_setup_one(o, &a, &b, msg, 256, 0);
			e2e_session_free(a);
			e2e_session_free(b);
		} else if (only == 10) {
			struct e2e_session *a = NULL, *b = NULL;

			ours_setup_one(o, &a, &b, msg, 256, 1);
			e2e_session_free(a);
			e2e_session_free(b);
		} else if (only >= 7) {
			kem_once(kem, (enum kem_op)(only - 7));
		} else if (safety_number(out, ka, 32, (const uint8_t *)"alice@example.org", 17, kb,
		    32, (const uint8_t *)"bob@example.org", 15, SAFETY_ITERATIONS) != 0) {
			die("safety_number", -1);
		}
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	free(msg);
}

static double
ours_setups(struct ours *o, double secs, int pq)
{
	uint8_t msg[256];
	double t0, t;
	unsigned long n = 0;

	randombytes_buf(msg, sizeof(msg));
	t0 = now_s();
	do {
		for (int i = 0; i < 8; i++, n++) {
			struct e2e_session *a = NULL, *b = NULL;

			ours_setup_one(o, &a, &b, msg, sizeof(msg), pq);
			e2e_session_free(a);
			e2e_session_free(b);
		}
		t = now_s() - t0;
	} while (t < secs);
	return (double)n / t;
}

/* Bob's one-time prekeys are made when his party is created, before the clock starts;
 * a setup uses the next one. The run ends early if they run out. */
static double
theirs_setups(struct theirs *th, double secs, unsigned n_prekeys)
{
	struct sig_bundle b;
	uint8_t msg[256];
	double t0, t;
	unsigned long n = 0;
	uint32_t id = 1;
	int r;

	if (th->bob != NULL)
		sig_party_free(th->bob);
	if ((r = sig_party_new(&th->bob, n_prekeys)) != 0)
		die("libsignal responder", r);
	randombytes_buf(msg, sizeof(msg));
	t0 = now_s();
	do {
		for (int i = 0; i < 8 && id <= n_prekeys; i++, n++, id++) {
			if ((r = sig_party_bundle(th->bob, &b, 1, id)) != 0)
				die("libsignal bundle", r);
			theirs_setup_one(th, &b, msg, sizeof(msg));
		}
		t = now_s() - t0;
	} while (t < secs && id <= n_prekeys);
	return (double)n / t;
}

static double
ours_safety(double secs)
{
	uint8_t ka[32], kb[32];
	char out[SAFETY_DIGITS + 1];
	double t0, t;
	unsigned long n = 0;

	randombytes_buf(ka, sizeof(ka));
	randombytes_buf(kb, sizeof(kb));
	t0 = now_s();
	do {
		if (safety_number(out, ka, 32, (const uint8_t *)"alice@example.org", 17, kb, 32,
		    (const uint8_t *)"bob@example.org", 15, SAFETY_ITERATIONS) != 0)
			die("safety_number", -1);
		n++;
		t = now_s() - t0;
	} while (t < secs);
	return (double)n / t;
}

static double
theirs_safety(struct theirs *th, double secs)
{
	signal_context *ctx = sig_party_context(th->a);
	ec_public_key *ka = NULL, *kb = NULL;
	fingerprint_generator *gen = NULL;
	double t0, t;
	unsigned long n = 0;
	int r;

	if ((r = curve_decode_point(&ka, sig_party_identity(th->a), SIG_KEY_LEN, ctx)) < 0 ||
	    (r = curve_decode_point(&kb, sig_party_identity(th->b), SIG_KEY_LEN, ctx)) < 0 ||
	    (r = fingerprint_generator_create(&gen, SAFETY_ITERATIONS, 1, ctx)) < 0)
		die("libsignal fingerprint setup", r);
	t0 = now_s();
	do {
		fingerprint *fp = NULL;

		if ((r = fingerprint_generator_create_for(gen, "alice@example.org", ka,
		    "bob@example.org", kb, &fp)) < 0 ||
		    displayable_fingerprint_text(fingerprint_get_displayable(fp)) == NULL)
			die("libsignal fingerprint", r);
		SIGNAL_UNREF(fp);
		n++;
		t = now_s() - t0;
	} while (t < secs);
	fingerprint_generator_free(gen);
	SIGNAL_UNREF(ka);
	SIGNAL_UNREF(kb);
	return (double)n / t;
}

struct row {
	const char *name;
	double ours[MAX_RUNS], theirs[MAX_RUNS];
	int has_theirs;
};

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	int only = argc > 3 ? atoi(argv[3]) : 0;
	long count = argc > 4 ? atol(argv[4]) : 0;
	struct ours o;
	struct theirs th;
	struct kem kem;
	struct row rows[] = {
		{ "msg 256 B (enc+dec)/s", { 0 }, { 0 }, 1 },
		{ "msg 4 KiB (enc+dec)/s", { 0 }, { 0 }, 1 },
		{ "ping-pong 256 B/s", { 0 }, { 0 }, 1 },
		{ "msg 256 B + state saved/s", { 0 }, { 0 }, 1 },
		{ "session setups/s", { 0 }, { 0 }, 1 },
		{ "safety numbers/s", { 0 }, { 0 }, 1 },
		{ "ML-KEM-768 keygens/s", { 0 }, { 0 }, 0 },
		{ "ML-KEM-768 encaps/s", { 0 }, { 0 }, 0 },
		{ "ML-KEM-768 decaps/s", { 0 }, { 0 }, 0 },
		{ "PQ session setups/s", { 0 }, { 0 }, 0 },
		{ "PQ msg 256 B (enc+dec)/s", { 0 }, { 0 }, 1 },
		{ "PQ msg 4 KiB (enc+dec)/s", { 0 }, { 0 }, 1 },
		{ "PQ ping-pong 256 B/s", { 0 }, { 0 }, 1 },
		{ "PQ msg 256 B + state saved/s", { 0 }, { 0 }, 1 },
	};
	size_t nrows = sizeof(rows) / sizeof(rows[0]);
	unsigned prekeys_per_run;

	if (secs <= 0 || secs > 60 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: bench-crypto [SECONDS_PER_RUN (0-60] [RUNS 1..%d]]\n",
		    MAX_RUNS);
		return 2;
	}
	if (sotto_crypto_init() != 0)
		die("sotto_crypto_init", -1);
	/* libsignal's setups need one prekey each, made before the clock starts: enough for
	 * 5,000 setups/s (a setup costs several hundred microseconds there). */
	prekeys_per_run = (unsigned)(secs * 5000) + 64;
	ours_init(&o);
	theirs_init(&th);
	kem_init(&kem);

	if (count > 0 && only > 0 && (size_t)only <= nrows) {
		ours_count(&o, &kem, only, (unsigned long)count);
		printf("%s: %ld operations done (sotto native only)\n", rows[only - 1].name, count);
		runs = 0;
	} else if (only > 0 && (size_t)only <= nrows) {
		static const size_t lens[] = { 256, 4096, 256, 256 };
		static const enum work works[] = { W_ONEWAY, W_ONEWAY, W_PINGPONG, W_ONEWAY_SAVED };
		double v = only <= 4 ? ours_msgs(&o, lens[only - 1], works[only - 1], 0, secs * runs) :
		    only >= 11 ? ours_msgs(&o, lens[only - 11], works[only - 11], 1, secs * runs) :
		    only == 5 ? ours_setups(&o, secs * runs, 0) : only == 6 ? ours_safety(secs * runs) :
		    only == 10 ? ours_setups(&o, secs * runs, 1) :
		    ours_kem(&kem, (enum kem_op)(only - 7), secs * runs);

		printf("%s: %.0f (sotto native only)\n", rows[only - 1].name, v);
		runs = 0;
	}
	for (int r = 0; r < runs; r++) {
		rows[0].ours[r] = ours_msgs(&o, 256, W_ONEWAY, 0, secs);
		rows[0].theirs[r] = theirs_msgs(&th, 256, W_ONEWAY, secs);
		rows[1].ours[r] = ours_msgs(&o, 4096, W_ONEWAY, 0, secs);
		rows[1].theirs[r] = theirs_msgs(&th, 4096, W_ONEWAY, secs);
		rows[2].ours[r] = ours_msgs(&o, 256, W_PINGPONG, 0, secs);
		rows[2].theirs[r] = theirs_msgs(&th, 256, W_PINGPONG, secs);
		rows[3].ours[r] = ours_msgs(&o, 256, W_ONEWAY_SAVED, 0, secs);
		rows[3].theirs[r] = rows[0].theirs[r];  /* libsignal always saves its state */
		rows[4].ours[r] = ours_setups(&o, secs, 0);
		rows[4].theirs[r] = theirs_setups(&th, secs, prekeys_per_run);
		rows[5].ours[r] = ours_safety(secs);
		rows[5].theirs[r] = theirs_safety(&th, secs);
		for (int op = KEM_KEYGEN; op <= KEM_DECAPS; op++)
			rows[6 + op].ours[r] = ours_kem(&kem, (enum kem_op)op, secs);
		rows[9].ours[r] = ours_setups(&o, secs, 1);
		/* The PQ session's messages against the same libsignal figures. */
		rows[10].ours[r] = ours_msgs(&o, 256, W_ONEWAY, 1, secs);
		rows[11].ours[r] = ours_msgs(&o, 4096, W_ONEWAY, 1, secs);
		rows[12].ours[r] = ours_msgs(&o, 256, W_PINGPONG, 1, secs);
		rows[13].ours[r] = ours_msgs(&o, 256, W_ONEWAY_SAVED, 1, secs);
		for (int k = 0; k < 4; k++)
			rows[10 + k].theirs[r] = rows[k].theirs[r];
	}

	for (size_t i = 0; runs > 0 && i < nrows; i++) {
		rows[i].ours[0] = median(rows[i].ours, runs);
		rows[i].theirs[0] = median(rows[i].theirs, runs);
	}
	if (runs == 0)
		goto out;
	printf("bench-crypto: median of %d runs of %.2f s each\n", runs, secs);
	printf("%-28s %14s %18s %8s\n", "", "sotto native", "libsignal-proto-c", "ratio");
	for (size_t i = 0; i < nrows; i++) {
		double a = rows[i].ours[0], b = rows[i].theirs[0];

		if (!rows[i].has_theirs)
			printf("%-28s %14.0f %18s %8s\n", rows[i].name, a, "-", "-");
		else
			printf("%-28s %14.0f %18.0f %7.2fx\n", rows[i].name, a, b, b > 0 ? a / b : 0);
	}
	printf("PQ session setup cost: %.2fx the classical one (aim: at most 1.5x)\n",
	    rows[9].ours[0] > 0 ? rows[4].ours[0] / rows[9].ours[0] : 0);
	printf("bytes added by PQXDH: %d to each prekey message (the first flight)\n",
	    4 + MLKEM768_CT_LEN);
	printf("bytes added by the KEM ratchet: %d to every message of a PQ session (%d in "
	    "Alice's first chain)\n", SUITE_NATIVE_HEADER_LEN_PQ_CT - SUITE_NATIVE_HEADER_LEN,
	    SUITE_NATIVE_HEADER_LEN_PQ - SUITE_NATIVE_HEADER_LEN);
out:
	ours_free(&o);
	sig_party_free(th.a);
	sig_party_free(th.b);
	sig_party_free(th.bob);
	return 0;
}
