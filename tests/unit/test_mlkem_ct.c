/*
 * Constant time of ML-KEM-768, in the style of ctgrind: the secret inputs (d and z of key
 * generation, m of encapsulation, the secret parts of the decapsulation key - dk_PKE and
 * z - and the ciphertext given to decapsulation) are marked undefined with memcheck's client
 * requests, so memcheck reports every conditional jump, and every memory index, that
 * depends on them. Outputs are marked defined again (they are public or compared by the
 * test) before they are checked. A test passes under memcheck only if the operation adds no
 * error to memcheck's count.
 *
 * How it runs:
 *   under memcheck (make test-valgrind, scripts/test-valgrind): the operations with marked
 *     inputs, each checked for new memcheck errors, and memcheck's own exit status;
 *   natively, plain build (make test): the same operations for their results, then this
 *     program again under `valgrind` twice: once as above (must exit 0 with no error), and
 *     once running a deliberately secret-dependent branch, which memcheck must report -
 *     the proof that the marking would catch one;
 *   natively, ASan build: the operations for their results only (valgrind cannot run an
 *     ASan binary; the plain build runs the memcheck checks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <sodium.h>
#include <valgrind/memcheck.h>

#include "check.h"
#include "crypto/mlkem.h"

#define CHILD_ENV "SOTTO_CT_CHILD"      /* "clean" or "leak": this run is the memcheck child */
#define LEAK_EXIT 99                    /* memcheck's exit status when it found errors */
#define DK_PKE_LEN (MLKEM768_DK_LEN - MLKEM768_EK_LEN - 64)
#define DK_Z_OFF (MLKEM768_DK_LEN - 32)

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif
#ifndef ASAN_BUILD
#define ASAN_BUILD 0
#endif

#define SECRET(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#define PUBLIC(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))

static unsigned long
memcheck_errors(void)
{
	return RUNNING_ON_VALGRIND ? (unsigned long)VALGRIND_COUNT_ERRORS : 0;
}

/* A fixed key pair and encapsulation, computed with nothing marked. */
static uint8_t seed[MLKEM768_SEED_LEN], m[MLKEM768_RAND_LEN];
static uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], ct[MLKEM768_CT_LEN], k[MLKEM768_SS_LEN];

static void
fixture(void)
{
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i * 37 + 11);
	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(i * 101 + 5);
	mlkem768_keygen_internal(ek, dk, seed, seed + 32);
	if (mlkem768_encaps_internal(ct, k, ek, sizeof(ek), m) != 0)
		abort();
}

TEST(keygen_secret_d_z)
{
	uint8_t d[32], z[32], ek2[MLKEM768_EK_LEN], dk2[MLKEM768_DK_LEN];
	unsigned long before;

	memcpy(d, seed, 32);
	memcpy(z, seed + 32, 32);
	SECRET(d, sizeof(d));
	SECRET(z, sizeof(z));
	before = memcheck_errors();
	mlkem768_keygen_internal(ek2, dk2, d, z);
	CHECK_EQ_INT(memcheck_errors(), before);
	PUBLIC(ek2, sizeof(ek2));
	PUBLIC(dk2, sizeof(dk2));
	CHECK_MEM(ek2, ek, sizeof(ek));
	CHECK_MEM(dk2, dk, sizeof(dk));
}

TEST(encaps_secret_m)
{
	uint8_t m2[32], ct2[MLKEM768_CT_LEN], k2[MLKEM768_SS_LEN];
	unsigned long before;
	int r;

	memcpy(m2, m, sizeof(m2));
	SECRET(m2, sizeof(m2));
	before = memcheck_errors();
	r = mlkem768_encaps_internal(ct2, k2, ek, sizeof(ek), m2);
	CHECK_EQ_INT(memcheck_errors(), before);
	CHECK_EQ_INT(r, 0);
	PUBLIC(ct2, sizeof(ct2));
	PUBLIC(k2, sizeof(k2));
	CHECK_MEM(ct2, ct, sizeof(ct));
	CHECK_MEM(k2, k, sizeof(k));
}

