/*
 * Signed ML-KEM-768 prekeys (PQXDH's PQSPK and PQOPK): the identity key's Ed25519
 * signature over a domain label, the key's id and its encapsulation key
 * (docs/PROTOCOL.md section 2).
 */
#ifndef SOTTO_CRYPTO_KEM_PREKEY_H
#define SOTTO_CRYPTO_KEM_PREKEY_H

#include <stdint.h>

#include "sotto/error.h"
#include "crypto/mlkem.h"
#include "crypto/sign.h"

#define KEM_PREKEY_LABEL "Sotto KEM prekey v1"

/* sig = Sign(ident_sk, KEM_PREKEY_LABEL || u32 id || ek). ident_sk is SECRET. */
int kem_prekey_sign(uint8_t sig[static SIGN_LEN], uint32_t id,
    const uint8_t ek[static MLKEM768_EK_LEN], const uint8_t ident_sk[static SIGN_SECRET_LEN])
    SOTTO_MUST_CHECK;
/* SOTTO_ERR_BAD_SIGNATURE unless sig signs (id, ek) under ident_pk. */
int kem_prekey_verify(const uint8_t sig[static SIGN_LEN], uint32_t id,
    const uint8_t ek[static MLKEM768_EK_LEN], const uint8_t ident_pk[static SIGN_PUBLIC_LEN])
    SOTTO_MUST_CHECK;

#endif
