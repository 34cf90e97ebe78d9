/*
 * ML-KEM-768 (src/crypto/mlkem.c) on every entry of the vector files in tests/data/mlkem/
 * (SOURCES.md there says where each came from), each file reported with its count:
 *   Wycheproof: seed -> keys, decapsulation (with invalid lengths), encapsulation (with
 *     keys whose coefficients are not reduced, and wrong lengths), the semi-expanded
 *     decapsulation key checks;
 *   NIST ACVP: KeyGen_internal(d, z), Encaps_internal(ek, m), Decaps(dk, c);
 *   C2SP CCTV: the intermediate values (from rho and sigma on: those files target the
 *     FIPS 203 draft, whose G(d) lacks the final standard's k byte), the strcmp and
 *     "unlucky" SampleNTT cases, and 780 encapsulation keys with an unreduced coefficient;
 * then the accumulated test of SOURCES.md section 4 (10,000 key generations, encapsulations
 * and decapsulations of random ciphertexts from SHAKE-128("")), and the behaviour the
 * vectors do not pin: random round trips, implicit rejection equal to J(z || c), errors
 * that zero their outputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/keccak.h"
#include "crypto/mlkem.h"
#include "crypto/mlkem_poly.h"

#define DATA "tests/data/mlkem/"
#define KV_MAX 64           /* "name = hex" lines kept from a CCTV file */
#define ACCUMULATED_SHORT 100
#define ACCUMULATED_LONG 10000
#define CCTV_MODULUS_KEYS 780
#define POLYVEC_BYTES (MLKEM_POLY_BYTES * MLKEM768_K)

static const char *
data_path(const char *file)
{
	static char path[1024];
	const char *dir = getenv("SOTTO_MLKEM_VECTORS");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : DATA, file);
	return path;
}

/* obj[key] as hex into a malloc'd buffer; NULL (and a FAIL line) if missing or not hex. */
static uint8_t *
hex_field(const json_t *obj, const char *key, size_t *len)
{
	return mls_vec_hex(obj, key, len);
}

/* 1 if obj[key] is the hex of got (upper or lower case). */
static int
hex_eq(const json_t *obj, const char *key, const uint8_t *got, size_t got_len)
{
	return mls_vec_eq(obj, key, got, got_len);
}

typedef int (*wp_entry_fn)(const json_t *group, const json_t *test);

/* Runs fn on every test of every group of a Wycheproof or ACVP file (both nest tests in
 * testGroups[].tests[]) and reports the count. */
static void
run_json(const char *file, size_t expected, wp_entry_fn fn)
{
	json_error_t err;
	json_t *j, *g, *t;
	size_t gi, ti, passed = 0, total = 0;

	check_begin(file);
	if ((j = json_load_file(data_path(file), 0, &err)) == NULL) {
		char msg[300];

		snprintf(msg, sizeof(msg), "cannot load %s: %s", data_path(file), err.text);
		check_fail(__FILE__, __LINE__, msg);
	}
	json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
		json_array_foreach(json_object_get(g, "tests"), ti, t) {
			total++;
			if (fn(g, t))
				passed++;
			else
				printf("# %s: tcId %lld failed\n", file,
				    (long long)json_integer_value(json_object_get(t, "tcId")));
		}
	}
	json_decref(j);
	check_count(file, passed, total, expected);
}

static int
is_valid(const json_t *t)
{
	return strcmp(json_string_value(json_object_get(t, "result")) ?: "", "valid") == 0;
}

/* ---- Wycheproof --------------------------------------------------------------------- */

static int
wp_keygen_seed(const json_t *g, const json_t *t)
{
	uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN];
	size_t seed_len = 0;
	uint8_t *seed = hex_field(t, "seed", &seed_len);
	int ok;
	(void)g;

	ok = seed != NULL && is_valid(t) && mlkem768_keygen_seed(ek, dk, seed, seed_len) == 0 &&
	    hex_eq(t, "ek", ek, sizeof(ek)) && hex_eq(t, "dk", dk, sizeof(dk));
	free(seed);
	return ok;
}

/* Valid: the seed's keys, then Decaps(dk, c) = K (some K are implicit rejections). Invalid
 * (a seed or a ciphertext of the wrong length): one of the two steps must refuse. */