/* dk_PKE and z are secret; ek and H(ek) inside dk are public (the hash check reads them). */
static void
decaps_marked(uint8_t out[static MLKEM768_SS_LEN], const uint8_t *c, unsigned long *new_errors,
    int *r)
{
	uint8_t dk2[MLKEM768_DK_LEN], ct2[MLKEM768_CT_LEN];
	unsigned long before;

	memcpy(dk2, dk, sizeof(dk2));
	memcpy(ct2, c, sizeof(ct2));
	SECRET(dk2, DK_PKE_LEN);
	SECRET(dk2 + DK_Z_OFF, 32);
	SECRET(ct2, sizeof(ct2));
	before = memcheck_errors();
	*r = mlkem768_decaps(out, dk2, sizeof(dk2), ct2, sizeof(ct2));
	*new_errors = memcheck_errors() - before;
	PUBLIC(out, MLKEM768_SS_LEN);
	sodium_memzero(dk2, sizeof(dk2));
}

TEST(decaps_secret_dk_and_ct)
{
	uint8_t k2[MLKEM768_SS_LEN];
	unsigned long errs;
	int r;

	decaps_marked(k2, ct, &errs, &r);
	CHECK_EQ_INT(errs, 0);
	CHECK_EQ_INT(r, 0);
	CHECK_MEM(k2, k, sizeof(k));
}

/* The implicit-rejection path: a changed ciphertext, the same absence of branches. */
TEST(decaps_rejection_secret_dk_and_ct)
{
	uint8_t bad[MLKEM768_CT_LEN], k2[MLKEM768_SS_LEN];
	unsigned long errs;
	int r;

	memcpy(bad, ct, sizeof(bad));
	bad[700] ^= 0x40;
	decaps_marked(k2, bad, &errs, &r);
	CHECK_EQ_INT(errs, 0);
	CHECK_EQ_INT(r, 0);
	CHECK(memcmp(k2, k, sizeof(k)) != 0);
}

/* What the detector must catch: a branch on a marked byte, as a strcmp-style or
 * early-exit comparison of the re-encryption would have. Run only in the "leak" child. */
static int __attribute__((noinline))
leaky_compare(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return 1;
	return 0;
}

static void
leak_child(void)
{
	uint8_t secret[MLKEM768_CT_LEN];

	memcpy(secret, ct, sizeof(secret));
	SECRET(secret, sizeof(secret));
	printf("leaky_compare: %d\n", leaky_compare(secret, ct, sizeof(ct)));
}

/* Runs this program under memcheck with CHILD_ENV=mode; its exit status, output in out. */
static int
run_child(const char *mode, char *out, size_t cap)
{
	char self[1024], cmd[1400];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	size_t used = 0;
	FILE *p;
	int status;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(cmd, sizeof(cmd), "%s=%s valgrind -q --tool=memcheck --error-exitcode=%d "
	    "--track-origins=yes '%s' 2>&1", CHILD_ENV, mode, LEAK_EXIT, self);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (used + 1 < cap && (n = (ssize_t)fread(out + used, 1, cap - used - 1, p)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(memcheck_finds_no_secret_dependence)
{
	static char out[1 << 16];
	int status = run_child("clean", out, sizeof(out));

	CHECK_EQ_INT(status, 0);
	CHECK(strstr(out, "ok - keygen_secret_d_z") != NULL);
	CHECK(strstr(out, "ok - encaps_secret_m") != NULL);
	CHECK(strstr(out, "ok - decaps_secret_dk_and_ct") != NULL);
	CHECK(strstr(out, "ok - decaps_rejection_secret_dk_and_ct") != NULL);
	CHECK(strstr(out, "FAIL") == NULL);
	CHECK(strstr(out, "uninitialised") == NULL);
	if (check_failed_now())
		printf("%s", out);
}

TEST(memcheck_catches_a_secret_branch)
{
	static char out[1 << 16];
	int status = run_child("leak", out, sizeof(out));

	CHECK_EQ_INT(status, LEAK_EXIT);
	CHECK(strstr(out, "Conditional jump or move depends on uninitialised value") != NULL);
	CHECK(strstr(out, "leaky_compare") != NULL);
	if (check_failed_now())
		printf("%s", out);
}

int
main(void)
{
	const char *child = getenv(CHILD_ENV);

	fixture();
	if (child != NULL && strcmp(child, "leak") == 0) {
		leak_child();
		return 0;
	}
	RUN(keygen_secret_d_z);
	RUN(encaps_secret_m);
	RUN(decaps_secret_dk_and_ct);
	RUN(decaps_rejection_secret_dk_and_ct);
	if (RUNNING_ON_VALGRIND)
		printf("# under memcheck: each test above also failed if it added a memcheck error\n");
	else if (ASAN_BUILD)
		printf("# ASan build: results only; the plain build runs the memcheck checks\n");
	else {
		RUN(memcheck_finds_no_secret_dependence);
		RUN(memcheck_catches_a_secret_branch);
	}
	return check_summary();
}
