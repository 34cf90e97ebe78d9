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
#include "signal_wire.h"
#include "xeddsa.h"

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

void
interop_run_oracle_tests(void)
{
	RUN(oracle_sha512_symbol_clash_is_harmless);
	RUN(oracle_libsignal_talks_to_itself);
	RUN(oracle_xeddsa_both_ways);
}
