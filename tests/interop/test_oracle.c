/*
 * Tests of the test equipment itself: the OpenSSL provider, the symbol clash between
 * libsignal-protocol-c and libsodium, XEdDSA against libsignal's signer and verifier, and
 * the hand-written protobuf codec against libsignal's own encoder.
 */
#include <curve.h>
#include <openssl/evp.h>
#include <protocol.h>
#include <signal_protocol.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "interop_tests.h"
#include "sig_party.h"
#include "sig_provider.h"
#include "signal_wire.h"
#include "xeddsa.h"
#include "crypto/hmac.h"
#include "base/buf.h"

/*
 * libsignal-protocol-c exports crypto_hash_sha512 (from its bundled ref10 code) and so
 * does libsodium; the binary binds whichever comes first in link order. Both are NaCl's
 * int crypto_hash_sha512(unsigned char *out, const unsigned char *in, unsigned long long
 * inlen): the full SHA-512 digest, returning 0. Checked here against OpenSSL on lengths
 * around the block boundaries, so the clash is harmless whichever wins.
 */
TEST(oracle_sha512_symbol_clash_is_harmless)
{
	static const size_t lens[] = { 0, 1, 3, 111, 112, 127, 128, 129, 1000 };
	uint8_t in[1000], a[64], b[64];
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		CHECK_EQ_INT(crypto_hash_sha512(a, in, lens[i]), 0);
		REQUIRE(EVP_Digest(in, lens[i], b, &n, EVP_sha512(), NULL) == 1);
		CHECK_EQ_INT(n, 64);
		CHECK_MEM(a, b, 64);
	}
}

/* The provider's HMAC and SHA-512 agree with libsodium-based code; AES-CBC and CTR round
 * trip, CBC pads, and a CBC ciphertext with bad padding is refused. */
TEST(oracle_provider_primitives)
{
	static const size_t key_lens[] = { 0, 1, 32, 64, 65, 200 };
	signal_crypto_provider p;
	signal_buffer *out = NULL, *back = NULL;
	uint8_t key[200], msg[300], mac[32], md[64], iv[16];
	void *ctx = NULL;
	size_t i;

	sig_provider_init(&p);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(msg, sizeof(msg));
	randombytes_buf(iv, sizeof(iv));
	for (i = 0; i < sizeof(key_lens) / sizeof(key_lens[0]); i++) {
		REQUIRE(p.hmac_sha256_init_func(&ctx, key, key_lens[i], NULL) == 0);
		REQUIRE(p.hmac_sha256_update_func(ctx, msg, 100, NULL) == 0);
		REQUIRE(p.hmac_sha256_update_func(ctx, msg + 100, 200, NULL) == 0);
		REQUIRE(p.hmac_sha256_final_func(ctx, &out, NULL) == 0);
		p.hmac_sha256_cleanup_func(ctx, NULL);
		hmac_sha256(mac, key, key_lens[i], msg, 300);
		CHECK(signal_buffer_len(out) == 32 && memcmp(signal_buffer_data(out), mac, 32) == 0);
		signal_buffer_free(out);
		out = NULL;
	}
	REQUIRE(p.sha512_digest_init_func(&ctx, NULL) == 0);
	REQUIRE(p.sha512_digest_update_func(ctx, msg, 300, NULL) == 0);
	REQUIRE(p.sha512_digest_final_func(ctx, &out, NULL) == 0);
	crypto_hash_sha512(md, msg, 300);
	CHECK(signal_buffer_len(out) == 64 && memcmp(signal_buffer_data(out), md, 64) == 0);
	signal_buffer_free(out);
	out = NULL;
	/* final re-initialises: the context is reusable. */
	REQUIRE(p.sha512_digest_update_func(ctx, msg, 300, NULL) == 0);
	REQUIRE(p.sha512_digest_final_func(ctx, &out, NULL) == 0);
	CHECK(signal_buffer_len(out) == 64 && memcmp(signal_buffer_data(out), md, 64) == 0);
	signal_buffer_free(out);
	out = NULL;
	p.sha512_digest_cleanup_func(ctx, NULL);

	REQUIRE(p.encrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 16, msg, 32, NULL) == 0);
	CHECK_EQ_INT(signal_buffer_len(out), 48);
	REQUIRE(p.decrypt_func(&back, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 16,
	    signal_buffer_data(out), signal_buffer_len(out), NULL) == 0);
	CHECK(signal_buffer_len(back) == 32 && memcmp(signal_buffer_data(back), msg, 32) == 0);
	signal_buffer_free(back);
	back = NULL;
	/* Dropping the padding block leaves a last block whose padding is (almost surely)
	 * invalid; a wrong key length is refused outright. */
	CHECK(p.decrypt_func(&back, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 16,
	    signal_buffer_data(out), 16, NULL) < 0 || signal_buffer_len(back) < 16);
	if (back != NULL)
		signal_buffer_free(back);
	back = NULL;
	CHECK(p.encrypt_func(&back, SG_CIPHER_AES_CBC_PKCS5, key, 31, iv, 16, msg, 32, NULL) < 0);
	signal_buffer_free(out);
	out = NULL;

	REQUIRE(p.encrypt_func(&out, SG_CIPHER_AES_CTR_NOPADDING, key, 32, iv, 16, msg, 37,
	    NULL) == 0);
	CHECK_EQ_INT(signal_buffer_len(out), 37);
	REQUIRE(p.decrypt_func(&back, SG_CIPHER_AES_CTR_NOPADDING, key, 32, iv, 16,
	    signal_buffer_data(out), 37, NULL) == 0);
	CHECK(signal_buffer_len(back) == 37 && memcmp(signal_buffer_data(back), msg, 37) == 0);
	signal_buffer_free(out);
	signal_buffer_free(back);
}

