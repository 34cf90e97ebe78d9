#include "mls_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/dh.h"
#include "crypto/sign.h"
#include "mls/message.h"

json_t *
mls_vec_load(const char *file)
{
	char path[1024];
	const char *dir = getenv("SOTTO_MLS_VECTORS");
	json_error_t err;
	json_t *j;

	if (dir == NULL)
		dir = "tests/data/mls";
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((j = json_load_file(path, 0, &err)) == NULL || !json_is_array(j)) {
		char msg[1400];

		snprintf(msg, sizeof(msg), "cannot load %s: %s", path, j ? "not an array" : err.text);
		check_fail(__FILE__, __LINE__, msg);
		json_decref(j);
		return NULL;
	}
	return j;
}

static void
field_fail(const json_t *obj, const char *key, const char *why)
{
	char msg[256];
	(void)obj;

	snprintf(msg, sizeof(msg), "field %s: %s", key, why);
	check_fail(__FILE__, __LINE__, msg);
}

uint8_t *
mls_vec_hex(const json_t *obj, const char *key, size_t *len)
{
	const char *hex = json_string_value(json_object_get(obj, key));
	size_t n;
	uint8_t *out;
	long got;

	*len = 0;
	if (hex == NULL) {
		field_fail(obj, key, "missing");
		return NULL;
	}
	n = strlen(hex) / 2;
	if ((out = malloc(n ? n : 1)) == NULL)
		return NULL;
	if ((got = check_unhex(hex, out, n)) < 0) {
		field_fail(obj, key, "bad hex");
		free(out);
		return NULL;
	}
	*len = (size_t)got;
	return out;
}

int
mls_vec_hex_fixed(const json_t *obj, const char *key, uint8_t *out, size_t len)
{
	size_t n;
	uint8_t *p = mls_vec_hex(obj, key, &n);
	int r = -1;

	if (p == NULL)
		return -1;
	if (n == len) {
		memcpy(out, p, len);
		r = 0;
	} else
		field_fail(obj, key, "wrong length");
	free(p);
	return r;
}

int
mls_vec_eq(const json_t *obj, const char *key, const uint8_t *got, size_t got_len)
{
	size_t n;
	uint8_t *want = mls_vec_hex(obj, key, &n);
	int ok;

	if (want == NULL)
		return 0;
	ok = n == got_len && memcmp(want, got, n) == 0;
	if (!ok)
		field_fail(obj, key, "differs from the vector");
	free(want);
	return ok;
}

uint64_t
mls_vec_uint(const json_t *obj, const char *key, int *ok)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		field_fail(obj, key, "missing or not an unsigned integer");
		*ok = 0;
		return 0;
	}
	return (uint64_t)json_integer_value(v);
}

void
mls_vec_run(const char *file, size_t expected, int (*entry)(const json_t *e, size_t i))
{
	char name[256];
	json_t *j, *e;
	size_t i, passed = 0, total = 0;

	snprintf(name, sizeof(name), "%s", file);
	check_begin(name);
	if ((j = mls_vec_load(file)) != NULL) {
		total = json_array_size(j);
		json_array_foreach(j, i, e) {
			if (entry(e, i))
				passed++;
			else
				printf("# %s: entry %zu failed\n", file, i);
		}
		json_decref(j);
	}
	check_count(file, passed, total, expected);
}

uint8_t *
mls_vec_file_hex(const char *file, size_t i, const char *key, size_t *len)
{
	json_t *j = mls_vec_load(file);
	uint8_t *p = NULL;

	*len = 0;
	if (j != NULL)
		p = mls_vec_hex(json_array_get(j, i), key, len);
	json_decref(j);
	return p;
}

int
mls_vec_message(struct mls_message *m, const uint8_t *p, size_t n, uint16_t wire_format)
{
	struct cur c;

	cur_init(&c, p, n);
	mls_message_read(&c, m);
	return cur_finish(&c) == 0 && m->wire_format == wire_format;
}

int
mls_vec_passive_load(struct mls_vec_passive *v, const json_t *e)
{
	const json_t *ext = json_object_get(e, "external_psks"), *x;
	uint8_t seed[32], pub[32];
	size_t i;
	int ok;

	memset(v, 0, sizeof(*v));
	v->kp = calloc(1, sizeof(*v->kp));
	v->w = calloc(1, sizeof(*v->w));
	v->kp_bytes = mls_vec_hex(e, "key_package", &v->kp_len);
	v->w_bytes = mls_vec_hex(e, "welcome", &v->w_len);
	ok = v->kp != NULL && v->w != NULL && v->kp_bytes != NULL && v->w_bytes != NULL &&
	    mls_vec_hex_fixed(e, "init_priv", v->init_sec, 32) == 0 &&
	    mls_vec_hex_fixed(e, "encryption_priv", v->enc_sec, 32) == 0 &&
	    mls_vec_hex_fixed(e, "signature_priv", seed, 32) == 0;
	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	VCHECK(ok, json_array_size(ext) <= MLS_VEC_PSKS_MAX);
	if (!json_is_null(json_object_get(e, "ratchet_tree")))
		ok &= (v->tree = mls_vec_hex(e, "ratchet_tree", &v->tree_len)) != NULL;
	if (!ok)
		goto out;
	VCHECK(ok, mls_vec_message(v->kp, v->kp_bytes, v->kp_len, MLS_WIRE_KEY_PACKAGE));
	VCHECK(ok, mls_vec_message(v->w, v->w_bytes, v->w_len, MLS_WIRE_WELCOME));
	if (!ok)
		goto out;
	/* Our three private keys are our KeyPackage's. */
	VCHECK(ok, dh_public(pub, v->init_sec) == 0 && memcmp(pub, v->kp->key_package.init_key, 32) == 0);
	VCHECK(ok, dh_public(pub, v->enc_sec) == 0 &&
	    memcmp(pub, v->kp->key_package.leaf.encryption_key, 32) == 0);
	VCHECK(ok, sign_seed_keypair(pub, v->sig_sec, seed) == 0 &&
	    memcmp(pub, v->kp->key_package.leaf.signature_key, 32) == 0);
	json_array_foreach(ext, i, x) {
		v->psks[i].type = MLS_PSK_EXTERNAL;
		v->psk_bufs[2 * i] = mls_vec_hex(x, "psk_id", &v->psks[i].id_len);
		v->psk_bufs[2 * i + 1] = mls_vec_hex(x, "psk", &v->psks[i].psk_len);
		v->psks[i].id = v->psk_bufs[2 * i];
		v->psks[i].psk = v->psk_bufs[2 * i + 1];
		ok &= v->psks[i].id != NULL && v->psks[i].psk != NULL;
	}
	v->in.key_package = &v->kp->key_package;
	v->in.init_sec = v->init_sec;
	v->in.ratchet_tree = v->tree;
	v->in.ratchet_tree_len = v->tree_len;
	v->in.psks = v->psks;
	v->in.n_psks = json_array_size(ext);
out:
	sodium_memzero(seed, sizeof(seed));
	return ok;
}

void
mls_vec_passive_free(struct mls_vec_passive *v)
{
	size_t i;

	for (i = 0; i < 2 * MLS_VEC_PSKS_MAX; i++)
		free(v->psk_bufs[i]);
	free(v->tree);
	free(v->kp_bytes);
	free(v->w_bytes);
	free(v->kp);
	free(v->w);
	sodium_memzero(v, sizeof(*v));
}
