/*
 * ML-KEM polynomials, written from FIPS 203. Coefficients live in [0, q) as uint16_t;
 * products are reduced with a Barrett step (a multiplication by floor(2^32 / q) and a
 * shift) and one constant-time conditional subtraction, or, inside the NTTs, where one
 * factor is a constant, with a Montgomery step (fq_mont); never with `%` or `/`, whose
 * running time can depend on the operands.
 */
#include "crypto/mlkem_poly.h"

#include <string.h>
#include <sodium.h>

#include "crypto/keccak.h"

#define BARRETT_MUL 1290167u        /* floor(2^32 / q); 2^32 - BARRETT_MUL q = 1353 */
#define HALF_Q 1664u                /* floor(q / 2): the rounding term of Compress */
#define MSG_ONE 1665u               /* Decompress_1(1) = round(q / 2) */
#define MONT_NEG_QINV 3327u         /* -q^-1 mod 2^16 */
#define NTT_INV_SCALE_MONT 512u     /* 128^-1 2^16 mod q (128^-1 = 3303): Algorithm 10's end */

const uint16_t mlkem_zetas[MLKEM_N / 2] = {
	1, 1729, 2580, 3289, 2642, 630, 1897, 848, 1062, 1919, 193, 797,
	2786, 3260, 569, 1746, 296, 2447, 1339, 1476, 3046, 56, 2240, 1333,
	1426, 2094, 535, 2882, 2393, 2879, 1974, 821, 289, 331, 3253, 1756,
	1197, 2304, 2277, 2055, 650, 1977, 2513, 632, 2865, 33, 1320, 1915,
	2319, 1435, 807, 452, 1438, 2868, 1534, 2402, 2647, 2617, 1481, 648,
	2474, 3110, 1227, 910, 17, 2761, 583, 2649, 1637, 723, 2288, 1100,
	1409, 2662, 3281, 233, 756, 2156, 3015, 3050, 1703, 1651, 2789, 1789,
	1847, 952, 1461, 2687, 939, 2308, 2437, 2388, 733, 2337, 268, 641,
	1584, 2298, 2037, 3220, 375, 2549, 2090, 1645, 1063, 319, 2773, 757,
	2099, 561, 2466, 2594, 2804, 1092, 403, 1026, 1143, 2150, 2775, 886,
	1722, 1212, 1874, 1029, 2110, 2935, 885, 2154,
};

const uint16_t mlkem_gammas[MLKEM_N / 2] = {
	17, 3312, 2761, 568, 583, 2746, 2649, 680, 1637, 1692, 723, 2606,
	2288, 1041, 1100, 2229, 1409, 1920, 2662, 667, 3281, 48, 233, 3096,
	756, 2573, 2156, 1173, 3015, 314, 3050, 279, 1703, 1626, 1651, 1678,
	2789, 540, 1789, 1540, 1847, 1482, 952, 2377, 1461, 1868, 2687, 642,
	939, 2390, 2308, 1021, 2437, 892, 2388, 941, 733, 2596, 2337, 992,
	268, 3061, 641, 2688, 1584, 1745, 2298, 1031, 2037, 1292, 3220, 109,
	375, 2954, 2549, 780, 2090, 1239, 1645, 1684, 1063, 2266, 319, 3010,
	2773, 556, 757, 2572, 2099, 1230, 561, 2768, 2466, 863, 2594, 735,
	2804, 525, 1092, 2237, 403, 2926, 1026, 2303, 1143, 2186, 2150, 1179,
	2775, 554, 886, 2443, 1722, 1607, 1212, 2117, 1874, 1455, 1029, 2300,
	2110, 1219, 2935, 394, 885, 2444, 2154, 1175,
};