TEST(oracle_libsignal_talks_to_itself)
{
	struct sig_party *alice = NULL, *bob = NULL;
	struct sig_bundle bundle;
	uint8_t *ct = NULL, *pt = NULL;
	size_t ct_len, pt_len;
	int pre = 0;

	REQUIRE(sig_party_new(&alice, 0) == 0);
	REQUIRE(sig_party_new(&bob, 3) == 0);
	CHECK_EQ_INT(sig_party_bundle(bob, &bundle, 1, 2), 0);
	CHECK_EQ_INT(sig_party_process_bundle(alice, "bob", &bundle), 0);
	CHECK_EQ_INT(sig_party_encrypt(alice, "bob", (const uint8_t *)"hi", 2, &ct, &ct_len,
	    &pre), 0);
	CHECK(pre);
	CHECK_EQ_INT(sig_party_decrypt(bob, "alice", pre, ct, ct_len, &pt, &pt_len), 0);
	CHECK_EQ_INT(pt_len, 2);
	CHECK(pt != NULL && memcmp(pt, "hi", 2) == 0);
	CHECK(!sig_party_has_prekey(bob, 2));
	CHECK(sig_party_has_prekey(bob, 1));
	free(ct);
	free(pt);
	sig_party_free(alice);
	sig_party_free(bob);
}

/* Our XEdDSA verifier accepts libsignal's (old-style) signatures and rejects them on any
 * other message or key; libsignal's verifier accepts our spec XEdDSA signatures. */
