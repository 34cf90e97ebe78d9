/* The KEM ratchet of PQ sessions (docs/PROTOCOL.md 4.4): ML-KEM-768 in every DH ratchet
 * step (its sending half at the first send after it), message version 3, ratchet state
 * version 5 (and 4, still read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crypto/init.h"
#include "crypto/kem_prekey.h"
#include "crypto/mlkem.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"

/* Offsets (docs/PROTOCOL.md sections 4.4 and 6). */
#define OFF_RK (7 + 33 + 33)
#define OFF_DHS_PUB (OFF_RK + 32)
#define OFF_DHS_SEC (OFF_DHS_PUB + 32)
#define H_KEM_FLAGS 41
#define H_EK 42
#define H_CT (H_EK + MLKEM768_EK_LEN)
#define HDR_PQ (42 + MLKEM768_EK_LEN + 24)
#define HDR_PQ_CT (HDR_PQ + MLKEM768_CT_LEN)
/* The end of a version 5 ratchet state with both KEM parts: dk, ct, kem_check, check;
 * with a pending step: peer_ek, send_seed, kem_check, check. */
#define CHECKS 32
#define TAIL_CT (CHECKS + MLKEM768_CT_LEN)
#define TAIL_DK (TAIL_CT + MLKEM768_DK_LEN)
#define SEND_SEED_LEN 32
#define TAIL_SEED (CHECKS + SEND_SEED_LEN)
#define TAIL_PEER_EK (TAIL_SEED + MLKEM768_EK_LEN)
#define PENDING_KEM_LEN (MLKEM768_EK_LEN + SEND_SEED_LEN)
#define K_PQ_PENDING 0x09       /* kem flags: PQ, the sending half-step pending */

struct msg {
	uint8_t *p;
	size_t len;
	int type;
	char pt[48];
};

struct pq_pair {
	struct x3dh_identity ida, idb;
	struct x3dh_keypair spk;
	uint8_t dk[MLKEM768_DK_LEN];
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
	snprintf(m->pt, sizeof(m->pt), "%s", text);
	buf_init_dyn(&b, RATCHET_MSG_MAX + 256);
	if ((r = e2e_session_encrypt(s, &b, &m->type, (const uint8_t *)m->pt, strlen(m->pt))) != 0) {
		buf_free(&b);
		return r;
	}
	m->p = b.p;
	m->len = b.len;
	return 0;
}

static int
msg_recv(struct e2e_session *s, const struct msg *m)
{
	uint8_t out[64];
	struct buf b;
	int r;

	buf_init_fixed(&b, out, sizeof(out));
	if ((r = e2e_session_decrypt(s, &b, m->type, m->p, m->len)) != 0)
		return b.len != 0 ? -1000 : r;
	if (b.len != strlen(m->pt) || memcmp(out, m->pt, b.len) != 0)
		return -1001;
	return 0;
}

/* The inner ratchet message of m (a prekey message wraps it). */
static const uint8_t *
inner(const struct msg *m, size_t *len)
{
	size_t off = m->type == E2E_SESSION_MSG_PREKEY ? 1166 : 0;

	*len = m->len - off;
	return m->p + off;
}

static int
rstate(struct e2e_session *s, struct buf *b)
{
	buf_init_dyn(b, 1u << 22);
	return ratchet_serialize(e2e_session_ratchet(s), b);
}

static int
snap_same(struct e2e_session *s, const struct buf *before)
{
	struct buf now;
	int same;

	buf_init_dyn(&now, 1u << 22);
	same = e2e_session_serialize(s, &now) == 0 && now.len == before->len &&
	    memcmp(now.p, before->p, now.len) == 0;
	buf_wipe_free(&now);
	return same;
}

/* Rewrites the two checksums of a version 5 state whose KEM part is kem_len bytes long
 * (docs/PROTOCOL.md section 6): kem_check over the KEM part, check over the bytes before it
 * and kem_check. */
static void
fix_checks(uint8_t *p, size_t len, size_t kem_len)
{
	crypto_generichash_state st;
	size_t body = len - CHECKS - kem_len;

	crypto_generichash(p + len - CHECKS, 16, p + body, kem_len, NULL, 0);
	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, p, body);
	crypto_generichash_update(&st, p + len - CHECKS, 16);
	crypto_generichash_final(&st, p + len - 16, 16);
}