static int
wp_decaps(const json_t *g, const json_t *t)
{
	uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], k[MLKEM768_SS_LEN];
	size_t seed_len = 0, c_len = 0;
	uint8_t *seed = hex_field(t, "seed", &seed_len), *c = hex_field(t, "c", &c_len);
	int ok = 0, r;
	(void)g;

	if (seed == NULL || c == NULL)
		goto out;
	if ((r = mlkem768_keygen_seed(ek, dk, seed, seed_len)) != 0) {
		ok = !is_valid(t) && r == SOTTO_ERR_BAD_KEY;
		goto out;
	}
	if (!hex_eq(t, "ek", ek, sizeof(ek)))
		goto out;
	r = mlkem768_decaps(k, dk, sizeof(dk), c, c_len);
	if (is_valid(t))
		ok = r == 0 && hex_eq(t, "K", k, sizeof(k));
	else
		ok = r == SOTTO_ERR_MALFORMED && sodium_is_zero(k, sizeof(k));
out:
	free(seed);
	free(c);
	return ok;
}

static int
wp_encaps(const json_t *g, const json_t *t)
{
	uint8_t c[MLKEM768_CT_LEN], k[MLKEM768_SS_LEN];
	size_t ek_len = 0, m_len = 0;
	uint8_t *ek = hex_field(t, "ek", &ek_len), *m = hex_field(t, "m", &m_len);
	int ok = 0, r;
	(void)g;

	if (ek == NULL || m == NULL || m_len != MLKEM768_RAND_LEN)
		goto out;
	r = mlkem768_encaps_internal(c, k, ek, ek_len, m);
	if (is_valid(t))
		ok = r == 0 && hex_eq(t, "c", c, sizeof(c)) && hex_eq(t, "K", k, sizeof(k));
	else
		ok = r == SOTTO_ERR_BAD_KEY && sodium_is_zero(c, sizeof(c)) &&
		    sodium_is_zero(k, sizeof(k));
out:
	free(ek);
	free(m);
	return ok;
}

static int
wp_semi_expanded(const json_t *g, const json_t *t)
{
	uint8_t k[MLKEM768_SS_LEN];
	size_t dk_len = 0, c_len = 0;
	uint8_t *dk = hex_field(t, "dk", &dk_len), *c = hex_field(t, "c", &c_len);
	int ok = 0, r;
	(void)g;

	if (dk == NULL || c == NULL)
		goto out;
	r = mlkem768_decaps(k, dk, dk_len, c, c_len);
	if (is_valid(t))
		ok = r == 0 && hex_eq(t, "K", k, sizeof(k));
	else
		ok = (r == SOTTO_ERR_BAD_KEY || r == SOTTO_ERR_MALFORMED) && sodium_is_zero(k, sizeof(k));
out:
	free(dk);
	free(c);
	return ok;
}

/* ---- NIST ACVP ---------------------------------------------------------------------- */

static int
acvp_keygen(const json_t *g, const json_t *t)
{
	uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], d[32], z[32];
	int ok;

	ok = strcmp(json_string_value(json_object_get(g, "parameterSet")) ?: "", "ML-KEM-768") == 0 &&
	    mls_vec_hex_fixed(t, "d", d, sizeof(d)) == 0 && mls_vec_hex_fixed(t, "z", z, sizeof(z)) == 0;
	if (ok) {
		mlkem768_keygen_internal(ek, dk, d, z);
		ok = hex_eq(t, "ek", ek, sizeof(ek)) && hex_eq(t, "dk", dk, sizeof(dk));
	}
	return ok;
}

/* AFT: Encaps_internal(ek, m) = (c, k), and Decaps(dk, c) = k; VAL: Decaps(dk, c) = k with
 * the group's dk ("modify ciphertext" entries take the implicit rejection). */
