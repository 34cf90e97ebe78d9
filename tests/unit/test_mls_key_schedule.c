/*
 * The key schedule (src/mls/key_schedule.c, group_context.c, psk.c) on key-schedule.json:
 * five chained epochs, each GroupContext encoded and parsed back, every secret of the
 * epoch, the external public key and the exporter; a joiner starting from joiner_secret
 * agrees. psk_secret.json: the psk_secret over 0 to 10 external PSKs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "mls/group_context.h"
#include "mls/key_schedule.h"
#include "mls/psk.h"
#include "mls/suite.h"

static int
check_secrets(const json_t *ep, const struct mls_epoch_secrets *s)
{
	static const struct { const char *key; size_t off; } fields[] = {
#define F(name) { #name, offsetof(struct mls_epoch_secrets, name) }
		F(joiner_secret), F(welcome_secret), F(sender_data_secret), F(encryption_secret),
		F(exporter_secret), F(external_secret), F(confirmation_key), F(membership_key),
		F(resumption_psk), F(epoch_authenticator), F(init_secret),
#undef F
	};
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		ok &= mls_vec_eq(ep, fields[i].key, (const uint8_t *)s + fields[i].off, MLS_HASH_LEN);
	return ok;
}

static int
check_exporter(const json_t *x, const uint8_t exporter_secret[static MLS_HASH_LEN])
{
	size_t clen;
	/* The label is a text string (which happens to look like hex) and is used as its
	 * bytes; the context is hex. */
	const char *label = json_string_value(json_object_get(x, "label"));
	uint8_t *context = mls_vec_hex(x, "context", &clen);
	uint8_t out[255];
	int ok = label != NULL && context != NULL;
	uint64_t len = mls_vec_uint(x, "length", &ok);

	VCHECK(ok, ok && len <= sizeof(out) && mls_exporter(out, len, exporter_secret,
	    (const uint8_t *)label, strlen(label), context, clen) == 0);
	ok = ok && mls_vec_eq(x, "secret", out, len);
	free(context);
	return ok;
}

static int
epoch_step(const json_t *ep, uint64_t epoch, const uint8_t *group_id, size_t group_id_len,
    uint8_t init_secret[static MLS_HASH_LEN])
{
	uint8_t tree_hash[MLS_HASH_LEN], commit[MLS_HASH_LEN], psk[MLS_HASH_LEN];
	uint8_t pub[MLS_KEM_PUBLIC_LEN], sec[MLS_KEM_SECRET_LEN], gc_mem[512];
	size_t cth_len;
	uint8_t *cth = mls_vec_hex(ep, "confirmed_transcript_hash", &cth_len);
	struct mls_group_context gc = { MLS_PROTOCOL_VERSION_MLS10, MLS_CIPHER_SUITE, group_id,
		group_id_len, epoch, tree_hash, sizeof(tree_hash), cth, cth_len, NULL, 0 };
	struct mls_group_context back;
	struct mls_epoch_secrets s, j;
	struct buf b;
	struct cur c;
	int ok = cth != NULL && mls_vec_hex_fixed(ep, "tree_hash", tree_hash, sizeof(tree_hash)) == 0 &&
	    mls_vec_hex_fixed(ep, "commit_secret", commit, sizeof(commit)) == 0 &&
	    mls_vec_hex_fixed(ep, "psk_secret", psk, sizeof(psk)) == 0;

	if (!ok) {
		free(cth);
		return 0;
	}
	buf_init_fixed(&b, gc_mem, sizeof(gc_mem));
	mls_group_context_write(&b, &gc);
	VCHECK(ok, buf_status(&b) == 0);
	ok &= mls_vec_eq(ep, "group_context", b.p, b.len);
	cur_init(&c, b.p, b.len);
	mls_group_context_read(&c, &back);
	VCHECK(ok, cur_finish(&c) == 0);
	VCHECK(ok, back.epoch == epoch && back.group_id_len == group_id_len &&
	    back.confirmed_transcript_hash_len == cth_len && back.extensions_len == 0);

	VCHECK(ok, mls_key_schedule_advance(&s, init_secret, commit, psk, b.p, b.len) == 0);
	ok &= check_secrets(ep, &s);
	VCHECK(ok, mls_external_keypair(pub, sec, s.external_secret) == 0);
	ok &= mls_vec_eq(ep, "external_pub", pub, sizeof(pub));
	ok &= check_exporter(json_object_get(ep, "exporter"), s.exporter_secret);
	/* A member joining by Welcome reaches the same epoch from joiner_secret. */
	VCHECK(ok, mls_key_schedule_join(&j, s.joiner_secret, psk, b.p, b.len) == 0);
	VCHECK(ok, sodium_memcmp(&j, &s, sizeof(s)) == 0);
	memcpy(init_secret, s.init_secret, MLS_HASH_LEN);
	mls_epoch_secrets_wipe(&s);
	mls_epoch_secrets_wipe(&j);
	sodium_memzero(sec, sizeof(sec));
	free(cth);
	return ok;
}