/* A PQXDH session: Alice sent "hello", Bob read it. */
static int
pq_pair_setup(struct pq_pair *p)
{
	struct e2e_session_opts o = { .max_skip = 0 };
	struct x3dh_bundle bundle;
	struct msg first;
	uint8_t out[16];
	struct buf pt;
	int r;

	memset(p, 0, sizeof(*p));
	if (suite_native_identity_generate(&p->ida) != 0 ||
	    suite_native_identity_generate(&p->idb) != 0 ||
	    x3dh_keypair_generate(&p->spk, 1) != 0 ||
	    x3dh_bundle_make(&suite_native, &bundle, &p->idb, 0, &p->spk, NULL) != 0 ||
	    mlkem768_keygen(bundle.kem_ek, p->dk) != 0)
		return -1;
	bundle.has_kem = 1;
	bundle.kem_id = 5;
	if (kem_prekey_sign(bundle.kem_sig, 5, bundle.kem_ek, p->idb.sign_sec) != 0)
		return -1;
	if ((r = e2e_session_initiate(&p->a, &suite_native, &p->ida, &bundle, &o)) != 0 ||
	    (r = msg_send(p->a, &first, "hello")) != 0)
		return r;
	o.kem_dk = p->dk;
	buf_init_fixed(&pt, out, sizeof(out));
	r = e2e_session_respond(&p->b, &suite_native, &p->idb, &p->spk, NULL, first.p, first.len,
	    &pt, &o);
	if (r == 0 && (pt.len != 5 || memcmp(out, "hello", 5) != 0))
		r = -3;
	msg_free(&first);
	return r;
}

static void
pq_pair_free(struct pq_pair *p)
{
	e2e_session_free(p->a);
	e2e_session_free(p->b);
	sodium_memzero(p, sizeof(*p));
}

/* Many DH turns: both sides are PQ, every message is version 3, every chain after
 * Alice's first carries a ciphertext, and the KEM key changes at every turn. Each turn the
 * states go through serialize/deserialize (as the client store does). */
TEST(pq_round_trips_many_turns)
{
	static struct pq_pair p;
	static uint8_t last_ek[2][MLKEM768_EK_LEN];
	struct msg m;
	struct e2e_session *x, *y, *t;
	struct buf st;
	const uint8_t *in;
	size_t in_len;
	char text[32];
	int turn, k;

	REQUIRE(pq_pair_setup(&p) == 0);
	CHECK_EQ_INT(ratchet_is_pq(e2e_session_ratchet(p.a)), 1);
	CHECK_EQ_INT(ratchet_is_pq(e2e_session_ratchet(p.b)), 1);
	for (turn = 0; turn < 40; turn++) {
		x = turn % 2 ? p.a : p.b;     /* Bob answers first */
		y = turn % 2 ? p.b : p.a;
		for (k = 0; k < 3; k++) {
			snprintf(text, sizeof(text), "turn %d msg %d", turn, k);
			REQUIRE(msg_send(x, &m, text) == 0);
			in = inner(&m, &in_len);
			CHECK_EQ_INT(in[0], 0x03);
			CHECK_EQ_INT(in[H_KEM_FLAGS], 1);
			CHECK_EQ_INT(in_len, HDR_PQ_CT + strlen(text) + 16);
			if (k == 0)
				CHECK(memcmp(last_ek[turn % 2], in + H_EK, MLKEM768_EK_LEN) != 0);
			memcpy(last_ek[turn % 2], in + H_EK, MLKEM768_EK_LEN);
			CHECK_EQ_INT(msg_recv(y, &m), 0);
			msg_free(&m);
		}
		/* Store and reload the receiver. */
		buf_init_dyn(&st, 1u << 22);
		REQUIRE(e2e_session_serialize(y, &st) == 0);
		REQUIRE(e2e_session_deserialize(&t, &suite_native, st.p, st.len) == 0);
		buf_wipe_free(&st);
		e2e_session_free(y);
		if (y == p.a)
			p.a = t;
		else
			p.b = t;
	}
	CHECK_EQ_INT(ratchet_is_pq(e2e_session_ratchet(p.a)), 1);
	pq_pair_free(&p);
}

/* Messages delayed across KEM steps: keys of earlier chains are kept as skipped keys and
 * used once; seeded random interleavings of sends, drops and late deliveries. */
