/*
 * Loading the MLS and HPKE vector files in tests/data/mls/ (SOURCES.md there says where
 * each came from). Files are found relative to the repository root, where `make test` and
 * scripts/run-tests run; SOTTO_MLS_VECTORS names another folder.
 *
 * A vector test runs every entry of a file and reports it as one test line,
 *   ok - tree-math.json: 10 of 10 entries
 * or a FAIL line per wrong value and "# tree-math.json: 9 of 10 entries" at the end. An
 * entry that cannot be run (a missing field, bad hex) fails; nothing is skipped.
 */
#ifndef SOTTO_TESTS_MLS_VECTORS_H
#define SOTTO_TESTS_MLS_VECTORS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "check.h"
#include "mls/join.h"

/* Like CHECK, and clears ok (an int) so the entry counts as failed. */
#define VCHECK(ok, expr) do { if (!(expr)) { check_fail(__FILE__, __LINE__, #expr); (ok) = 0; } } while (0)

/* The parsed file (an array), or NULL after a FAIL line. */
json_t *mls_vec_load(const char *file);

/* Decodes the hex string obj[key] into a malloc'd buffer (never NULL on success, even for
 * zero bytes); NULL and a FAIL line if the field is missing or not hex. */
uint8_t *mls_vec_hex(const json_t *obj, const char *key, size_t *len);
/* Decodes obj[key] into out, which must hold exactly len bytes; 0 on success. */
int mls_vec_hex_fixed(const json_t *obj, const char *key, uint8_t *out, size_t len);
/* 1 if obj[key] is the hex of got, else 0 and a FAIL line naming the field and entry. */
int mls_vec_eq(const json_t *obj, const char *key, const uint8_t *got, size_t got_len);
/* obj[key] as an unsigned integer; 0 and *ok cleared if it is missing. */
uint64_t mls_vec_uint(const json_t *obj, const char *key, int *ok);

/* The hex field key of entry i of a vector file, decoded (malloc'd); NULL and a FAIL line
 * if it cannot be had. */
uint8_t *mls_vec_file_hex(const char *file, size_t i, const char *key, size_t *len);

struct mls_message;
/* 1 if p is exactly one MLSMessage of the given wire format, read into m. */
int mls_vec_message(struct mls_message *m, const uint8_t *p, size_t n, uint16_t wire_format);

/* A passive-client entry (passive-client-welcome.json, passive-client-handling-commit.json)
 * loaded and checked: our three private keys are our KeyPackage's. in is ready for
 * mls_join(); everything points into p. */
#define MLS_VEC_PSKS_MAX 8
struct mls_vec_passive {
	uint8_t init_sec[32], enc_sec[32], sig_sec[64];   /* SECRET */
	uint8_t *kp_bytes, *w_bytes, *tree;
	size_t kp_len, w_len, tree_len;
	uint8_t *psk_bufs[2 * MLS_VEC_PSKS_MAX];
	struct mls_psk psks[MLS_VEC_PSKS_MAX];
	struct mls_message *kp, *w;
	struct mls_join_input in;
};
/* 1 if loaded (free it with mls_vec_passive_free either way), else 0 after FAIL lines. */
int mls_vec_passive_load(struct mls_vec_passive *v, const json_t *e);
void mls_vec_passive_free(struct mls_vec_passive *v);

/* Runs entry() on every element of the file's array (or of the array obj[key] if key is
 * not NULL) and reports the count as one test; expected is how many entries the file must
 * have, so a truncated copy fails too. entry returns 1 if the entry passed. */
void mls_vec_run(const char *file, size_t expected, int (*entry)(const json_t *e, size_t i));

#endif