static int
acvp_encap_decap(const json_t *g, const json_t *t)
{
	const char *fn = json_string_value(json_object_get(g, "function")) ?: "";
	const json_t *keys = strcmp(fn, "decapsulation") == 0 ? g : t;
	uint8_t c[MLKEM768_CT_LEN], k[MLKEM768_SS_LEN], m[32], dk[MLKEM768_DK_LEN];
	uint8_t ek[MLKEM768_EK_LEN];
	int ok;

	if (strcmp(json_string_value(json_object_get(g, "parameterSet")) ?: "", "ML-KEM-768") != 0 ||
	    mls_vec_hex_fixed(keys, "dk", dk, sizeof(dk)) != 0 ||
	    mls_vec_hex_fixed(keys, "ek", ek, sizeof(ek)) != 0)
		return 0;
	if (strcmp(fn, "encapsulation") == 0) {
		ok = mls_vec_hex_fixed(t, "m", m, sizeof(m)) == 0 &&
		    mlkem768_encaps_internal(c, k, ek, sizeof(ek), m) == 0 &&
		    hex_eq(t, "c", c, sizeof(c)) && hex_eq(t, "k", k, sizeof(k));
	} else {
		ok = strcmp(fn, "decapsulation") == 0 && mls_vec_hex_fixed(t, "c", c, sizeof(c)) == 0;
	}
	/* both kinds: the ciphertext decapsulates to k */
	return ok && mlkem768_decaps(k, dk, sizeof(dk), c, sizeof(c)) == 0 &&
	    hex_eq(t, "k", k, sizeof(k));
}

/* ---- C2SP CCTV ---------------------------------------------------------------------- */

/* The "name = hex" lines of a CCTV text file, first occurrence kept ("a = b = hex" is
 * kept under both names). Lines whose value is not hex (polynomials in braces) are skipped. */
struct kv {
	char name[KV_MAX][32];
	uint8_t *val[KV_MAX];
	size_t len[KV_MAX];
	int n;
};

static void
kv_add(struct kv *kv, const char *name, const char *hex)
{
	long n;

	for (int i = 0; i < kv->n; i++)
		if (strcmp(kv->name[i], name) == 0)
			return;
	if (kv->n == KV_MAX || (kv->val[kv->n] = malloc(strlen(hex) / 2 + 1)) == NULL)
		return;
	if ((n = check_unhex(hex, kv->val[kv->n], strlen(hex) / 2)) <= 0) {
		free(kv->val[kv->n]);
		return;
	}
	snprintf(kv->name[kv->n], sizeof(kv->name[0]), "%s", name);
	kv->len[kv->n++] = (size_t)n;
}

static int
kv_load(struct kv *kv, const char *file)
{
	FILE *f = fopen(data_path(file), "r");
	char *line = NULL, *names[2], *eq;
	size_t cap = 0;
	ssize_t got;

	memset(kv, 0, sizeof(*kv));
	if (f == NULL)
		return 0;
	while ((got = getline(&line, &cap, f)) >= 0) {
		int nn = 0;
		char *v = line;

		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		while (nn < 2 && (eq = strstr(v, " = ")) != NULL) {
			*eq = '\0';
			names[nn++] = v;
			v = eq + 3;
		}
		for (int i = 0; i < nn; i++)
			kv_add(kv, names[i], v);
	}
	free(line);
	fclose(f);
	return 1;
}

/* The value of name if it is exactly len bytes, else NULL and a FAIL line. */
static const uint8_t *
kv_get(const struct kv *kv, const char *name, size_t len)
{
	char msg[128];

	for (int i = 0; i < kv->n; i++)
		if (strcmp(kv->name[i], name) == 0 && kv->len[i] == len)
			return kv->val[i];
	snprintf(msg, sizeof(msg), "no %zu-byte value \"%s\"", len, name);
	check_fail(__FILE__, __LINE__, msg);
	return NULL;
}

static void
kv_free(struct kv *kv)
{
	for (int i = 0; i < kv->n; i++)
		free(kv->val[i]);
	kv->n = 0;
}

/* Encaps(ek, m) = (c, K) and Decaps(dk, c) = K for a CCTV file that has them. */
static int
cctv_encaps_decaps(const struct kv *kv)
{
	const uint8_t *ek = kv_get(kv, "ek", MLKEM768_EK_LEN), *dk = kv_get(kv, "dk", MLKEM768_DK_LEN);
	const uint8_t *m = kv_get(kv, "m", 32), *c = kv_get(kv, "c", MLKEM768_CT_LEN);
	const uint8_t *k = kv_get(kv, "K", MLKEM768_SS_LEN);
	uint8_t c2[MLKEM768_CT_LEN], k2[MLKEM768_SS_LEN], k3[MLKEM768_SS_LEN];

	return ek && dk && m && c && k && mlkem768_encaps_internal(c2, k2, ek, MLKEM768_EK_LEN, m) == 0 &&
	    memcmp(c2, c, sizeof(c2)) == 0 && memcmp(k2, k, sizeof(k2)) == 0 &&
	    mlkem768_decaps(k3, dk, MLKEM768_DK_LEN, c, MLKEM768_CT_LEN) == 0 &&
	    memcmp(k3, k, sizeof(k3)) == 0;
}