static int
key_schedule_entry(const json_t *e, size_t idx)
{
	const json_t *epochs = json_object_get(e, "epochs"), *ep;
	uint8_t init_secret[MLS_HASH_LEN];
	size_t gid_len, i;
	uint8_t *gid = mls_vec_hex(e, "group_id", &gid_len);
	int ok = gid != NULL && mls_vec_hex_fixed(e, "initial_init_secret", init_secret,
	    sizeof(init_secret)) == 0;
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	VCHECK(ok, json_array_size(epochs) == 5);
	if (ok) {
		json_array_foreach(epochs, i, ep) {
			if (!epoch_step(ep, i, gid, gid_len, init_secret)) {
				ok = 0;
				break;   /* the chain is broken; later epochs cannot match */
			}
		}
		printf("# key-schedule.json: %zu of %zu epochs\n", i, json_array_size(epochs));
	}
	free(gid);
	return ok;
}

static int
psk_secret_entry(const json_t *e, size_t idx)
{
	const json_t *list = json_object_get(e, "psks"), *p;
	struct mls_psk psks[MLS_PSK_COUNT_MAX];
	uint8_t *bufs[3 * MLS_PSK_COUNT_MAX] = { NULL };
	uint8_t out[MLS_HASH_LEN];
	size_t n = json_array_size(list), i;
	int ok = 1;
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	VCHECK(ok, n <= MLS_PSK_COUNT_MAX);
	if (!ok)
		return 0;
	memset(psks, 0, sizeof(psks));
	json_array_foreach(list, i, p) {
		psks[i].type = MLS_PSK_EXTERNAL;
		bufs[3 * i] = mls_vec_hex(p, "psk_id", &psks[i].id_len);
		bufs[3 * i + 1] = mls_vec_hex(p, "psk", &psks[i].psk_len);
		bufs[3 * i + 2] = mls_vec_hex(p, "psk_nonce", &psks[i].nonce_len);
		psks[i].id = bufs[3 * i];
		psks[i].psk = bufs[3 * i + 1];
		psks[i].nonce = bufs[3 * i + 2];
		ok &= psks[i].id != NULL && psks[i].psk != NULL && psks[i].nonce != NULL;
	}
	VCHECK(ok, ok && mls_psk_secret(out, psks, n) == 0);
	ok = ok && mls_vec_eq(e, "psk_secret", out, sizeof(out));
	for (i = 0; i < 3 * n; i++)
		free(bufs[i]);
	return ok;
}

TEST(group_context_rejects)
{
	static const uint8_t th[MLS_HASH_LEN], gid[4] = "grp";
	static const uint8_t dup_ext[] = { 0, 5, 0, 0, 5, 1, 7 };   /* type 5 twice */
	struct mls_group_context gc = { MLS_PROTOCOL_VERSION_MLS10, MLS_CIPHER_SUITE, gid, 3, 9,
		th, sizeof(th), NULL, 0, NULL, 0 }, back;
	uint8_t mem[256];
	struct buf b;
	struct cur c;

	/* Another suite, a short tree hash, duplicated extensions, trailing bytes. */
	gc.cipher_suite = 1;
	buf_init_fixed(&b, mem, sizeof(mem));
	mls_group_context_write(&b, &gc);
	cur_init(&c, b.p, b.len);
	mls_group_context_read(&c, &back);
	CHECK_EQ_INT(cur_status(&c), SOTTO_ERR_UNSUPPORTED);
	gc.cipher_suite = MLS_CIPHER_SUITE;
	gc.tree_hash_len = 31;
	buf_init_fixed(&b, mem, sizeof(mem));
	mls_group_context_write(&b, &gc);
	cur_init(&c, b.p, b.len);
	mls_group_context_read(&c, &back);
	CHECK_EQ_INT(cur_status(&c), SOTTO_ERR_MALFORMED);
	gc.tree_hash_len = sizeof(th);
	gc.extensions = dup_ext;
	gc.extensions_len = sizeof(dup_ext);
	buf_init_fixed(&b, mem, sizeof(mem));
	mls_group_context_write(&b, &gc);
	cur_init(&c, b.p, b.len);
	mls_group_context_read(&c, &back);
	CHECK_EQ_INT(cur_status(&c), SOTTO_ERR_MALFORMED);
	gc.extensions_len = 3;        /* one well-formed extension */
	buf_init_fixed(&b, mem, sizeof(mem));
	mls_group_context_write(&b, &gc);
	buf_u8(&b, 0);
	cur_init(&c, b.p, b.len);
	mls_group_context_read(&c, &back);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRAILING);
	CHECK(back.extensions_len == 3 && back.epoch == 9);
}

TEST(psk_rejects)
{
	struct mls_psk p = { 0 };
	uint8_t out[MLS_HASH_LEN], zero[MLS_HASH_LEN] = { 0 };

	CHECK(mls_psk_secret(out, NULL, 0) == 0);
	CHECK_MEM(out, zero, sizeof(out));
	CHECK_EQ_INT(mls_psk_secret(out, &p, 1), SOTTO_ERR_INVALID_ARG);     /* type 0 */
	p.type = MLS_PSK_RESUMPTION;
	p.nonce_len = MLS_PSK_ID_MAX + 1;
	CHECK_EQ_INT(mls_psk_secret(out, &p, 1), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(mls_psk_secret(out, &p, MLS_PSK_COUNT_MAX + 1), SOTTO_ERR_TOO_LARGE);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("key-schedule.json", 1, key_schedule_entry);
	mls_vec_run("psk_secret.json", 11, psk_secret_entry);
	RUN(group_context_rejects);
	RUN(psk_rejects);
	return check_summary();
}