TEST(out_of_order_across_kem_steps)
{
	static struct pq_pair p;
	struct msg a1, a2, b1, b2, a3, late[2][24];
	int nlate[2] = { 0, 0 }, i, j, side, seed;
	char text[32];

	REQUIRE(pq_pair_setup(&p) == 0);
	REQUIRE(msg_send(p.a, &a1, "a1") == 0);
	REQUIRE(msg_send(p.a, &a2, "a2") == 0);
	CHECK_EQ_INT(msg_recv(p.b, &a2), 0);
	REQUIRE(msg_send(p.b, &b1, "b1") == 0);
	REQUIRE(msg_send(p.b, &b2, "b2") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &b2), 0);              /* KEM step at Alice */
	REQUIRE(msg_send(p.a, &a3, "a3") == 0);
	CHECK_EQ_INT(msg_recv(p.b, &a3), 0);              /* KEM step at Bob */
	CHECK_EQ_INT(msg_recv(p.b, &a1), 0);              /* from the chain before */
	CHECK_EQ_INT(msg_recv(p.a, &b1), 0);
	CHECK_EQ_INT(msg_recv(p.b, &a1), SOTTO_ERR_REPLAY);
	CHECK_EQ_INT(msg_recv(p.a, &b1), SOTTO_ERR_REPLAY);
	CHECK_EQ_INT(msg_recv(p.b, &a3), SOTTO_ERR_REPLAY);
	msg_free(&a1); msg_free(&a2); msg_free(&b1); msg_free(&b2); msg_free(&a3);

	for (seed = 1; seed <= 3; seed++) {
		srand((unsigned)seed);
		for (i = 0; i < 120; i++) {
			struct msg m;
			struct e2e_session *from, *to;

			side = rand() % 2;
			from = side ? p.b : p.a;
			to = side ? p.a : p.b;
			snprintf(text, sizeof(text), "s%d i%d", seed, i);
			REQUIRE(msg_send(from, &m, text) == 0);
			if (rand() % 3 == 0 && nlate[side] < 24) {
				late[side][nlate[side]++] = m;   /* delivered later */
			} else {
				CHECK_EQ_INT(msg_recv(to, &m), 0);
				msg_free(&m);
			}
		}
		for (side = 0; side < 2; side++) {
			for (j = nlate[side] - 1; j >= 0; j--) {    /* latest first */
				CHECK_EQ_INT(msg_recv(side ? p.a : p.b, &late[side][j]), 0);
				msg_free(&late[side][j]);
			}
			nlate[side] = 0;
		}
	}
	pq_pair_free(&p);
}

/* A message of a KEM step with its ciphertext or encapsulation key altered, stripped or
 * replayed is refused, and leaves the state exactly as it was; the original then reads. */
TEST(tampered_kem_step_refused)
{
	static struct pq_pair p;
	struct msg b1, t, a2;
	struct buf before;
	uint8_t *c;
	size_t offs[] = { H_CT, H_CT + 500, H_CT + MLKEM768_CT_LEN - 1, H_EK, H_EK + 1000 };
	size_t i;

	REQUIRE(pq_pair_setup(&p) == 0);
	REQUIRE(msg_send(p.b, &b1, "b1") == 0);
	REQUIRE(b1.p[H_KEM_FLAGS] == 1);
	buf_init_dyn(&before, 1u << 22);
	REQUIRE(e2e_session_serialize(p.a, &before) == 0);
	REQUIRE((c = malloc(b1.len)) != NULL);
	t = b1;
	t.p = c;
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		memcpy(c, b1.p, b1.len);
		c[offs[i]] ^= 0x10;
		CHECK_EQ_INT(msg_recv(p.a, &t), SOTTO_ERR_DECRYPT);
		CHECK(snap_same(p.a, &before));
	}
	/* The ciphertext removed (flag cleared, bytes cut out). */
	memcpy(c, b1.p, H_CT);
	memcpy(c + H_CT, b1.p + H_CT + MLKEM768_CT_LEN, b1.len - H_CT - MLKEM768_CT_LEN);
	c[H_KEM_FLAGS] = 0;
	t.len = b1.len - MLKEM768_CT_LEN;
	CHECK_EQ_INT(msg_recv(p.a, &t), SOTTO_ERR_DECRYPT);
	CHECK(snap_same(p.a, &before));
	/* The whole KEM part stripped into a version 2 header: a downgrade, refused. */
	c[0] = 0x02;
	memcpy(c + 41, b1.p + HDR_PQ_CT - 24, b1.len - (HDR_PQ_CT - 24));
	t.len = b1.len - MLKEM768_CT_LEN - MLKEM768_EK_LEN - 1;
	CHECK_EQ_INT(msg_recv(p.a, &t), SOTTO_ERR_BAD_VERSION);
	CHECK(snap_same(p.a, &before));
	/* Unknown KEM flags. */
	memcpy(c, b1.p, b1.len);
	t.len = b1.len;
	c[H_KEM_FLAGS] = 3;
	CHECK_EQ_INT(msg_recv(p.a, &t), SOTTO_ERR_MALFORMED);
	CHECK(snap_same(p.a, &before));
	/* The original reads, once. */
	CHECK_EQ_INT(msg_recv(p.a, &b1), 0);
	CHECK_EQ_INT(msg_recv(p.a, &b1), SOTTO_ERR_REPLAY);
	/* And the conversation goes on (Alice's next chain has a ciphertext for Bob's key). */
	REQUIRE(msg_send(p.a, &a2, "a2") == 0);
	CHECK_EQ_INT(a2.p[0], 0x03);
	CHECK_EQ_INT(a2.p[H_KEM_FLAGS], 1);
	CHECK_EQ_INT(msg_recv(p.b, &a2), 0);
	free(c);
	buf_wipe_free(&before);
	msg_free(&b1);
	msg_free(&a2);
	pq_pair_free(&p);
}

