/* noise_sotto_initiator_keys: the initiator with precomputed device and server keys. */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "wire/noise.h"

/* Runs the three messages; 0 when both sides agree, else the first error. */
static int
run(struct noise_hs *c, struct noise_hs *s, uint8_t c_hash[NOISE_HASH_LEN])
{
	uint8_t m[256], pl[8];
	size_t n, pn;
	int r;

	if ((r = noise_hs_write(c, NULL, 0, m, sizeof(m), &n)) != 0 ||
	    (r = noise_hs_read(s, m, n, pl, sizeof(pl), &pn)) != 0 ||
	    (r = noise_hs_write(s, NULL, 0, m, sizeof(m), &n)) != 0 ||
	    (r = noise_hs_read(c, m, n, pl, sizeof(pl), &pn)) != 0 ||
	    (r = noise_hs_write(c, NULL, 0, m, sizeof(m), &n)) != 0 ||
	    (r = noise_hs_read(s, m, n, pl, sizeof(pl), &pn)) != 0)
		return r;
	memcpy(c_hash, noise_hs_hash(c), NOISE_HASH_LEN);
	return 0;
}

TEST(initiator_keys_matches_the_plain_initiator)
{
	uint8_t ed_pk[32], ed_sk[64], server_x[32], dev_sk[32], dev_pk[32], other_pk[32];
	uint8_t rs[32], h[NOISE_HASH_LEN], other_x[32], osk[64];
	struct noise_hs c, s;

	crypto_sign_keypair(ed_pk, ed_sk);
	REQUIRE(crypto_sign_ed25519_pk_to_curve25519(server_x, ed_pk) == 0);
	crypto_box_keypair(dev_pk, dev_sk);

	/* The right keys: the handshake completes, the server learns the device key and
	 * both sides end with the same handshake hash. */
	REQUIRE(noise_sotto_initiator_keys(&c, dev_sk, dev_pk, server_x) == 0);
	REQUIRE(noise_sotto_responder(&s, ed_sk) == 0);
	CHECK_EQ_INT(run(&c, &s, h), 0);
	CHECK_EQ_INT(noise_hs_remote_static(&s, rs), 0);
	CHECK_MEM(rs, dev_pk, 32);
	CHECK_MEM(h, noise_hs_hash(&s), NOISE_HASH_LEN);

	/* A public key that is not the device's: the server refuses message 3. */
	crypto_box_keypair(other_pk, osk);
	REQUIRE(noise_sotto_initiator_keys(&c, dev_sk, other_pk, server_x) == 0);
	REQUIRE(noise_sotto_responder(&s, ed_sk) == 0);
	CHECK(run(&c, &s, h) != 0);

	/* Another server key than the pinned one: the client refuses message 2. */
	crypto_sign_keypair(ed_pk, ed_sk);
	crypto_sign_keypair(ed_pk, osk);
	REQUIRE(crypto_sign_ed25519_pk_to_curve25519(other_x, ed_pk) == 0);
	REQUIRE(noise_sotto_initiator_keys(&c, dev_sk, dev_pk, server_x) == 0);
	REQUIRE(noise_sotto_responder(&s, osk) == 0);
	CHECK_EQ_INT(run(&c, &s, h), SOTTO_ERR_AUTH);
	noise_hs_wipe(&c);
	noise_hs_wipe(&s);
	sodium_memzero(dev_sk, sizeof(dev_sk));
	sodium_memzero(ed_sk, sizeof(ed_sk));
	sodium_memzero(osk, sizeof(osk));
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(initiator_keys_matches_the_plain_initiator);
	return check_summary();
}
