#include "crypto/sign.h"

#include <sodium.h>

#include "crypto/init.h"

int
sign_keypair(uint8_t pub[static SIGN_PUBLIC_LEN], uint8_t sec[static SIGN_SECRET_LEN])
{
	int r;

	if ((r = sotto_crypto_init()) != 0)
		return r;
	return crypto_sign_ed25519_keypair(pub, sec) == 0 ? 0 : SOTTO_ERR_CRYPTO;
}

int
sign_seed_keypair(uint8_t pub[static SIGN_PUBLIC_LEN], uint8_t sec[static SIGN_SECRET_LEN],
    const uint8_t seed[static SIGN_SEED_LEN])
{
	return crypto_sign_ed25519_seed_keypair(pub, sec, seed) == 0 ? 0 : SOTTO_ERR_CRYPTO;
}

int
sign_detached(uint8_t sig[static SIGN_LEN], const uint8_t *msg, size_t len,
    const uint8_t sec[static SIGN_SECRET_LEN])
{
	return crypto_sign_ed25519_detached(sig, NULL, msg, len, sec) == 0 ? 0 : SOTTO_ERR_CRYPTO;
}

int
sign_verify(const uint8_t sig[static SIGN_LEN], const uint8_t *msg, size_t len,
    const uint8_t pub[static SIGN_PUBLIC_LEN])
{
	return crypto_sign_ed25519_verify_detached(sig, msg, len, pub) == 0 ? 0 :
	    SOTTO_ERR_BAD_SIGNATURE;
}

int
sign_pk_to_dh(uint8_t dh_pub[static DH_PUBLIC_LEN], const uint8_t pub[static SIGN_PUBLIC_LEN])
{
	if (crypto_sign_ed25519_pk_to_curve25519(dh_pub, pub) != 0 ||
	    sodium_is_zero(dh_pub, DH_PUBLIC_LEN))
		return SOTTO_ERR_BAD_KEY;
	return 0;
}

int
sign_sk_to_dh(uint8_t dh_sec[static DH_SECRET_LEN], const uint8_t sec[static SIGN_SECRET_LEN])
{
	return crypto_sign_ed25519_sk_to_curve25519(dh_sec, sec) == 0 ? 0 : SOTTO_ERR_CRYPTO;
}