/* HKDF-SHA256 from libsodium's HMAC (RFC 5869), independent of the library's hkdf.c. */
static void
ref_hkdf(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
    const uint8_t *ikm, size_t ikm_len, const char *info)
{
	crypto_auth_hmacsha256_state st;
	uint8_t prk[32], t[32], zero[32] = { 0 }, ctr;
	size_t done = 0, n;

	crypto_auth_hmacsha256_init(&st, salt_len ? salt : zero, salt_len ? salt_len : 32);
	crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
	crypto_auth_hmacsha256_final(&st, prk);
	for (ctr = 1; done < out_len; ctr++) {
		crypto_auth_hmacsha256_init(&st, prk, 32);
		if (ctr > 1)
			crypto_auth_hmacsha256_update(&st, t, 32);
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)info, strlen(info));
		crypto_auth_hmacsha256_update(&st, &ctr, 1);
		crypto_auth_hmacsha256_final(&st, t);
		n = out_len - done < 32 ? out_len - done : 32;
		memcpy(out + done, t, n);
		done += n;
	}
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
}

#define ROOT_PQ "Sotto ratchet root ML-KEM-768 v1"
#define SEND_STEP "Sotto ratchet send step ML-KEM-768 v1"

/* A KEM ratchet step recomputed from docs/PROTOCOL.md 4.4 with the primitives: Alice
 * reads Bob's first message from her state's secrets and the header (DH, Decaps, KDF_RK_PQ,
 * KDF_CK, the message key, the AEAD); her root key after the step is KDF_RK_PQ of her new
 * DH output and the secret her next header's ciphertext carries to Bob's key. */