/* The draft's G(d) = SHA3-512(d) gives rho and sigma; from there on the final standard's
 * K-PKE.KeyGen must give the file's ek and dk_PKE, then dk = dk_PKE || ek || H(ek) || z. */
TEST(cctv_intermediate)
{
	struct kv kv;
	const uint8_t *d, *rho, *sigma, *z, *h, *dk, *dk_pke, *ek;
	uint8_t g[SHA3_512_LEN], ek2[MLKEM768_EK_LEN], dk_pke2[POLYVEC_BYTES], h2[32];

	REQUIRE(kv_load(&kv, "cctv/intermediate-ML-KEM-768.txt"));
	d = kv_get(&kv, "d", 32);
	rho = kv_get(&kv, "ρ", 32);
	sigma = kv_get(&kv, "σ", 32);
	z = kv_get(&kv, "z", 32);
	h = kv_get(&kv, "H(ek)", 32);
	dk = kv_get(&kv, "dk", MLKEM768_DK_LEN);
	dk_pke = kv_get(&kv, "dkPKE", POLYVEC_BYTES);
	ek = kv_get(&kv, "ek", MLKEM768_EK_LEN);
	if (d && rho && sigma && z && h && dk && dk_pke && ek) {
		sha3_512(g, d, 32);
		CHECK_MEM(g, rho, 32);
		CHECK_MEM(g + 32, sigma, 32);
		mlkem768_pke_keygen(ek2, dk_pke2, rho, sigma);
		CHECK_MEM(ek2, ek, sizeof(ek2));
		CHECK_MEM(dk_pke2, dk_pke, sizeof(dk_pke2));
		sha3_256(h2, ek, MLKEM768_EK_LEN);
		CHECK_MEM(h2, h, 32);
		CHECK_MEM(dk, dk_pke, POLYVEC_BYTES);
		CHECK_MEM(dk + POLYVEC_BYTES, ek, MLKEM768_EK_LEN);
		CHECK_MEM(dk + POLYVEC_BYTES + MLKEM768_EK_LEN, h, 32);
		CHECK_MEM(dk + POLYVEC_BYTES + MLKEM768_EK_LEN + 32, z, 32);
	}
	CHECK(cctv_encaps_decaps(&kv));
	kv_free(&kv);
}

/* A ciphertext whose re-encryption differs from it only after a zero byte: a strcmp-style
 * comparison would accept it; the right answer is the implicit rejection. */
TEST(cctv_strcmp)
{
	struct kv kv;
	const uint8_t *dk, *c, *k;
	uint8_t k2[MLKEM768_SS_LEN];

	REQUIRE(kv_load(&kv, "cctv/strcmp-ML-KEM-768.txt"));
	dk = kv_get(&kv, "dk", MLKEM768_DK_LEN);
	c = kv_get(&kv, "c", MLKEM768_CT_LEN);
	k = kv_get(&kv, "K", MLKEM768_SS_LEN);
	CHECK(dk && c && k && mlkem768_decaps(k2, dk, MLKEM768_DK_LEN, c, MLKEM768_CT_LEN) == 0 &&
	    memcmp(k2, k, sizeof(k2)) == 0);
	kv_free(&kv);
}

/* A rho whose SampleNTT needs an unusually long SHAKE128 stream (ek and dk are the draft's
 * KeyGen, but rho sits inside ek, so Encaps and Decaps take the long path). */
TEST(cctv_unluckysample)
{
	struct kv kv;

	REQUIRE(kv_load(&kv, "cctv/unluckysample-ML-KEM-768.txt"));
	CHECK(cctv_encaps_decaps(&kv));
	kv_free(&kv);
}

