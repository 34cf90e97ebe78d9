/*
 * ML-KEM-768 (FIPS 203, August 2024): key generation, encapsulation and decapsulation with
 * implicit rejection, and the input checks of section 7. docs/PQ.md describes it and how it
 * is tested.
 *
 * SECRET: the decapsulation key dk (all of it is treated as secret; its middle part is ek),
 * the seed d || z, the encapsulation randomness m and every shared secret. Public: ek and
 * the ciphertext. None of the functions branches or indexes memory on a secret
 * (tests/unit/test_mlkem_ct.c checks this under valgrind).
 */
#ifndef SOTTO_CRYPTO_MLKEM_H
#define SOTTO_CRYPTO_MLKEM_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#define MLKEM768_K 3
#define MLKEM768_DU 10
#define MLKEM768_DV 4
#define MLKEM768_SEED_LEN 64        /* d || z: the whole key pair regenerates from it */
#define MLKEM768_RAND_LEN 32        /* d, z and m each */
#define MLKEM768_EK_LEN 1184        /* 384 k + 32 */
#define MLKEM768_DK_LEN 2400        /* 768 k + 96: dk_PKE || ek || H(ek) || z */
#define MLKEM768_CT_LEN 1088        /* 32 (du k + dv) */
#define MLKEM768_SS_LEN 32

/* ML-KEM.KeyGen (Algorithm 19): d and z from the system's random generator. */
int mlkem768_keygen(uint8_t ek[static MLKEM768_EK_LEN], uint8_t dk[static MLKEM768_DK_LEN])
    SOTTO_MUST_CHECK;
/* ML-KEM.KeyGen_internal(d, z) (Algorithm 16): deterministic. */
void mlkem768_keygen_internal(uint8_t ek[static MLKEM768_EK_LEN],
    uint8_t dk[static MLKEM768_DK_LEN], const uint8_t d[static MLKEM768_RAND_LEN],
    const uint8_t z[static MLKEM768_RAND_LEN]);
/* The same from a stored 64-byte seed d || z; SOTTO_ERR_BAD_KEY (outputs zeroed) if
 * seed_len is not MLKEM768_SEED_LEN. */
int mlkem768_keygen_seed(uint8_t ek[static MLKEM768_EK_LEN], uint8_t dk[static MLKEM768_DK_LEN],
    const uint8_t *seed, size_t seed_len) SOTTO_MUST_CHECK;

/* The encapsulation key check of section 7.2 alone (length, and every coefficient below
 * q): 0 or SOTTO_ERR_BAD_KEY. */
int mlkem768_ek_check(const uint8_t *ek, size_t ek_len) SOTTO_MUST_CHECK;
/* ML-KEM.Encaps (Algorithm 20) after the encapsulation key check of section 7.2 (length,
 * and every coefficient below q): SOTTO_ERR_BAD_KEY, with ct and ss zeroed, if ek fails. */
int mlkem768_encaps(uint8_t ct[static MLKEM768_CT_LEN], uint8_t ss[static MLKEM768_SS_LEN],
    const uint8_t *ek, size_t ek_len) SOTTO_MUST_CHECK;
/* The same with the caller's m (ML-KEM.Encaps_internal, Algorithm 17, after the check). */
int mlkem768_encaps_internal(uint8_t ct[static MLKEM768_CT_LEN],
    uint8_t ss[static MLKEM768_SS_LEN], const uint8_t *ek, size_t ek_len,
    const uint8_t m[static MLKEM768_RAND_LEN]) SOTTO_MUST_CHECK;

/* ML-KEM.Decaps (Algorithm 21) after the checks of section 7.3: SOTTO_ERR_MALFORMED if ct
 * is not MLKEM768_CT_LEN bytes, SOTTO_ERR_BAD_KEY if dk is not MLKEM768_DK_LEN bytes or its
 * H(ek) is not the hash of its ek (ss zeroed either way). A well-formed ciphertext that was
 * not made for this key is not an error: it yields the implicit-rejection secret
 * J(z || ct), chosen in constant time. */
int mlkem768_decaps(uint8_t ss[static MLKEM768_SS_LEN], const uint8_t *dk, size_t dk_len,
    const uint8_t *ct, size_t ct_len) SOTTO_MUST_CHECK;

/* K-PKE.KeyGen from its line 1 on, with rho and sigma given rather than taken from
 * G(d || k); ek receives ByteEncode_12(t-hat) || rho, dk_pke ByteEncode_12(s-hat) (SECRET).
 * Exposed so that tests can check the steps after G against intermediate values. */
void mlkem768_pke_keygen(uint8_t ek[static MLKEM768_EK_LEN],
    uint8_t dk_pke[static 384 * MLKEM768_K], const uint8_t rho[static MLKEM768_RAND_LEN],
    const uint8_t sigma[static MLKEM768_RAND_LEN]);

#endif
