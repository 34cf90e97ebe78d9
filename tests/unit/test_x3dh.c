/* X3DH: both sides agree, with and without a one-time prekey; every check rejects. */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crypto/hkdf.h"
#include "crypto/init.h"
#include "crypto/kem_prekey.h"
#include "crypto/ratchet.h"
#include "crypto/e2e_session.h"
#include "crypto/sign.h"
#include "crypto/suite_native.h"
#include "crypto/x3dh.h"

struct bob {
	struct x3dh_identity id;
	struct x3dh_keypair spk, opk;
	struct x3dh_bundle b;
};

static int
bob_setup(struct bob *bob, int with_opk)
{
	if (suite_native_identity_generate(&bob->id) != 0 ||
	    x3dh_keypair_generate(&bob->spk, 7) != 0 || x3dh_keypair_generate(&bob->opk, 42) != 0)
		return -1;
	return x3dh_bundle_make(&suite_native, &bob->b, &bob->id, 0, &bob->spk,
	    with_opk ? &bob->opk : NULL);
}

static void
agree(int with_opk)
{
	struct x3dh_identity alice;
	struct x3dh_init_info info;
	struct bob bob;
	uint8_t rk_a[32], ck_a[32], rk_b[32], ck_b[32];

	REQUIRE(suite_native_identity_generate(&alice) == 0);
	REQUIRE(bob_setup(&bob, with_opk) == 0);
	CHECK_EQ_INT(x3dh_bundle_verify(&suite_native, &bob.b), 0);
	REQUIRE(x3dh_initiate(&suite_native, &alice, &bob.b, &info, rk_a, ck_a) == 0);
	CHECK_EQ_INT(info.has_opk, with_opk);
	CHECK_EQ_INT(info.spk_id, 7);
	CHECK_EQ_INT(info.opk_id, with_opk ? 42 : 0);
	CHECK_MEM(info.ident_pub, alice.pub, 32);
	REQUIRE(x3dh_respond(&suite_native, &bob.id, &bob.spk, with_opk ? &bob.opk : NULL, NULL, &info,
	    rk_b, ck_b) == 0);
	CHECK_MEM(rk_a, rk_b, 32);
	CHECK_MEM(ck_a, ck_b, 32);
	CHECK(memcmp(rk_a, ck_a, 32) != 0);
	x3dh_identity_wipe(&alice);
	CHECK(sodium_is_zero((const uint8_t *)&alice, sizeof(alice)));
}

TEST(x3dh_agrees_with_one_time_prekey)
{
	agree(1);
}

TEST(x3dh_agrees_without_one_time_prekey)
{
	agree(0);
}

TEST(x3dh_one_time_prekey_changes_keys)
{
	struct x3dh_identity alice;
	struct x3dh_init_info info;
	struct bob bob;
	uint8_t rk_a[32], ck_a[32], rk_b[32], ck_b[32];

	REQUIRE(suite_native_identity_generate(&alice) == 0);
	REQUIRE(bob_setup(&bob, 1) == 0);
	REQUIRE(x3dh_initiate(&suite_native, &alice, &bob.b, &info, rk_a, ck_a) == 0);
	/* Bob told the OPK was not used computes other keys; with the wrong ids he refuses. */
	info.has_opk = 0;
	info.opk_id = 0;
	REQUIRE(x3dh_respond(&suite_native, &bob.id, &bob.spk, NULL, NULL, &info, rk_b, ck_b) == 0);
	CHECK(memcmp(rk_a, rk_b, 32) != 0);
	info.has_opk = 1;
	info.opk_id = 43;
	CHECK_EQ_INT(x3dh_respond(&suite_native, &bob.id, &bob.spk, &bob.opk, NULL, &info, rk_b, ck_b),
	    SOTTO_ERR_NOT_FOUND);
	info.opk_id = 42;
	info.spk_id = 8;
	CHECK_EQ_INT(x3dh_respond(&suite_native, &bob.id, &bob.spk, &bob.opk, NULL, &info, rk_b, ck_b),
	    SOTTO_ERR_NOT_FOUND);
	info.spk_id = 7;
	CHECK_EQ_INT(x3dh_respond(&suite_native, &bob.id, &bob.spk, NULL, NULL, &info, rk_b, ck_b),
	    SOTTO_ERR_NOT_FOUND);
}