TEST(kem_step_matches_protocol_doc)
{
	static struct pq_pair p;
	static uint8_t dk_a[MLKEM768_DK_LEN];
	struct msg b1, a2;
	struct buf sa, sa2, sa3;
	uint8_t dh[32], ss[32], ikm[64], okm[64], ck[32], mk[32], key[32], ad[HDR_PQ_CT + 64];
	uint8_t pt[16], rk2[64], newsec[32];
	unsigned long long pt_len;
	size_t hlen;
	static uint8_t dk_b[MLKEM768_DK_LEN];
	static uint8_t step[128], step_pub[32], step_ek[MLKEM768_EK_LEN], step_ct[MLKEM768_CT_LEN];
	struct buf sb;

	REQUIRE(pq_pair_setup(&p) == 0);
	REQUIRE(msg_send(p.b, &b1, "kat") == 0);
	hlen = HDR_PQ_CT;
	REQUIRE(b1.len == hlen + 3 + 16);
	REQUIRE(rstate(p.a, &sa) == 0);
	/* Alice's state: she has her KEM key pair but no ciphertext yet (kem flags 3). */
	CHECK_EQ_INT(sa.p[sa.len - CHECKS - MLKEM768_DK_LEN - 1], 3);
	memcpy(dk_a, sa.p + sa.len - CHECKS - MLKEM768_DK_LEN, MLKEM768_DK_LEN);
	REQUIRE(crypto_scalarmult_curve25519(dh, sa.p + OFF_DHS_SEC, b1.p + 1) == 0);
	REQUIRE(mlkem768_decaps(ss, dk_a, MLKEM768_DK_LEN, b1.p + H_CT, MLKEM768_CT_LEN) == 0);
	memcpy(ikm, dh, 32);
	memcpy(ikm + 32, ss, 32);
	ref_hkdf(okm, 64, sa.p + OFF_RK, 32, ikm, 64, ROOT_PQ);      /* rk1 || CKr */
	/* The library's KDF agrees with the formula, and the KEM secret changes it. */
	REQUIRE(suite_native.kdf_root_pq(rk2, rk2 + 32, sa.p + OFF_RK, dh, ss) == 0);
	CHECK_MEM(rk2, okm, 64);
	ss[0] ^= 1;
	REQUIRE(suite_native.kdf_root_pq(rk2, rk2 + 32, sa.p + OFF_RK, dh, ss) == 0);
	CHECK(memcmp(rk2, okm, 32) != 0 && memcmp(rk2 + 32, okm + 32, 32) != 0);
	ss[0] ^= 1;
	/* KDF_CK and the message key. */
	crypto_auth_hmacsha256(mk, (const uint8_t *)"\x01", 1, okm + 32);
	crypto_auth_hmacsha256(ck, (const uint8_t *)"\x02", 1, okm + 32);
	ref_hkdf(key, 32, NULL, 0, mk, 32, "Sotto message keys v2");
	memcpy(ad, b1.p, hlen);
	memcpy(ad + hlen, p.idb.pub, 32);
	memcpy(ad + hlen + 32, p.ida.pub, 32);
	CHECK_EQ_INT(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pt_len, NULL, b1.p + hlen,
	    b1.len - hlen, ad, hlen + 64, b1.p + hlen - 24, key), 0);
	CHECK(pt_len == 3 && memcmp(pt, "kat", 3) == 0);
	/* The library does the same: after reading, Alice's root key is rk1, her used key
	 * pair is gone and the sending half waits, holding Bob's ek and its seed (kem flags
	 * 9). From the seed: HKDF(ikm = seed, info) = DH secret || d || z || m. */
	CHECK_EQ_INT(msg_recv(p.a, &b1), 0);
	REQUIRE(rstate(p.a, &sa2) == 0);
	CHECK_MEM(sa2.p + OFF_RK, okm, 32);
	CHECK_EQ_INT(sa2.p[sa2.len - TAIL_PEER_EK - 1], K_PQ_PENDING);
	CHECK_MEM(sa2.p + sa2.len - TAIL_PEER_EK, b1.p + H_EK, MLKEM768_EK_LEN);
	ref_hkdf(step, sizeof(step), NULL, 0, sa2.p + sa2.len - TAIL_SEED, SEND_SEED_LEN,
	    SEND_STEP);
	REQUIRE(crypto_scalarmult_curve25519_base(step_pub, step) == 0);
	REQUIRE(mlkem768_keygen_seed(step_ek, dk_a, step + 32, 64) == 0);
	REQUIRE(mlkem768_encaps_internal(step_ct, ss, b1.p + H_EK, MLKEM768_EK_LEN,
	    step + 96) == 0);
	/* Her first send then makes the sending chain: a new DH key and Encaps to Bob's key;
	 * Bob's state recovers that secret with his dk. */
	REQUIRE(msg_send(p.a, &a2, "next") == 0);
	REQUIRE(rstate(p.a, &sa3) == 0);
	CHECK_MEM(a2.p + 1, sa3.p + OFF_DHS_PUB, 32);
	CHECK(memcmp(sa3.p + OFF_DHS_PUB, sa2.p + OFF_DHS_PUB, 32) != 0);
	CHECK_MEM(a2.p + 1, step_pub, 32);
	CHECK_MEM(sa3.p + OFF_DHS_SEC, step, 32);
	CHECK_MEM(a2.p + H_EK, step_ek, MLKEM768_EK_LEN);
	CHECK_MEM(a2.p + H_CT, step_ct, MLKEM768_CT_LEN);
	CHECK_EQ_INT(sa3.p[sa3.len - TAIL_DK - 1], 7);
	CHECK_MEM(a2.p + H_EK, sa3.p + sa3.len - TAIL_DK + 1152, MLKEM768_EK_LEN);
	CHECK_MEM(a2.p + H_CT, sa3.p + sa3.len - TAIL_CT, MLKEM768_CT_LEN);
	REQUIRE(rstate(p.b, &sb) == 0);
	memcpy(dk_b, sb.p + sb.len - TAIL_DK, MLKEM768_DK_LEN);
	CHECK_MEM(b1.p + H_EK, dk_b + 1152, MLKEM768_EK_LEN);        /* dk = dk_pke || ek || .. */
	REQUIRE(mlkem768_decaps(ss, dk_b, MLKEM768_DK_LEN, a2.p + H_CT, MLKEM768_CT_LEN) == 0);
	memcpy(newsec, sa3.p + OFF_DHS_SEC, 32);
	REQUIRE(crypto_scalarmult_curve25519(ikm, newsec, b1.p + 1) == 0);
	memcpy(ikm + 32, ss, 32);
	ref_hkdf(rk2, 64, okm, 32, ikm, 64, ROOT_PQ);                /* rk2 || CKs */
	CHECK_MEM(sa3.p + OFF_RK, rk2, 32);
	/* a2 is message 0 of the chain keyed by that CKs */
	crypto_auth_hmacsha256(mk, (const uint8_t *)"\x01", 1, rk2 + 32);
	ref_hkdf(key, 32, NULL, 0, mk, 32, "Sotto message keys v2");
	memcpy(ad, a2.p, HDR_PQ_CT);
	memcpy(ad + HDR_PQ_CT, p.ida.pub, 32);
	memcpy(ad + HDR_PQ_CT + 32, p.idb.pub, 32);
	CHECK_EQ_INT(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pt_len, NULL,
	    a2.p + HDR_PQ_CT, a2.len - HDR_PQ_CT, ad, HDR_PQ_CT + 64, a2.p + HDR_PQ_CT - 24, key), 0);
	CHECK(pt_len == 4 && memcmp(pt, "next", 4) == 0);
	CHECK_EQ_INT(msg_recv(p.b, &a2), 0);
	sodium_memzero(okm, sizeof(okm));
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(ss, sizeof(ss));
	sodium_memzero(dk_a, sizeof(dk_a));
	sodium_memzero(dk_b, sizeof(dk_b));
	sodium_memzero(step, sizeof(step));
	buf_wipe_free(&sa);
	buf_wipe_free(&sa2);
	buf_wipe_free(&sa3);
	buf_wipe_free(&sb);
	msg_free(&b1);
	msg_free(&a2);
	pq_pair_free(&p);
}