/* Every key has one coefficient >= q: Encaps must refuse each. */
static void
cctv_modulus(void)
{
	const char *what = "cctv/modulus-ML-KEM-768.txt.gz";
	char cmd[1200], *line = NULL;
	size_t cap = 0, passed = 0, total = 0;
	ssize_t got;
	FILE *p;

	check_begin(what);
	snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", data_path(what));
	if ((p = popen(cmd, "r")) == NULL) {
		check_fail(__FILE__, __LINE__, "cannot run gzip");
		check_end();
		return;
	}
	while ((got = getline(&line, &cap, p)) >= 0) {
		uint8_t ek[MLKEM768_EK_LEN + 1], c[MLKEM768_CT_LEN], k[MLKEM768_SS_LEN];
		long n;

		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		if (got == 0)
			continue;
		total++;
		n = check_unhex(line, ek, sizeof(ek));
		if (n == MLKEM768_EK_LEN &&
		    mlkem768_encaps(c, k, ek, (size_t)n) == SOTTO_ERR_BAD_KEY && sodium_is_zero(k, sizeof(k)))
			passed++;
		else
			printf("# %s: key %zu accepted\n", what, total);
	}
	free(line);
	if (pclose(p) != 0)
		check_fail(__FILE__, __LINE__, "gzip failed");
	check_count(what, passed, total, CCTV_MODULUS_KEYS);
}

/* ---- accumulated -------------------------------------------------------------------- */

/*
 * SOURCES.md section 4: the random stream is SHAKE-128(""); each iteration reads d || z,
 * m and a random ciphertext from it; two SHAKE-128 states absorb the outputs, one in Go's
 * order (ek, ct, K, K'), one in CCTV's (ek, dk, ct, K, K'). Every honest ciphertext must
 * also decapsulate to its K.
 */
static void
accumulated(size_t iterations, const char *want_go, const char *want_cctv)
{
	struct keccak_state rng, go, cctv;
	uint8_t seed[MLKEM768_SEED_LEN], m[32], ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN];
	uint8_t ct[MLKEM768_CT_LEN], bad[MLKEM768_CT_LEN], k[32], k2[32], k3[32];
	uint8_t out[32], want[32];
	size_t i, decaps_ok = 0;

	shake128_init(&rng);
	shake128_init(&go);
	shake128_init(&cctv);
	for (i = 0; i < iterations; i++) {
		keccak_squeeze(&rng, seed, sizeof(seed));
		if (mlkem768_keygen_seed(ek, dk, seed, sizeof(seed)) != 0)
			break;
		keccak_squeeze(&rng, m, sizeof(m));
		if (mlkem768_encaps_internal(ct, k, ek, sizeof(ek), m) != 0)
			break;
		keccak_squeeze(&rng, bad, sizeof(bad));
		if (mlkem768_decaps(k2, dk, sizeof(dk), bad, sizeof(bad)) != 0 ||
		    mlkem768_decaps(k3, dk, sizeof(dk), ct, sizeof(ct)) != 0)
			break;
		decaps_ok += memcmp(k3, k, sizeof(k)) == 0;
		keccak_absorb(&go, ek, sizeof(ek));
		keccak_absorb(&go, ct, sizeof(ct));
		keccak_absorb(&go, k, sizeof(k));
		keccak_absorb(&go, k2, sizeof(k2));
		keccak_absorb(&cctv, ek, sizeof(ek));
		keccak_absorb(&cctv, dk, sizeof(dk));
		keccak_absorb(&cctv, ct, sizeof(ct));
		keccak_absorb(&cctv, k, sizeof(k));
		keccak_absorb(&cctv, k2, sizeof(k2));
	}
	CHECK_EQ_INT(i, iterations);
	CHECK_EQ_INT(decaps_ok, iterations);
	keccak_squeeze(&go, out, sizeof(out));
	CHECK(check_unhex(want_go, want, sizeof(want)) == 32 && memcmp(out, want, 32) == 0);
	keccak_squeeze(&cctv, out, sizeof(out));
	CHECK(check_unhex(want_cctv, want, sizeof(want)) == 32 && memcmp(out, want, 32) == 0);
}

TEST(accumulated_100)
{
	accumulated(ACCUMULATED_SHORT,
	    "1114b1b6699ed191734fa339376afa7e285c9e6acf6ff0177d346696ce564415",
	    "8d65b902f28edc683cebee2872962fd165a4d197c9e24ec74caa4470270df0b7");
}