const uint16_t mlkem_zetas_mont[MLKEM_N / 2] = {
	2285, 2571, 2970, 1812, 1493, 1422, 287, 202, 3158, 622, 1577, 182,
	962, 2127, 1855, 1468, 573, 2004, 264, 383, 2500, 1458, 1727, 3199,
	2648, 1017, 732, 608, 1787, 411, 3124, 1758, 1223, 652, 2777, 1015,
	2036, 1491, 3047, 1785, 516, 3321, 3009, 2663, 1711, 2167, 126, 1469,
	2476, 3239, 3058, 830, 107, 1908, 3082, 2378, 2931, 961, 1821, 2604,
	448, 2264, 677, 2054, 2226, 430, 555, 843, 2078, 871, 1550, 105,
	422, 587, 177, 3094, 3038, 2869, 1574, 1653, 3083, 778, 1159, 3182,
	2552, 1483, 2727, 1119, 1739, 644, 2457, 349, 418, 329, 3173, 3254,
	817, 1097, 603, 610, 1322, 2044, 1864, 384, 2114, 3193, 1218, 1994,
	2455, 220, 2142, 1670, 2144, 1799, 2051, 794, 1819, 2475, 2459, 478,
	3221, 3021, 996, 991, 958, 1869, 1522, 1628,
};

/* a - q if a >= q, for a < 2q: the borrow of a - q becomes a mask that adds q back. */
static uint16_t
fq_csub(uint32_t a)
{
	uint32_t t = a - MLKEM_Q;

	return (uint16_t)(t + (MLKEM_Q & (0u - (t >> 31))));
}

/* floor(x / q) or one less, for any 32-bit x: x (1 / q - BARRETT_MUL / 2^32) =
 * x 1353 / (q 2^32) < 1. */
static uint32_t
barrett_quotient(uint32_t x)
{
	return (uint32_t)(((uint64_t)x * BARRETT_MUL) >> 32);
}

/* x mod q: the remainder after barrett_quotient is below 2q. */
static uint16_t
fq_reduce(uint32_t x)
{
	return fq_csub(x - barrett_quotient(x) * MLKEM_Q);
}

/* x 2^-16 mod q, as a value below 2q, for x < q 2^16 (Montgomery reduction): t makes
 * x + t q a multiple of 2^16, and (x + t q) / 2^16 < (q 2^16 + 2^16 q) / 2^16 = 2q. With
 * x = a (zeta 2^16 mod q) that is a zeta mod q, for one multiplication, one truncation, one
 * more multiplication, an addition and a shift. */
static uint32_t
fq_mont(uint32_t x)
{
	uint32_t t = (uint16_t)(x * MONT_NEG_QINV);

	return (x + t * MLKEM_Q) >> 16;
}

/* floor(n / q), exactly, without a division instruction: one more when the remainder is
 * still q or above. */
static uint32_t
div_q(uint32_t n)
{
	uint32_t quot = barrett_quotient(n);

	return quot + (((n - quot * MLKEM_Q - MLKEM_Q) >> 31) ^ 1);
}

/*
 * Algorithm 9 with lazy reduction: coefficients enter below q; each butterfly computes
 * t = zeta f[j + len] with fq_mont (below 2q, congruent to the product), then f[j] + t and
 * f[j] + 2q - t, which raises the bound by 2q per layer, so after the 7 layers every
 * coefficient is below 15q < 2^16 (and every fq_mont input below 15q q < q 2^16), and one
 * reduction per coefficient at the end brings them back to [0, q).
 *
 * Each layer is its own call with a constant len and the two halves as restrict pointers,
 * so that the compiler can run the butterflies of a block in vector registers (the same
 * operations, branch-free either way).
 */
static inline void
ntt_layer(struct mlkem_poly *f, unsigned len, unsigned *k)
{
	for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
		uint32_t zeta = mlkem_zetas_mont[(*k)++];
		uint16_t *restrict lo = f->c + start, *restrict hi = f->c + start + len;

		for (unsigned j = 0; j < len; j++) {
			uint32_t t = fq_mont(zeta * hi[j]);

			hi[j] = (uint16_t)(lo[j] + 2 * MLKEM_Q - t);
			lo[j] = (uint16_t)(lo[j] + t);
		}
	}
}

void
mlkem_poly_ntt(struct mlkem_poly *f)
{
	unsigned k = 1;

	_Static_assert(15u * MLKEM_Q <= UINT16_MAX, "the lazy NTT keeps 15q in a uint16_t");
	_Static_assert(15u * MLKEM_Q * MLKEM_Q < (uint32_t)MLKEM_Q << 16, "fq_mont's range");
	ntt_layer(f, 128, &k);
	ntt_layer(f, 64, &k);
	ntt_layer(f, 32, &k);
	ntt_layer(f, 16, &k);
	ntt_layer(f, 8, &k);
	ntt_layer(f, 4, &k);
	ntt_layer(f, 2, &k);
	for (unsigned j = 0; j < MLKEM_N; j++)
		f->c[j] = fq_reduce(f->c[j]);
}