/* An attacker holding every classical secret of Bob's state (root key, DH ratchet keys,
 * chain keys, skipped keys: the state with only the KEM decapsulation key replaced) cannot
 * read Alice's next chain; the unmodified copy can, so the test is sensitive. */
TEST(classical_secrets_alone_read_nothing)
{
	static struct pq_pair p;
	static uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN];
	struct msg b1, a2;
	struct buf sb, copy;
	struct ratchet *real = NULL, *forged = NULL;
	uint8_t out[16];
	struct buf pt;

	REQUIRE(pq_pair_setup(&p) == 0);
	REQUIRE(msg_send(p.b, &b1, "b1") == 0);
	CHECK_EQ_INT(msg_recv(p.a, &b1), 0);
	REQUIRE(msg_send(p.a, &a2, "secret") == 0);           /* a KEM step's chain */
	REQUIRE(rstate(p.b, &sb) == 0);
	buf_init_dyn(&copy, 1u << 22);
	buf_put(&copy, sb.p, sb.len);
	REQUIRE(buf_status(&copy) == 0);
	REQUIRE(mlkem768_keygen(ek, dk) == 0);
	CHECK_EQ_INT(copy.p[copy.len - TAIL_DK - 1], 7);
	memcpy(copy.p + copy.len - TAIL_DK, dk, MLKEM768_DK_LEN);
	fix_checks(copy.p, copy.len, MLKEM768_DK_LEN + MLKEM768_CT_LEN);
	REQUIRE(ratchet_deserialize(&forged, &suite_native, copy.p, copy.len) == 0);
	REQUIRE(ratchet_deserialize(&real, &suite_native, sb.p, sb.len) == 0);
	buf_init_fixed(&pt, out, sizeof(out));
	CHECK_EQ_INT(ratchet_decrypt(forged, &pt, a2.p, a2.len), SOTTO_ERR_DECRYPT);
	CHECK_EQ_INT(pt.len, 0);
	CHECK_EQ_INT(ratchet_decrypt(real, &pt, a2.p, a2.len), 0);
	CHECK(pt.len == 6 && memcmp(out, "secret", 6) == 0);
	ratchet_free(real);
	ratchet_free(forged);
	sodium_memzero(dk, sizeof(dk));
	buf_wipe_free(&sb);
	buf_wipe_free(&copy);
	msg_free(&b1);
	msg_free(&a2);
	pq_pair_free(&p);
}