TEST(accumulated_10000)
{
	accumulated(ACCUMULATED_LONG,
	    "8a518cc63da366322a8e7a818c7a0d63483cb3528d34a4cf42f35d5ad73f22fc",
	    "f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1");
}

/* ---- behaviour ---------------------------------------------------------------------- */

static unsigned
bitrev7(unsigned i)
{
	unsigned r = 0;

	for (unsigned b = 0; b < 7; b++)
		r |= ((i >> b) & 1) << (6 - b);
	return r;
}

static unsigned
pow_mod_q(unsigned base, unsigned e)
{
	unsigned r = 1;

	while (e-- > 0)
		r = r * base % MLKEM_Q;
	return r;
}

/* The tables are the definitions of FIPS 203 Appendix A. */
TEST(zeta_tables)
{
	for (unsigned i = 0; i < MLKEM_N / 2; i++) {
		CHECK_EQ_INT(mlkem_zetas[i], pow_mod_q(17, bitrev7(i)));
		CHECK_EQ_INT(mlkem_gammas[i], pow_mod_q(17, 2 * bitrev7(i) + 1));
		CHECK_EQ_INT(mlkem_zetas_mont[i], mlkem_zetas[i] * 65536u % MLKEM_Q);
	}
}

TEST(random_round_trips)
{
	uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], ct[MLKEM768_CT_LEN];
	uint8_t ek2[MLKEM768_EK_LEN], dk2[MLKEM768_DK_LEN];
	uint8_t k[32], k2[32], k3[32];

	for (int i = 0; i < 20; i++) {
		REQUIRE(mlkem768_keygen(ek, dk) == 0);
		REQUIRE(mlkem768_encaps(ct, k, ek, sizeof(ek)) == 0);
		REQUIRE(mlkem768_decaps(k2, dk, sizeof(dk), ct, sizeof(ct)) == 0);
		CHECK_MEM(k, k2, sizeof(k));
		/* a second encapsulation to the same key gives another secret */
		REQUIRE(mlkem768_encaps(ct, k3, ek, sizeof(ek)) == 0);
		CHECK(memcmp(k, k3, sizeof(k)) != 0);
	}
	/* two key generations differ */
	REQUIRE(mlkem768_keygen(ek2, dk2) == 0);
	CHECK(memcmp(ek, ek2, sizeof(ek)) != 0);
	CHECK(memcmp(dk, dk2, sizeof(dk)) != 0);
}

/* Changing any one of several ciphertext bytes gives J(z || c'), computed here from dk. */
TEST(implicit_rejection_is_j_of_z_and_c)
{
	static const size_t pos[] = { 0, 1, 500, 959, 960, 1087 };
	uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], ct[MLKEM768_CT_LEN];
	uint8_t k[32], k2[32], j[32];

	REQUIRE(mlkem768_keygen(ek, dk) == 0);
	REQUIRE(mlkem768_encaps(ct, k, ek, sizeof(ek)) == 0);
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		struct keccak_state s;

		ct[pos[i]] ^= 0x01;
		REQUIRE(mlkem768_decaps(k2, dk, sizeof(dk), ct, sizeof(ct)) == 0);
		shake256_init(&s);
		keccak_absorb(&s, dk + MLKEM768_DK_LEN - 32, 32);
		keccak_absorb(&s, ct, sizeof(ct));
		keccak_squeeze(&s, j, sizeof(j));
		CHECK_MEM(k2, j, sizeof(j));
		CHECK(memcmp(k2, k, sizeof(k)) != 0);
		ct[pos[i]] ^= 0x01;
	}
	REQUIRE(mlkem768_decaps(k2, dk, sizeof(dk), ct, sizeof(ct)) == 0);
	CHECK_MEM(k2, k, sizeof(k));
}