TEST(oracle_xeddsa_both_ways)
{
	struct sig_party *p = NULL, *q = NULL;
	struct sig_bundle b;
	uint8_t priv[32], sig[64], msg[33], bad[64];
	ec_public_key *pub = NULL;
	int i, sign_bit_seen = 0;

	REQUIRE(sig_party_new(&p, 0) == 0);
	REQUIRE(sig_party_new(&q, 0) == 0);
	REQUIRE(sig_party_bundle(p, &b, 0, 0) == 0);
	CHECK_EQ_INT(xeddsa_verify(b.signed_prekey_sig, b.identity_key + 1, b.signed_prekey,
	    sizeof(b.signed_prekey)), 0);
	CHECK(xeddsa_verify(b.signed_prekey_sig, sig_party_identity(q) + 1, b.signed_prekey,
	    sizeof(b.signed_prekey)) != 0);
	memcpy(msg, b.signed_prekey, sizeof(msg));
	msg[5] ^= 1;
	CHECK(xeddsa_verify(b.signed_prekey_sig, b.identity_key + 1, msg, sizeof(msg)) != 0);

	REQUIRE(sig_party_identity_private(p, priv) == 0);
	REQUIRE(curve_decode_point(&pub, sig_party_identity(p), SIG_KEY_LEN,
	    sig_party_context(p)) == 0);
	for (i = 0; i < 16; i++) {
		msg[0] = (uint8_t)i;
		REQUIRE(xeddsa_sign(sig, priv, msg, sizeof(msg)) == 0);
		CHECK_EQ_INT(sig[63] & 0x80, 0);
		CHECK_EQ_INT(xeddsa_verify(sig, sig_party_identity(p) + 1, msg, sizeof(msg)), 0);
		CHECK_EQ_INT(curve_verify_signature(pub, msg, sizeof(msg), sig, sizeof(sig)), 1);
		memcpy(bad, sig, sizeof(bad));
		bad[i * 4 % 64] ^= 0x10;
		CHECK(xeddsa_verify(bad, sig_party_identity(p) + 1, msg, sizeof(msg)) != 0);
		CHECK(curve_verify_signature(pub, msg, sizeof(msg), bad, sizeof(bad)) != 1);
	}
	/* libsignal's own signatures with fresh keys: about half carry the Edwards sign bit
	 * in sig[63], which the compatible verifier must honour. */
	for (i = 0; i < 32; i++) {
		ec_key_pair *kp = NULL;
		signal_buffer *s = NULL, *u = NULL;

		REQUIRE(curve_generate_key_pair(sig_party_context(p), &kp) == 0);
		REQUIRE(curve_calculate_signature(sig_party_context(p), &s,
		    ec_key_pair_get_private(kp), msg, sizeof(msg)) == 0);
		REQUIRE(ec_public_key_serialize(&u, ec_key_pair_get_public(kp)) == 0);
		REQUIRE(signal_buffer_len(s) == 64 && signal_buffer_len(u) == 33);
		sign_bit_seen |= signal_buffer_data(s)[63] & 0x80;
		CHECK_EQ_INT(xeddsa_verify(signal_buffer_data(s), signal_buffer_data(u) + 1, msg,
		    sizeof(msg)), 0);
		msg[1] ^= 1;
		CHECK(xeddsa_verify(signal_buffer_data(s), signal_buffer_data(u) + 1, msg,
		    sizeof(msg)) != 0);
		msg[1] ^= 1;
		signal_buffer_free(s);
		signal_buffer_free(u);
		SIGNAL_UNREF(kp);
	}
	CHECK(sign_bit_seen);
	sodium_memzero(priv, sizeof(priv));
	SIGNAL_UNREF(pub);
	sig_party_free(p);
	sig_party_free(q);
}


static int
make_point(ec_public_key **k, uint8_t raw[SIG_KEY_LEN], signal_context *ctx)
{
	raw[0] = 0x05;
	randombytes_buf(raw + 1, 32);
	raw[32] &= 0x7F;
	return curve_decode_point(k, raw, SIG_KEY_LEN, ctx);
}

/* libsignal's encoder -> our decoder, our encoder -> libsignal's decoder, and the MAC
 * formula computed by hand against libsignal's verify_mac. */