/* The state's KEM part: flags that cannot be, a PQ sender without its key pair, a pending
 * step where none can be, and damage to either checksum are refused; a version 4 state
 * still loads; a classical message in a PQ session is a downgrade and refused. */
TEST(pq_state_and_downgrade_checks)
{
	static struct pq_pair p;
	struct buf sa, sb, x;
	struct ratchet *rt = NULL;
	size_t flag_at, bflag_at;
	struct msg b1;

	REQUIRE(pq_pair_setup(&p) == 0);
	REQUIRE(rstate(p.a, &sa) == 0);
	CHECK_EQ_INT(sa.p[0], 5);
	flag_at = sa.len - CHECKS - MLKEM768_DK_LEN - 1;
	CHECK_EQ_INT(sa.p[flag_at], 3);                   /* PQ, key pair, no ciphertext */
	buf_init_dyn(&x, 1u << 22);
	buf_put(&x, sa.p, sa.len);
	REQUIRE(buf_status(&x) == 0);
	x.p[flag_at] = 5;                                 /* a ciphertext without a key pair */
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), SOTTO_ERR_MALFORMED);
	x.p[flag_at] = 0x13;
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), SOTTO_ERR_MALFORMED);
	x.p[flag_at] = 0x0b;                              /* pending with a key pair */
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), SOTTO_ERR_MALFORMED);
	/* Damage to the key pair (kem_check) or to the rest (check). */
	x.p[flag_at] = 3;
	x.p[flag_at + 1 + 700] ^= 0x20;
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), SOTTO_ERR_CORRUPT);
	x.p[flag_at + 1 + 700] ^= 0x20;
	x.p[OFF_RK + 3] ^= 0x01;
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), SOTTO_ERR_CORRUPT);
	x.p[OFF_RK + 3] ^= 0x01;
	x.p[x.len - CHECKS] ^= 0x01;                      /* kem_check itself */
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), SOTTO_ERR_CORRUPT);
	x.p[x.len - CHECKS] ^= 0x01;
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), 0);
	ratchet_free(rt);
	rt = NULL;
	/* PQ but no key pair, while able to send: cut the dk, fix the checksums. */
	x.len = 0;
	buf_put(&x, sa.p, flag_at);
	buf_u8(&x, 1);
	buf_reserve(&x, CHECKS);
	REQUIRE(buf_status(&x) == 0);
	fix_checks(x.p, x.len, 0);
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), SOTTO_ERR_CORRUPT);
	CHECK(rt == NULL);
	/* Every truncation fails. */
	for (size_t n = flag_at; n < sa.len; n += 97)
		CHECK(ratchet_deserialize(&rt, &suite_native, sa.p, n) < 0);
	/* Bob after reading the first message: the sending half pending (no key pair yet),
	 * Alice's ek held. A pending step in a state that can send is refused. */
	REQUIRE(rstate(p.b, &sb) == 0);
	bflag_at = sb.len - TAIL_PEER_EK - 1;
	CHECK_EQ_INT(sb.p[bflag_at], K_PQ_PENDING);
	CHECK_MEM(sb.p + sb.len - TAIL_PEER_EK, sa.p + flag_at + 1 + 1152, MLKEM768_EK_LEN);
	x.len = 0;
	buf_put(&x, sb.p, sb.len);
	REQUIRE(buf_status(&x) == 0);
	x.p[6] |= 0x02;                                   /* ratchet flags: has CKs */
	fix_checks(x.p, x.len, PENDING_KEM_LEN);
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), SOTTO_ERR_CORRUPT);
	/* A pending step cannot be in a version 4 state. */
	x.p[6] &= (uint8_t)~0x02;
	x.p[0] = 4;
	x.len -= CHECKS;
	buf_reserve(&x, 16);
	REQUIRE(buf_status(&x) == 0);
	crypto_generichash(x.p + x.len - 16, 16, x.p, x.len - 16, NULL, 0);
	CHECK_EQ_INT(ratchet_deserialize(&rt, &suite_native, x.p, x.len), SOTTO_ERR_MALFORMED);
	/* Bob's first send makes his key pair and the ciphertext (kem flags 7). */
	REQUIRE(msg_send(p.b, &b1, "b1") == 0);
	CHECK_EQ_INT(b1.p[H_KEM_FLAGS], 1);
	buf_wipe_free(&sb);
	REQUIRE(rstate(p.b, &sb) == 0);
	CHECK_EQ_INT(sb.p[sb.len - TAIL_DK - 1], 7);
	/* The same state as version 4 (no kem_check, one check over everything) loads, reads
	 * on, and is written back as version 5. */
	x.len = 0;
	buf_u8(&x, 4);
	buf_put(&x, sb.p + 1, sb.len - 1 - CHECKS);
	buf_reserve(&x, 16);
	REQUIRE(buf_status(&x) == 0);
	crypto_generichash(x.p + x.len - 16, 16, x.p, x.len - 16, NULL, 0);
	REQUIRE(ratchet_deserialize(&rt, &suite_native, x.p, x.len) == 0);
	x.len = 0;
	REQUIRE(ratchet_serialize(rt, &x) == 0);
	CHECK(x.len == sb.len && memcmp(x.p, sb.p, sb.len) == 0);
	ratchet_free(rt);
	rt = NULL;
	CHECK_EQ_INT(msg_recv(p.a, &b1), 0);
	/* Enabling twice, or after sending, is refused. */
	CHECK_EQ_INT(ratchet_enable_kem(e2e_session_ratchet(p.a)), SOTTO_ERR_STATE);
	msg_free(&b1);
	buf_wipe_free(&x);
	buf_wipe_free(&sa);
	buf_wipe_free(&sb);
	pq_pair_free(&p);
}