/* Algorithm 10, laid out as the NTT above: every value stays below q (a sum gets one
 * conditional subtraction, a product fq_mont's below-2q result one more). */
static inline void
invntt_layer(struct mlkem_poly *f, unsigned len, unsigned *k)
{
	for (unsigned start = 0; start < MLKEM_N; start += 2 * len) {
		uint32_t zeta = mlkem_zetas_mont[(*k)--];
		uint16_t *restrict lo = f->c + start, *restrict hi = f->c + start + len;

		for (unsigned j = 0; j < len; j++) {
			uint32_t t = lo[j];

			lo[j] = fq_csub(t + hi[j]);
			hi[j] = fq_csub(fq_mont(zeta * (hi[j] + MLKEM_Q - t)));
		}
	}
}

void
mlkem_poly_invntt(struct mlkem_poly *f)
{
	unsigned k = 127;

	invntt_layer(f, 2, &k);
	invntt_layer(f, 4, &k);
	invntt_layer(f, 8, &k);
	invntt_layer(f, 16, &k);
	invntt_layer(f, 32, &k);
	invntt_layer(f, 64, &k);
	invntt_layer(f, 128, &k);
	for (unsigned j = 0; j < MLKEM_N; j++)
		f->c[j] = fq_csub(fq_mont((uint32_t)f->c[j] * NTT_INV_SCALE_MONT));
}

/* BaseCaseMultiply (Algorithm 12) for each pair, added to h. */
void
mlkem_poly_mul_acc(struct mlkem_poly *h, const struct mlkem_poly *f, const struct mlkem_poly *g)
{
	for (unsigned i = 0; i < MLKEM_N / 2; i++) {
		uint32_t a0 = f->c[2 * i], a1 = f->c[2 * i + 1];
		uint32_t b0 = g->c[2 * i], b1 = g->c[2 * i + 1];
		uint16_t c0 = fq_reduce(a0 * b0 + (uint32_t)fq_reduce(a1 * b1) * mlkem_gammas[i]);
		uint16_t c1 = fq_reduce(a0 * b1 + a1 * b0);

		h->c[2 * i] = fq_csub((uint32_t)h->c[2 * i] + c0);
		h->c[2 * i + 1] = fq_csub((uint32_t)h->c[2 * i + 1] + c1);
	}
}

void
mlkem_poly_add(struct mlkem_poly *h, const struct mlkem_poly *f)
{
	for (unsigned i = 0; i < MLKEM_N; i++)
		h->c[i] = fq_csub((uint32_t)h->c[i] + f->c[i]);
}

void
mlkem_poly_sub(struct mlkem_poly *h, const struct mlkem_poly *f)
{
	for (unsigned i = 0; i < MLKEM_N; i++)
		h->c[i] = fq_csub((uint32_t)h->c[i] + MLKEM_Q - f->c[i]);
}

/* ByteEncode_d of d-bit values (Algorithm 5): bit j of value i is bit i d + j of the output,
 * bits taken little-endian within each byte. */
static void
encode_bits(uint8_t *out, const uint16_t v[static MLKEM_N], unsigned d)
{
	uint32_t acc = 0;
	unsigned bits = 0, i;

	for (i = 0; i < MLKEM_N; i++) {
		acc |= (uint32_t)v[i] << bits;
		for (bits += d; bits >= 8; bits -= 8) {
			*out++ = (uint8_t)acc;
			acc >>= 8;
		}
	}
}

/* ByteDecode_d before the reduction mod m (Algorithm 6). */
static void
decode_bits(uint16_t v[static MLKEM_N], const uint8_t *in, unsigned d)
{
	uint32_t acc = 0, mask = (1u << d) - 1;
	unsigned bits = 0, i;

	for (i = 0; i < MLKEM_N; i++) {
		for (; bits < d; bits += 8)
			acc |= (uint32_t)*in++ << bits;
		v[i] = (uint16_t)(acc & mask);
		acc >>= d;
		bits -= d;
	}
}

void
mlkem_poly_encode12(uint8_t out[static MLKEM_POLY_BYTES], const struct mlkem_poly *f)
{
	encode_bits(out, f->c, 12);
}