TEST(wire_signal_message_matches_libsignal)
{
	struct sig_party *p = NULL;
	signal_context *ctx;
	ec_public_key *rk = NULL, *sik = NULL, *rik = NULL;
	uint8_t rk_raw[33], sik_raw[33], rik_raw[33], mac_key[32], ct[48], mac[32], ids[66];
	signal_message *m = NULL, *m2 = NULL;
	signal_buffer *ser;
	struct sigw_message d;
	struct buf b;
	const uint8_t *their_mac;
	size_t authed;

	REQUIRE(sig_party_new(&p, 0) == 0);
	ctx = sig_party_context(p);
	REQUIRE(make_point(&rk, rk_raw, ctx) == 0);
	REQUIRE(make_point(&sik, sik_raw, ctx) == 0);
	REQUIRE(make_point(&rik, rik_raw, ctx) == 0);
	randombytes_buf(mac_key, sizeof(mac_key));
	randombytes_buf(ct, sizeof(ct));
	REQUIRE(signal_message_create(&m, 3, mac_key, sizeof(mac_key), rk, 300, 129, ct,
	    sizeof(ct), sik, rik, ctx) == 0);
	ser = ciphertext_message_get_serialized((ciphertext_message *)m);
	REQUIRE(sigw_message_decode(&d, signal_buffer_data(ser), signal_buffer_len(ser), &authed,
	    &their_mac) == 0);
	CHECK_MEM(d.ratchet_key, rk_raw, 33);
	CHECK_EQ_INT(d.counter, 300);
	CHECK_EQ_INT(d.previous_counter, 129);
	CHECK_EQ_INT(d.ciphertext_len, sizeof(ct));
	CHECK(d.ciphertext != NULL && memcmp(d.ciphertext, ct, sizeof(ct)) == 0);
	memcpy(ids, sik_raw, 33);
	memcpy(ids + 33, rik_raw, 33);
	hmac_sha256_2(mac, mac_key, sizeof(mac_key), ids, sizeof(ids), signal_buffer_data(ser),
	    authed);
	CHECK_MEM(mac, their_mac, SIGW_MAC_LEN);

	/* The other way: our bytes, with our MAC, through libsignal. */
	buf_init_dyn(&b, 4096);
	memset(&d, 0, sizeof(d));
	memcpy(d.ratchet_key, rk_raw, 33);
	d.counter = 70000;
	d.previous_counter = 0;
	d.ciphertext = ct;
	d.ciphertext_len = 32;
	sigw_message_encode(&b, &d);
	REQUIRE(buf_status(&b) == 0);
	hmac_sha256_2(mac, mac_key, sizeof(mac_key), ids, sizeof(ids), b.p, b.len);
	buf_put(&b, mac, SIGW_MAC_LEN);
	REQUIRE(buf_status(&b) == 0);
	REQUIRE(signal_message_deserialize(&m2, b.p, b.len, ctx) == 0);
	CHECK_EQ_INT(signal_message_get_counter(m2), 70000);
	CHECK_EQ_INT(signal_message_get_message_version(m2), 3);
	CHECK_EQ_INT(ec_public_key_compare(signal_message_get_sender_ratchet_key(m2), rk), 0);
	CHECK_EQ_INT(signal_buffer_len(signal_message_get_body(m2)), 32);
	CHECK_EQ_INT(signal_message_verify_mac(m2, sik, rik, mac_key, sizeof(mac_key), ctx), 1);
	CHECK_EQ_INT(signal_message_verify_mac(m2, rik, sik, mac_key, sizeof(mac_key), ctx), 0);
	buf_free(&b);
	SIGNAL_UNREF(m);
	SIGNAL_UNREF(m2);
	SIGNAL_UNREF(rk);
	SIGNAL_UNREF(sik);
	SIGNAL_UNREF(rik);
	sig_party_free(p);
}

TEST(wire_prekey_message_matches_libsignal)
{
	struct sig_party *p = NULL;
	signal_context *ctx;
	ec_public_key *rk = NULL, *bk = NULL, *ik = NULL;
	uint8_t rk_raw[33], bk_raw[33], ik_raw[33], mac_key[32], ct[16];
	signal_message *inner = NULL;
	pre_key_signal_message *pm = NULL, *pm2 = NULL;
	signal_buffer *ser, *inner_ser;
	struct sigw_prekey_message d;
	const uint32_t pk_id = 77;
	struct buf b;
	int with_id;

	REQUIRE(sig_party_new(&p, 0) == 0);
	ctx = sig_party_context(p);
	REQUIRE(make_point(&rk, rk_raw, ctx) == 0);
	REQUIRE(make_point(&bk, bk_raw, ctx) == 0);
	REQUIRE(make_point(&ik, ik_raw, ctx) == 0);
	randombytes_buf(mac_key, sizeof(mac_key));
	randombytes_buf(ct, sizeof(ct));
	REQUIRE(signal_message_create(&inner, 3, mac_key, sizeof(mac_key), rk, 0, 0, ct,
	    sizeof(ct), ik, bk, ctx) == 0);
	inner_ser = ciphertext_message_get_serialized((ciphertext_message *)inner);
	for (with_id = 0; with_id < 2; with_id++) {
		REQUIRE(pre_key_signal_message_create(&pm, 3, 12345, with_id ? &pk_id : NULL, 9, bk,
		    ik, inner, ctx) == 0);
		ser = ciphertext_message_get_serialized((ciphertext_message *)pm);
		REQUIRE(sigw_prekey_message_decode(&d, signal_buffer_data(ser),
		    signal_buffer_len(ser)) == 0);
		CHECK_EQ_INT(d.registration_id, 12345);
		CHECK_EQ_INT(d.has_prekey_id, with_id);
		CHECK_EQ_INT(d.prekey_id, with_id ? 77 : 0);
		CHECK_EQ_INT(d.signed_prekey_id, 9);
		CHECK_MEM(d.base_key, bk_raw, 33);
		CHECK_MEM(d.identity_key, ik_raw, 33);
		CHECK_EQ_INT(d.message_len, signal_buffer_len(inner_ser));
		CHECK(d.message != NULL &&
		    memcmp(d.message, signal_buffer_data(inner_ser), d.message_len) == 0);

		buf_init_dyn(&b, 4096);
		d.registration_id = 16000;
		d.signed_prekey_id = 0xFFFFFFFFu;
		sigw_prekey_message_encode(&b, &d);
		REQUIRE(buf_status(&b) == 0);
		REQUIRE(pre_key_signal_message_deserialize(&pm2, b.p, b.len, ctx) == 0);
		CHECK_EQ_INT(pre_key_signal_message_get_registration_id(pm2), 16000);
		CHECK_EQ_INT(pre_key_signal_message_has_pre_key_id(pm2), with_id);
		if (with_id)
			CHECK_EQ_INT(pre_key_signal_message_get_pre_key_id(pm2), 77);
		CHECK_EQ_INT(pre_key_signal_message_get_signed_pre_key_id(pm2), 0xFFFFFFFFu);
		CHECK_EQ_INT(ec_public_key_compare(pre_key_signal_message_get_base_key(pm2), bk), 0);
		CHECK_EQ_INT(ec_public_key_compare(pre_key_signal_message_get_identity_key(pm2), ik),
		    0);
		CHECK_EQ_INT(signal_message_get_counter(pre_key_signal_message_get_signal_message(pm2)),
		    0);
		buf_free(&b);
		SIGNAL_UNREF(pm);
		SIGNAL_UNREF(pm2);
	}
	SIGNAL_UNREF(inner);
	SIGNAL_UNREF(rk);
	SIGNAL_UNREF(bk);
	SIGNAL_UNREF(ik);
	sig_party_free(p);
}