/* Section 7 checks: each refusal names its reason and leaves no secret in the output. */
TEST(input_checks)
{
	uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], ct[MLKEM768_CT_LEN + 1];
	uint8_t k[32], seed[MLKEM768_SEED_LEN + 1] = { 0 };

	REQUIRE(mlkem768_keygen(ek, dk) == 0);
	REQUIRE(mlkem768_encaps(ct, k, ek, sizeof(ek)) == 0);
	memset(k, 0xaa, sizeof(k));
	CHECK_EQ_INT(mlkem768_decaps(k, dk, sizeof(dk), ct, MLKEM768_CT_LEN - 1), SOTTO_ERR_MALFORMED);
	CHECK(sodium_is_zero(k, sizeof(k)));
	CHECK_EQ_INT(mlkem768_decaps(k, dk, sizeof(dk), ct, MLKEM768_CT_LEN + 1), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(mlkem768_decaps(k, dk, sizeof(dk) - 1, ct, MLKEM768_CT_LEN), SOTTO_ERR_BAD_KEY);
	CHECK_EQ_INT(mlkem768_decaps(k, NULL, 0, ct, MLKEM768_CT_LEN), SOTTO_ERR_BAD_KEY);
	CHECK_EQ_INT(mlkem768_decaps(k, dk, sizeof(dk), NULL, 0), SOTTO_ERR_MALFORMED);
	/* H(ek) inside dk must match: one bit of the embedded ek changed */
	dk[POLYVEC_BYTES + 5] ^= 0x10;
	memset(k, 0xaa, sizeof(k));
	CHECK_EQ_INT(mlkem768_decaps(k, dk, sizeof(dk), ct, MLKEM768_CT_LEN), SOTTO_ERR_BAD_KEY);
	CHECK(sodium_is_zero(k, sizeof(k)));
	dk[POLYVEC_BYTES + 5] ^= 0x10;
	CHECK_EQ_INT(mlkem768_decaps(k, dk, sizeof(dk), ct, MLKEM768_CT_LEN), 0);
	/* ek: lengths, and the first coefficient set to q (0xd01 little-endian in 12 bits) */
	CHECK_EQ_INT(mlkem768_encaps(ct, k, ek, sizeof(ek) - 1), SOTTO_ERR_BAD_KEY);
	CHECK_EQ_INT(mlkem768_encaps(ct, k, NULL, 0), SOTTO_ERR_BAD_KEY);
	ek[0] = 0x01;
	ek[1] = (uint8_t)((ek[1] & 0xf0) | 0x0d);
	memset(k, 0xaa, sizeof(k));
	CHECK_EQ_INT(mlkem768_encaps(ct, k, ek, sizeof(ek)), SOTTO_ERR_BAD_KEY);
	CHECK(sodium_is_zero(k, sizeof(k)));
	/* q - 1 is accepted */
	ek[0] = 0x00;
	CHECK_EQ_INT(mlkem768_encaps(ct, k, ek, sizeof(ek)), 0);
	/* the seed form takes exactly 64 bytes */
	CHECK_EQ_INT(mlkem768_keygen_seed(ek, dk, seed, sizeof(seed)), SOTTO_ERR_BAD_KEY);
	CHECK(sodium_is_zero(dk, sizeof(dk)));
	CHECK_EQ_INT(mlkem768_keygen_seed(ek, dk, seed, sizeof(seed) - 2), SOTTO_ERR_BAD_KEY);
	CHECK_EQ_INT(mlkem768_keygen_seed(ek, dk, seed, MLKEM768_SEED_LEN), 0);
}

int
main(void)
{
	RUN(zeta_tables);
	run_json("wycheproof/mlkem_768_keygen_seed_test.json", 100, wp_keygen_seed);
	run_json("wycheproof/mlkem_768_test.json", 193, wp_decaps);
	run_json("wycheproof/mlkem_768_encaps_test.json", 265, wp_encaps);
	run_json("wycheproof/mlkem_768_semi_expanded_decaps_test.json", 9, wp_semi_expanded);
	run_json("acvp/ML-KEM-keyGen-FIPS203-768.json", 25, acvp_keygen);
	run_json("acvp/ML-KEM-encapDecap-FIPS203-768.json", 35, acvp_encap_decap);
	RUN(cctv_intermediate);
	RUN(cctv_strcmp);
	RUN(cctv_unluckysample);
	cctv_modulus();
	RUN(accumulated_100);
	RUN(accumulated_10000);
	RUN(random_round_trips);
	RUN(implicit_rejection_is_j_of_z_and_c);
	RUN(input_checks);
	return check_summary();
}
