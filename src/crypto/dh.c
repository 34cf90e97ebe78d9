#include "crypto/dh.h"

#include <sodium.h>

#include "crypto/init.h"

int
dh_keypair(uint8_t pub[static DH_PUBLIC_LEN], uint8_t sec[static DH_SECRET_LEN])
{
	int r;

	if ((r = sotto_crypto_init()) != 0)
		return r;
	randombytes_buf(sec, DH_SECRET_LEN);
	return dh_public(pub, sec);
}

int
dh_public(uint8_t pub[static DH_PUBLIC_LEN], const uint8_t sec[static DH_SECRET_LEN])
{
	return crypto_scalarmult_curve25519_base(pub, sec) == 0 ? 0 : SOTTO_ERR_CRYPTO;
}

int
dh_shared(uint8_t out[static DH_SHARED_LEN], const uint8_t sec[static DH_SECRET_LEN],
    const uint8_t pub[static DH_PUBLIC_LEN])
{
	/* libsodium already fails on an all-zero result; the explicit check keeps the guarantee
	 * whatever the library version. */
	if (crypto_scalarmult_curve25519(out, sec, pub) != 0 ||
	    sodium_is_zero(out, DH_SHARED_LEN)) {
		sodium_memzero(out, DH_SHARED_LEN);
		return SOTTO_ERR_CRYPTO;
	}
	return 0;
}

int
dh_public_check(const uint8_t pub[static DH_PUBLIC_LEN])
{
	int i, top_ones = 1;

	if (pub[31] & 0x80)
		return SOTTO_ERR_BAD_KEY;
	/* u >= p = 2^255 - 19 means bytes ed ff .. ff 7f or above (little-endian). */
	for (i = 1; i < 31; i++)
		top_ones &= pub[i] == 0xff;
	if (pub[31] == 0x7f && top_ones && pub[0] >= 0xed)
		return SOTTO_ERR_BAD_KEY;
	if (sodium_is_zero(pub, DH_PUBLIC_LEN))
		return SOTTO_ERR_BAD_KEY;
	return 0;
}