static void
encode_sample(struct buf *b)
{
	struct sigw_message m;
	uint8_t ct[32];

	memset(&m, 0, sizeof(m));
	m.ratchet_key[0] = 0x05;
	memset(m.ratchet_key + 1, 0x42, 32);
	m.counter = 5;
	m.previous_counter = 300;
	memset(ct, 0x17, sizeof(ct));
	m.ciphertext = ct;
	m.ciphertext_len = sizeof(ct);
	sigw_message_encode(b, &m);
	buf_put(b, "MACMACMA", SIGW_MAC_LEN);
}

/* Structural rejects, each with the error that names it. */
TEST(wire_rejects_malformed)
{
	uint8_t good[256], bad[300];
	struct sigw_message d;
	struct sigw_prekey_message pd;
	const uint8_t *mac;
	size_t authed, n, i;
	struct buf b;

	buf_init_fixed(&b, good, sizeof(good));
	encode_sample(&b);
	REQUIRE(buf_status(&b) == 0);
	n = b.len;
	CHECK_EQ_INT(sigw_message_decode(&d, good, n, &authed, &mac), 0);
	/* Truncation anywhere inside the protobuf: an error, never a crash. Cutting exactly
	 * between fields can only lose the ciphertext (the last field), a required one. */
	for (i = 0; i < n; i++)
		CHECK(sigw_message_decode(&d, good, i, &authed, &mac) < 0);
	memcpy(bad, good, n);
	bad[0] = 0x23;
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n, &authed, &mac), SOTTO_ERR_BAD_VERSION);
	memcpy(bad, good, n);
	bad[3] = 0x06;          /* the ratchet key's type byte */
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n, &authed, &mac), SOTTO_ERR_BAD_KEY);
	memcpy(bad, good, n);
	bad[3 + 32] |= 0x80;    /* bit 255 of the ratchet key: a second encoding of it */
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n, &authed, &mac), SOTTO_ERR_BAD_KEY);
	memcpy(bad, good, n);
	bad[2] = 32;            /* a 32-byte key: wrong length, the rest misparses */
	CHECK(sigw_message_decode(&d, bad, n, &authed, &mac) < 0);
	/* A repeated field. */
	memcpy(bad, good, 1);
	bad[1] = 0x10;
	bad[2] = 0x01;
	memcpy(bad + 3, good + 1, n - 1);
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n + 2, &authed, &mac), SOTTO_ERR_MALFORMED);
	/* A known field with the wrong wire type (counter as length-delimited). */
	bad[1] = 0x12;
	bad[2] = 0x00;
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n + 2, &authed, &mac), SOTTO_ERR_MALFORMED);
	/* An unknown varint field is skipped, as protobuf requires. */
	bad[1] = 0x78;          /* field 15, varint */
	bad[2] = 0x01;
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n + 2, &authed, &mac), 0);
	/* An 11-byte varint. */
	bad[1] = 0x78;
	memset(bad + 2, 0xFF, 10);
	bad[12] = 0x01;
	memcpy(bad + 13, good + 1, n - 1);
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n + 12, &authed, &mac), SOTTO_ERR_MALFORMED);
	/* A counter over 32 bits. */
	bad[1] = 0x10;
	bad[2] = 0x80; bad[3] = 0x80; bad[4] = 0x80; bad[5] = 0x80; bad[6] = 0x10;
	memcpy(bad + 7, good + 1, n - 1);
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n + 6, &authed, &mac), SOTTO_ERR_MALFORMED);
	/* A length larger than the cap (field 4, length 2^31). */
	bad[1] = 0x22;
	bad[2] = 0x80; bad[3] = 0x80; bad[4] = 0x80; bad[5] = 0x80; bad[6] = 0x08;
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n + 6, &authed, &mac), SOTTO_ERR_TOO_LARGE);
	/* Field number 0. */
	bad[1] = 0x00;
	CHECK_EQ_INT(sigw_message_decode(&d, bad, n + 6, &authed, &mac), SOTTO_ERR_MALFORMED);
	/* Prekey messages: missing required fields, truncation. */
	CHECK_EQ_INT(sigw_prekey_message_decode(&pd, (const uint8_t *)"\x33", 1),
	    SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(sigw_prekey_message_decode(&pd, (const uint8_t *)"", 0), SOTTO_ERR_TRUNCATED);
	CHECK_EQ_INT(sigw_prekey_message_decode(&pd, (const uint8_t *)"\x22", 1),
	    SOTTO_ERR_BAD_VERSION);
}

