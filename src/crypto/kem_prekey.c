/* Signatures of ML-KEM prekeys (kem_prekey.h). */
#include "crypto/kem_prekey.h"

#include <string.h>

#define LABEL_LEN (sizeof(KEM_PREKEY_LABEL) - 1)
#define SIGNED_LEN (LABEL_LEN + 4 + MLKEM768_EK_LEN)

static void
signed_bytes(uint8_t m[SIGNED_LEN], uint32_t id, const uint8_t *ek)
{
	memcpy(m, KEM_PREKEY_LABEL, LABEL_LEN);
	m[LABEL_LEN] = (uint8_t)(id >> 24);
	m[LABEL_LEN + 1] = (uint8_t)(id >> 16);
	m[LABEL_LEN + 2] = (uint8_t)(id >> 8);
	m[LABEL_LEN + 3] = (uint8_t)id;
	memcpy(m + LABEL_LEN + 4, ek, MLKEM768_EK_LEN);
}

int
kem_prekey_sign(uint8_t sig[static SIGN_LEN], uint32_t id,
    const uint8_t ek[static MLKEM768_EK_LEN], const uint8_t ident_sk[static SIGN_SECRET_LEN])
{
	uint8_t m[SIGNED_LEN];

	signed_bytes(m, id, ek);
	return sign_detached(sig, m, sizeof(m), ident_sk);
}

int
kem_prekey_verify(const uint8_t sig[static SIGN_LEN], uint32_t id,
    const uint8_t ek[static MLKEM768_EK_LEN], const uint8_t ident_pk[static SIGN_PUBLIC_LEN])
{
	uint8_t m[SIGNED_LEN];

	signed_bytes(m, id, ek);
	return sign_verify(sig, m, sizeof(m), ident_pk);
}