void
mlkem_poly_decode12(struct mlkem_poly *f, const uint8_t in[static MLKEM_POLY_BYTES])
{
	decode_bits(f->c, in, 12);
	for (unsigned i = 0; i < MLKEM_N; i++)
		f->c[i] = fq_csub(f->c[i]);     /* 12-bit values are below 2q */
}

/* Compress_d(x) = round(2^d x / q) mod 2^d (section 4.2.1), then ByteEncode_d. */
void
mlkem_poly_compress(uint8_t *out, const struct mlkem_poly *f, unsigned d)
{
	uint16_t v[MLKEM_N];

	for (unsigned i = 0; i < MLKEM_N; i++)
		v[i] = (uint16_t)(div_q(((uint32_t)f->c[i] << d) + HALF_Q) & ((1u << d) - 1));
	encode_bits(out, v, d);
	sodium_memzero(v, sizeof(v));
}

/* ByteDecode_d, then Decompress_d(y) = round(q y / 2^d). */
void
mlkem_poly_decompress(struct mlkem_poly *f, const uint8_t *in, unsigned d)
{
	decode_bits(f->c, in, d);
	for (unsigned i = 0; i < MLKEM_N; i++)
		f->c[i] = (uint16_t)(((uint32_t)f->c[i] * MLKEM_Q + (1u << (d - 1))) >> d);
}

/* Rejection sampling from SHAKE128(rho || j || i), three bytes at a time. The stream is
 * squeezed a block (56 triples) at a time, which gives the same bytes as three at a time. */
void
mlkem_poly_sample_ntt(struct mlkem_poly *a, const uint8_t rho[static MLKEM_SEED_LEN],
    uint8_t j, uint8_t i)
{
	struct keccak_state xof;
	uint8_t seed[MLKEM_SEED_LEN + 2], block[SHAKE128_RATE];
	unsigned n = 0;

	memcpy(seed, rho, MLKEM_SEED_LEN);
	seed[MLKEM_SEED_LEN] = j;
	seed[MLKEM_SEED_LEN + 1] = i;
	shake128_init(&xof);
	keccak_absorb(&xof, seed, sizeof(seed));
	while (n < MLKEM_N) {
		keccak_squeeze(&xof, block, sizeof(block));
		for (unsigned p = 0; p + 3 <= sizeof(block) && n < MLKEM_N; p += 3) {
			uint16_t d1 = (uint16_t)(block[p] | (block[p + 1] & 0x0f) << 8);
			uint16_t d2 = (uint16_t)(block[p + 1] >> 4 | block[p + 2] << 4);

			if (d1 < MLKEM_Q)
				a->c[n++] = d1;
			if (d2 < MLKEM_Q && n < MLKEM_N)
				a->c[n++] = d2;
		}
	}
	keccak_wipe(&xof);
}

/* Coefficient i is x - y with x the sum of bits 4i, 4i + 1 and y that of bits 4i + 2,
 * 4i + 3 of PRF_2(s, n) = SHAKE256(s || n, 128 bytes). Eight coefficients per 32-bit
 * word: adding the word's even bits to its odd bits gives every 2-bit sum at once. */
void
mlkem_poly_sample_cbd(struct mlkem_poly *f, const uint8_t s[static MLKEM_SEED_LEN], uint8_t n)
{
	uint8_t in[MLKEM_SEED_LEN + 1], buf[MLKEM_CBD_BYTES];
	uint32_t w, sums;

	_Static_assert(MLKEM_ETA == 2, "SamplePolyCBD below reads 4 bits per coefficient");
	memcpy(in, s, MLKEM_SEED_LEN);
	in[MLKEM_SEED_LEN] = n;
	shake256(buf, sizeof(buf), in, sizeof(in));
	for (unsigned i = 0; i < MLKEM_N / 8; i++) {
		w = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 |
		    (uint32_t)buf[4 * i + 2] << 16 | (uint32_t)buf[4 * i + 3] << 24;
		sums = (w & 0x55555555u) + (w >> 1 & 0x55555555u);
		for (unsigned k = 0; k < 8; k++) {
			uint32_t x = sums >> (4 * k) & 3, y = sums >> (4 * k + 2) & 3;

			f->c[8 * i + k] = fq_csub(x + MLKEM_Q - y);
		}
	}
	sodium_memzero(in, sizeof(in));
	sodium_memzero(buf, sizeof(buf));
}