/* Random mutations of valid messages through both decoders: errors or successes, never a
 * crash or an out-of-bounds read (this binary also runs under ASan+UBSan). A stand-in for
 * a libFuzzer harness, which would have to link tests/interop/. */
TEST(wire_survives_random_mutations)
{
	uint8_t good[256], bad[300];
	struct sigw_message d;
	struct sigw_prekey_message pd;
	struct sigw_prekey_message pm;
	const uint8_t *mac;
	size_t authed, n, pn, len;
	struct buf b, pb;
	uint8_t pgood[512];
	unsigned i, k, ok = 0;

	buf_init_fixed(&b, good, sizeof(good));
	encode_sample(&b);
	REQUIRE(buf_status(&b) == 0);
	n = b.len;
	memset(&pm, 0, sizeof(pm));
	pm.registration_id = 99;
	pm.has_prekey_id = 1;
	pm.prekey_id = 3;
	pm.signed_prekey_id = 1;
	pm.base_key[0] = pm.identity_key[0] = 0x05;
	memset(pm.base_key + 1, 0x21, 32);
	memset(pm.identity_key + 1, 0x31, 32);
	pm.message = good;
	pm.message_len = n;
	buf_init_fixed(&pb, pgood, sizeof(pgood));
	sigw_prekey_message_encode(&pb, &pm);
	REQUIRE(buf_status(&pb) == 0);
	pn = pb.len;
	for (i = 0; i < 20000; i++) {
		const uint8_t *src = (i & 1) ? pgood : good;

		len = (i & 1) ? pn : n;
		if (len > sizeof(bad))
			len = sizeof(bad);
		memcpy(bad, src, len);
		for (k = 0; k < 1 + i % 4; k++) {
			uint32_t at = randombytes_uniform((uint32_t)len);

			switch (randombytes_uniform(3)) {
			case 0: bad[at] ^= (uint8_t)(1u << randombytes_uniform(8)); break;
			case 1: bad[at] = (uint8_t)randombytes_uniform(256); break;
			case 2: len = at + 1; break;
			}
		}
		if (sigw_message_decode(&d, bad, len, &authed, &mac) == 0) {
			ok++;
			CHECK(authed + SIGW_MAC_LEN == len);
			CHECK(d.ciphertext_len <= len);
		}
		if (sigw_prekey_message_decode(&pd, bad, len) == 0) {
			ok++;
			CHECK(pd.message_len <= len);
		}
	}
	CHECK(ok > 0);
	CHECK(sigw_prekey_message_decode(&pd, pgood, pn) == 0);
}

void
interop_run_oracle_tests(void)
{
	RUN(oracle_sha512_symbol_clash_is_harmless);
	RUN(oracle_provider_primitives);
	RUN(oracle_libsignal_talks_to_itself);
	RUN(oracle_xeddsa_both_ways);
	RUN(wire_signal_message_matches_libsignal);
	RUN(wire_prekey_message_matches_libsignal);
	RUN(wire_rejects_malformed);
	RUN(wire_survives_random_mutations);
}