/* The deferred sending half (docs/PROTOCOL.md 4.4): a first send that fails to seal leaves
 * the pending state exactly as it was; a copy of the pending state repeats the same step
 * (the same DH key, encapsulation key and ciphertext: what lets the receiver's rollback
 * check recognise a restored sender), and both copies' messages read. */
TEST(pending_step_commits_when_sealed_and_repeats)
{
	static struct pq_pair p;
	static uint8_t small[256];
	struct buf before, tiny;
	struct e2e_session *copy = NULL;
	struct msg m1, m2;
	int type;

	REQUIRE(pq_pair_setup(&p) == 0);
	buf_init_dyn(&before, 1u << 22);
	REQUIRE(e2e_session_serialize(p.b, &before) == 0);
	buf_init_fixed(&tiny, small, sizeof(small));
	CHECK(e2e_session_encrypt(p.b, &tiny, &type, (const uint8_t *)"b1", 2) != 0);
	CHECK(snap_same(p.b, &before));
	REQUIRE(e2e_session_deserialize(&copy, &suite_native, before.p, before.len) == 0);
	REQUIRE(msg_send(p.b, &m1, "b1") == 0);
	REQUIRE(msg_send(copy, &m2, "b1") == 0);
	REQUIRE(m1.len == m2.len && m1.len == HDR_PQ_CT + 2 + 16);
	CHECK_MEM(m1.p, m2.p, HDR_PQ_CT - 24);            /* all but the nonce */
	CHECK(memcmp(m1.p + HDR_PQ_CT - 24, m2.p + HDR_PQ_CT - 24, 24) != 0);
	CHECK(!snap_same(p.b, &before));
	CHECK_EQ_INT(msg_recv(p.a, &m1), 0);
	/* The copy's message: the same ratchet key and number with other bytes. */
	CHECK_EQ_INT(msg_recv(p.a, &m2), SOTTO_ERR_ROLLBACK);
	e2e_session_free(copy);
	msg_free(&m1);
	msg_free(&m2);
	buf_wipe_free(&before);
	pq_pair_free(&p);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(pq_round_trips_many_turns);
	RUN(out_of_order_across_kem_steps);
	RUN(tampered_kem_step_refused);
	RUN(kem_step_matches_protocol_doc);
	RUN(classical_secrets_alone_read_nothing);
	RUN(pq_state_and_downgrade_checks);
	RUN(pending_step_commits_when_sealed_and_repeats);
	return check_summary();
}