TEST(x3dh_rejects_bad_signature_and_keys)
{
	struct x3dh_identity alice;
	struct x3dh_init_info info;
	struct bob bob, eve;
	uint8_t rk[32], ck[32];
	size_t i;

	REQUIRE(suite_native_identity_generate(&alice) == 0);
	REQUIRE(bob_setup(&bob, 1) == 0);
	REQUIRE(bob_setup(&eve, 1) == 0);
	/* Any bit of the signature, the signed key or its id. */
	for (i = 0; i < 64 * 8; i += 13) {
		bob.b.spk_sig[i / 8] ^= (uint8_t)(1u << (i % 8));
		CHECK_EQ_INT(x3dh_initiate(&suite_native, &alice, &bob.b, &info, rk, ck),
		    SOTTO_ERR_BAD_SIGNATURE);
		bob.b.spk_sig[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	bob.b.spk_pub[3] ^= 0x10;
	CHECK_EQ_INT(x3dh_bundle_verify(&suite_native, &bob.b), SOTTO_ERR_BAD_SIGNATURE);
	bob.b.spk_pub[3] ^= 0x10;
	bob.b.spk_id++;
	CHECK_EQ_INT(x3dh_bundle_verify(&suite_native, &bob.b), SOTTO_ERR_BAD_SIGNATURE);
	bob.b.spk_id--;
	/* A server swapping in another signed prekey (signed by someone else). */
	memcpy(bob.b.spk_pub, eve.b.spk_pub, 32);
	memcpy(bob.b.spk_sig, eve.b.spk_sig, 64);
	CHECK_EQ_INT(x3dh_bundle_verify(&suite_native, &bob.b), SOTTO_ERR_BAD_SIGNATURE);
	REQUIRE(bob_setup(&bob, 1) == 0);
	/* Bad identity encodings. */
	bob.b.ident_pub_len = 31;
	CHECK_EQ_INT(x3dh_bundle_verify(&suite_native, &bob.b), SOTTO_ERR_BAD_KEY);
	bob.b.ident_pub_len = 32;
	memset(bob.b.ident_pub, 0, 32);
	bob.b.ident_pub[0] = 1;    /* the neutral element */
	CHECK_EQ_INT(x3dh_initiate(&suite_native, &alice, &bob.b, &info, rk, ck), SOTTO_ERR_BAD_KEY);
	CHECK(sodium_is_zero(rk, 32));
	/* A small-order prekey gives an all-zero DH: refused. */
	REQUIRE(bob_setup(&bob, 1) == 0);
	memset(bob.b.opk_pub, 0, 32);
	CHECK_EQ_INT(x3dh_initiate(&suite_native, &alice, &bob.b, &info, rk, ck), SOTTO_ERR_CRYPTO);
	/* Responder side: a zero base key. */
	REQUIRE(bob_setup(&bob, 0) == 0);
	REQUIRE(x3dh_initiate(&suite_native, &alice, &bob.b, &info, rk, ck) == 0);
	memset(info.base_pub, 0, 32);
	CHECK_EQ_INT(x3dh_respond(&suite_native, &bob.id, &bob.spk, NULL, NULL, &info, rk, ck),
	    SOTTO_ERR_CRYPTO);
}

TEST(x3dh_identity_from_seed_is_deterministic)
{
	struct x3dh_identity a, b;
	uint8_t seed[32] = { 9, 8, 7 };

	REQUIRE(suite_native_identity_from_seed(&a, seed) == 0);
	REQUIRE(suite_native_identity_from_seed(&b, seed) == 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK_EQ_INT(a.pub_len, 32);
	seed[0] ^= 1;
	REQUIRE(suite_native_identity_from_seed(&b, seed) == 0);
	CHECK(memcmp(a.pub, b.pub, 32) != 0);
}

/* X3DH as docs/PROTOCOL.md writes it, from the responder's secrets. */
TEST(x3dh_matches_protocol_doc)
{
	struct x3dh_identity alice;
	struct x3dh_init_info info;
	struct bob bob;
	uint8_t rk[32], ck[32], ikm[32 + 128], okm[64];

	REQUIRE(suite_native_identity_generate(&alice) == 0);
	REQUIRE(bob_setup(&bob, 1) == 0);
	REQUIRE(x3dh_initiate(&suite_native, &alice, &bob.b, &info, rk, ck) == 0);
	memset(ikm, 0xff, 32);
	REQUIRE(crypto_scalarmult_curve25519(ikm + 32, bob.spk.sec, alice.dh_pub) == 0);
	REQUIRE(crypto_scalarmult_curve25519(ikm + 64, bob.id.dh_sec, info.base_pub) == 0);
	REQUIRE(crypto_scalarmult_curve25519(ikm + 96, bob.spk.sec, info.base_pub) == 0);
	REQUIRE(crypto_scalarmult_curve25519(ikm + 128, bob.opk.sec, info.base_pub) == 0);
	REQUIRE(hkdf_sha256(okm, 64, NULL, 0, ikm, sizeof(ikm), (const uint8_t *)"Sotto X3DH v1",
	    13) == 0);
	CHECK_MEM(rk, okm, 32);
	CHECK_MEM(ck, okm + 32, 32);
	/* The X25519 identity is libsodium's conversion of the Ed25519 key. */
	{
		uint8_t x[32];

		REQUIRE(crypto_sign_ed25519_pk_to_curve25519(x, alice.pub) == 0);
		CHECK_MEM(x, alice.dh_pub, 32);
	}
}

/* KEM prekey signatures: the signed bytes are exactly the label, the big-endian id and
 * the key (checked with sign_verify over bytes built here from PROTOCOL.md); another id,
 * key bit, identity or the signed prekey's label do not verify. */
TEST(kem_prekey_signature)
{
	static uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN];
	static uint8_t m[19 + 4 + MLKEM768_EK_LEN];
	uint8_t pk[32], sk[64], pk2[32], sk2[64], seed[32], sig[64];

	memset(seed, 7, sizeof(seed));
	REQUIRE(sign_seed_keypair(pk, sk, seed) == 0);
	REQUIRE(sign_keypair(pk2, sk2) == 0);
	REQUIRE(mlkem768_keygen(ek, dk) == 0);
	REQUIRE(kem_prekey_sign(sig, 0x01020304, ek, sk) == 0);
	memcpy(m, "Sotto KEM prekey v1", 19);
	m[19] = 1, m[20] = 2, m[21] = 3, m[22] = 4;
	memcpy(m + 23, ek, MLKEM768_EK_LEN);
	CHECK_EQ_INT(sign_verify(sig, m, sizeof(m), pk), 0);
	CHECK_EQ_INT(kem_prekey_verify(sig, 0x01020304, ek, pk), 0);
	CHECK_EQ_INT(kem_prekey_verify(sig, 0x01020305, ek, pk), SOTTO_ERR_BAD_SIGNATURE);
	CHECK_EQ_INT(kem_prekey_verify(sig, 0x01020304, ek, pk2), SOTTO_ERR_BAD_SIGNATURE);
	ek[MLKEM768_EK_LEN - 1] ^= 1;
	CHECK_EQ_INT(kem_prekey_verify(sig, 0x01020304, ek, pk), SOTTO_ERR_BAD_SIGNATURE);
	ek[MLKEM768_EK_LEN - 1] ^= 1;
	memset(sig, 0, sizeof(sig));
	CHECK_EQ_INT(kem_prekey_verify(sig, 0x01020304, ek, pk), SOTTO_ERR_BAD_SIGNATURE);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(sk2, sizeof(sk2));
}

/* Bob with a signed ML-KEM prekey (id 9) in his bundle: PQXDH. dk is SECRET. */
struct pq_bob {
	struct bob bob;
	uint8_t dk[MLKEM768_DK_LEN];
};

static int
pq_bob_setup(struct pq_bob *pb, int with_opk)
{
	struct bob *bob = &pb->bob;

	if (bob_setup(bob, with_opk) != 0 || mlkem768_keygen(bob->b.kem_ek, pb->dk) != 0)
		return -1;
	bob->b.has_kem = 1;
	bob->b.kem_id = 9;
	return kem_prekey_sign(bob->b.kem_sig, 9, bob->b.kem_ek, bob->id.sign_sec);
}

/* Both sides agree (with and without a one-time prekey), and the keys are not X3DH's; the
 * responder needs the KEM prekey's decapsulation key, and a changed ciphertext or another
 * key gives other keys (FIPS 203's implicit rejection), never an error. */
TEST(pqxdh_agrees_and_needs_the_kem_key)
{
	static struct pq_bob pb;
	static struct x3dh_init_info info, info2;
	static uint8_t other_ek[MLKEM768_EK_LEN], other_dk[MLKEM768_DK_LEN];
	struct x3dh_identity alice;
	uint8_t rk_a[32], ck_a[32], rk_b[32], ck_b[32];

	REQUIRE(suite_native_identity_generate(&alice) == 0);
	for (int opk = 0; opk < 2; opk++) {
		REQUIRE(pq_bob_setup(&pb, opk) == 0);
		CHECK_EQ_INT(x3dh_bundle_verify(&suite_native, &pb.bob.b), 0);
		REQUIRE(x3dh_initiate(&suite_native, &alice, &pb.bob.b, &info, rk_a, ck_a) == 0);
		CHECK_EQ_INT(info.has_kem, 1);
		CHECK_EQ_INT(info.kem_id, 9);
		CHECK_EQ_INT(info.has_opk, opk);
		REQUIRE(x3dh_respond(&suite_native, &pb.bob.id, &pb.bob.spk,
		    opk ? &pb.bob.opk : NULL, pb.dk, &info, rk_b, ck_b) == 0);
		CHECK_MEM(rk_a, rk_b, 32);
		CHECK_MEM(ck_a, ck_b, 32);
		/* Without the KEM part the same DH values give other keys. */
		info2 = info;
		info2.has_kem = 0;
		REQUIRE(x3dh_respond(&suite_native, &pb.bob.id, &pb.bob.spk,
		    opk ? &pb.bob.opk : NULL, NULL, &info2, rk_b, ck_b) == 0);
		CHECK(memcmp(rk_a, rk_b, 32) != 0);
		CHECK_EQ_INT(x3dh_respond(&suite_native, &pb.bob.id, &pb.bob.spk,
		    opk ? &pb.bob.opk : NULL, NULL, &info, rk_b, ck_b), SOTTO_ERR_NOT_FOUND);
		CHECK_EQ_INT(x3dh_respond(&suite_native, &pb.bob.id, &pb.bob.spk,
		    opk ? &pb.bob.opk : NULL, pb.dk, &info2, rk_b, ck_b), SOTTO_ERR_NOT_FOUND);
		info2 = info;
		info2.kem_ct[100] ^= 0x04;
		REQUIRE(x3dh_respond(&suite_native, &pb.bob.id, &pb.bob.spk,
		    opk ? &pb.bob.opk : NULL, pb.dk, &info2, rk_b, ck_b) == 0);
		CHECK(memcmp(rk_a, rk_b, 32) != 0);
		REQUIRE(mlkem768_keygen(other_ek, other_dk) == 0);
		REQUIRE(x3dh_respond(&suite_native, &pb.bob.id, &pb.bob.spk,
		    opk ? &pb.bob.opk : NULL, other_dk, &info, rk_b, ck_b) == 0);
		CHECK(memcmp(rk_a, rk_b, 32) != 0);
	}
	x3dh_identity_wipe(&alice);
	sodium_memzero(pb.dk, sizeof(pb.dk));
}

/* The initiator refuses a KEM prekey not signed by the bundle's identity, an encapsulation
 * key that fails FIPS 203's input check (even when signed), and PQXDH with a suite that
 * has none; nothing is derived. */
TEST(pqxdh_rejects_bad_kem_prekeys)
{
	static struct pq_bob pb;
	static struct x3dh_init_info info;
	struct ratchet_suite classical_only = suite_native;
	struct x3dh_identity alice;
	uint8_t rk[32], ck[32];

	REQUIRE(suite_native_identity_generate(&alice) == 0);
	REQUIRE(pq_bob_setup(&pb, 1) == 0);
	pb.bob.b.kem_sig[5] ^= 1;
	CHECK_EQ_INT(x3dh_initiate(&suite_native, &alice, &pb.bob.b, &info, rk, ck),
	    SOTTO_ERR_BAD_SIGNATURE);
	CHECK(sodium_is_zero(rk, 32) && sodium_is_zero(ck, 32));
	pb.bob.b.kem_sig[5] ^= 1;
	pb.bob.b.kem_id = 10;           /* relabelled by the server */
	CHECK_EQ_INT(x3dh_initiate(&suite_native, &alice, &pb.bob.b, &info, rk, ck),
	    SOTTO_ERR_BAD_SIGNATURE);
	pb.bob.b.kem_id = 9;
	/* A coefficient of 4095 >= q, signed: refused by the encapsulation key check. */
	pb.bob.b.kem_ek[0] = 0xff;
	pb.bob.b.kem_ek[1] |= 0x0f;
	REQUIRE(kem_prekey_sign(pb.bob.b.kem_sig, 9, pb.bob.b.kem_ek, pb.bob.id.sign_sec) == 0);
	CHECK_EQ_INT(x3dh_initiate(&suite_native, &alice, &pb.bob.b, &info, rk, ck),
	    SOTTO_ERR_BAD_KEY);
	CHECK(sodium_is_zero(rk, 32) && sodium_is_zero(ck, 32));
	CHECK_EQ_INT(info.has_kem, 0);
	REQUIRE(pq_bob_setup(&pb, 1) == 0);
	classical_only.kdf_pqxdh = NULL;
	CHECK_EQ_INT(x3dh_initiate(&classical_only, &alice, &pb.bob.b, &info, rk, ck),
	    SOTTO_ERR_UNSUPPORTED);
	x3dh_identity_wipe(&alice);
	sodium_memzero(pb.dk, sizeof(pb.dk));
}

/* PQXDH as docs/PROTOCOL.md writes it, from the bytes of the first message and the
 * responder's secrets: the prekey message layout (flags 3, the KEM prekey id and the
 * ciphertext after the identity), SS = ML-KEM.Decaps(dk, ct) and
 * RK || CK = HKDF(absent, 0xFF*32 || DH1 || DH2 || DH3 || DH4 || SS,
 * "Sotto_PQXDH_X25519_SHA-256_ML-KEM-768", 64), RK being what the first ratchet step of
 * the initiator's state starts from. */
TEST(pqxdh_matches_protocol_doc)
{
	static struct pq_bob pb;
	static const char label[] = "Sotto_PQXDH_X25519_SHA-256_ML-KEM-768";
	struct x3dh_identity alice;
	struct e2e_session *a = NULL, *b = NULL;
	struct buf m, st, pt;
	uint8_t ikm[32 + 128 + 32], okm[64], ck1[64], dh[32], rk_out[64];
	const uint8_t *p, *ct;
	int type;

	REQUIRE(suite_native_identity_generate(&alice) == 0);
	REQUIRE(pq_bob_setup(&pb, 1) == 0);
	REQUIRE(e2e_session_initiate(&a, &suite_native, &alice, &pb.bob.b, NULL) == 0);
	CHECK_EQ_INT(e2e_session_is_pq(a), 1);
	buf_init_dyn(&m, 1 << 16);
	REQUIRE(e2e_session_encrypt(a, &m, &type, (const uint8_t *)"hi", 2) == 0);
	CHECK_EQ_INT(type, E2E_SESSION_MSG_PREKEY);
	/* 0x01 || flags || spk_id || opk_id || base[32] || IK_A[32] || kem_id || ct[1088] ||
	 * ratchet message, version 3 (PROTOCOL.md 4.4): 42 + 1184 (Alice's first chain
	 * carries her KEM key but no ciphertext yet) + 24 + 2 + 16 */
	p = m.p;
	REQUIRE(m.len == 1 + 1 + 4 + 4 + 32 + 32 + 4 + 1088 + 42 + 1184 + 24 + 2 + 16);
	CHECK_EQ_INT(p[78 + 1088], 0x03);
	CHECK_EQ_INT(p[78 + 1088 + 41], 0);     /* kem_flags: no ciphertext */
	CHECK_EQ_INT(p[0], 0x01);
	CHECK_EQ_INT(p[1], 0x03);
	CHECK_EQ_INT(p[5], 7);
	CHECK_EQ_INT(p[9], 42);
	CHECK_MEM(p + 42, alice.pub, 32);
	CHECK_EQ_INT(p[74] | p[75] | p[76], 0);
	CHECK_EQ_INT(p[77], 9);
	ct = p + 78;
	memset(ikm, 0xff, 32);
	REQUIRE(crypto_scalarmult_curve25519(ikm + 32, pb.bob.spk.sec, alice.dh_pub) == 0);
	REQUIRE(crypto_scalarmult_curve25519(ikm + 64, pb.bob.id.dh_sec, p + 10) == 0);
	REQUIRE(crypto_scalarmult_curve25519(ikm + 96, pb.bob.spk.sec, p + 10) == 0);
	REQUIRE(crypto_scalarmult_curve25519(ikm + 128, pb.bob.opk.sec, p + 10) == 0);
	REQUIRE(mlkem768_decaps(ikm + 160, pb.dk, sizeof(pb.dk), ct, 1088) == 0);
	REQUIRE(hkdf_sha256(okm, 64, NULL, 0, ikm, sizeof(ikm), (const uint8_t *)label,
	    sizeof(label) - 1) == 0);
	/* The initiator's first ratchet step: KDF_RK(RK, DH(DHs, SPK_B)) with DHs the ratchet
	 * key in the inner header; Bob computes DH(SPK_B, DHs). */
	REQUIRE(crypto_scalarmult_curve25519(dh, pb.bob.spk.sec, p + 78 + 1088 + 1) == 0);
	REQUIRE(hkdf_sha256(ck1, 64, okm, 32, dh, 32, (const uint8_t *)"Sotto ratchet root v1",
	    21) == 0);
	buf_init_dyn(&st, 1 << 20);
	REQUIRE(ratchet_serialize(e2e_session_ratchet(a), &st) == 0);
	/* Root key at the ratchet state's fixed offset (docs/PROTOCOL.md section 6). */
	memcpy(rk_out, st.p + 1 + 1 + 4 + 1 + 1 + 32 + 1 + 32, 32);
	CHECK_MEM(rk_out, ck1, 32);
	buf_wipe_free(&st);
	/* And Bob's session from these bytes reads the message. */
	{
		struct e2e_session_opts o = { .kem_dk = pb.dk };

		buf_init_dyn(&pt, 64);
		REQUIRE(e2e_session_respond(&b, &suite_native, &pb.bob.id, &pb.bob.spk, &pb.bob.opk,
		    m.p, m.len, &pt, &o) == 0);
		CHECK(pt.len == 2 && memcmp(pt.p, "hi", 2) == 0);
		CHECK_EQ_INT(e2e_session_is_pq(b), 1);
		buf_free(&pt);
	}
	buf_free(&m);
	e2e_session_free(a);
	e2e_session_free(b);
	x3dh_identity_wipe(&alice);
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(pb.dk, sizeof(pb.dk));
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(x3dh_agrees_with_one_time_prekey);
	RUN(kem_prekey_signature);
	RUN(pqxdh_agrees_and_needs_the_kem_key);
	RUN(pqxdh_rejects_bad_kem_prekeys);
	RUN(pqxdh_matches_protocol_doc);
	RUN(x3dh_agrees_without_one_time_prekey);
	RUN(x3dh_one_time_prekey_changes_keys);
	RUN(x3dh_rejects_bad_signature_and_keys);
	RUN(x3dh_identity_from_seed_is_deterministic);
	RUN(x3dh_matches_protocol_doc);
	return check_summary();
}
