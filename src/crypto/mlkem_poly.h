/*
 * The polynomial layer of ML-KEM (FIPS 203 sections 4.2.1, 4.2.2 and 4.3): arithmetic in
 * Z_q[X]/(X^256 + 1) with q = 3329, the NTT and its inverse, multiplication in the NTT
 * domain, compression, byte encoding, and the two samplers.
 *
 * Every coefficient is kept reduced, in [0, q). Constant time: reductions are multiplications
 * and shifts (never a division or a data-dependent branch), so a polynomial may be SECRET.
 * Only mlkem_poly_sample_ntt branches on its input, which is the public seed rho.
 */
#ifndef SOTTO_CRYPTO_MLKEM_POLY_H
#define SOTTO_CRYPTO_MLKEM_POLY_H

#include <stdint.h>

#define MLKEM_N 256
#define MLKEM_Q 3329
#define MLKEM_SEED_LEN 32                   /* rho, sigma, r, d, z, m: 32 bytes each */
#define MLKEM_POLY_BYTES 384                /* ByteEncode_12 of one polynomial */
#define MLKEM_POLY_COMPRESSED_BYTES(d) (32 * (d))   /* ByteEncode_d, d < 12 */
#define MLKEM_ETA 2                         /* eta1 = eta2 = 2 for ML-KEM-768 */
#define MLKEM_CBD_BYTES (64 * MLKEM_ETA)    /* the PRF output SamplePolyCBD reads */

struct mlkem_poly {
	uint16_t c[MLKEM_N];
};

/* zeta^BitRev7(i) and zeta^(2 BitRev7(i) + 1) mod q with zeta = 17 (FIPS 203 Appendix A). */
extern const uint16_t mlkem_zetas[MLKEM_N / 2];
extern const uint16_t mlkem_gammas[MLKEM_N / 2];
/* mlkem_zetas[i] 2^16 mod q: the NTTs multiply by them with a Montgomery reduction. */
extern const uint16_t mlkem_zetas_mont[MLKEM_N / 2];

/* Algorithms 9 and 10, in place. */
void mlkem_poly_ntt(struct mlkem_poly *f);
void mlkem_poly_invntt(struct mlkem_poly *f);
/* h += f x g in the NTT domain (MultiplyNTTs, Algorithm 11, then an addition). */
void mlkem_poly_mul_acc(struct mlkem_poly *h, const struct mlkem_poly *f,
    const struct mlkem_poly *g);
void mlkem_poly_add(struct mlkem_poly *h, const struct mlkem_poly *f);   /* h += f */
void mlkem_poly_sub(struct mlkem_poly *h, const struct mlkem_poly *f);   /* h -= f */

/* ByteEncode_12 and ByteDecode_12 (Algorithms 5 and 6, m = q: decoded values reduced). */
void mlkem_poly_encode12(uint8_t out[static MLKEM_POLY_BYTES], const struct mlkem_poly *f);
void mlkem_poly_decode12(struct mlkem_poly *f, const uint8_t in[static MLKEM_POLY_BYTES]);
/* ByteEncode_d(Compress_d(f)) and Decompress_d(ByteDecode_d(in)), d in {1, 4, 10}: out and
 * in hold MLKEM_POLY_COMPRESSED_BYTES(d) bytes. */
void mlkem_poly_compress(uint8_t *out, const struct mlkem_poly *f, unsigned d);
void mlkem_poly_decompress(struct mlkem_poly *f, const uint8_t *in, unsigned d);

/* SampleNTT(rho || j || i) (Algorithm 7): entry (i, j) of the matrix A-hat. */
void mlkem_poly_sample_ntt(struct mlkem_poly *a, const uint8_t rho[static MLKEM_SEED_LEN],
    uint8_t j, uint8_t i);
/* SamplePolyCBD_2(PRF_2(s, n)) (Algorithm 8 and section 4.1's PRF). */
void mlkem_poly_sample_cbd(struct mlkem_poly *f, const uint8_t s[static MLKEM_SEED_LEN],
    uint8_t n);

#endif
