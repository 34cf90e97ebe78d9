#include "mls_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (total != expected) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%zu entries, expected %zu", total, expected);
		check_fail(__FILE__, __LINE__, msg);
	}
	if (check_failed_now() || passed != total) {
		if (!check_failed_now())
			check_fail(__FILE__, __LINE__, "an entry failed");
		printf("# %s: %zu of %zu entries\n", file, passed, total);
		check_end();
		return;
	}
	/* The one pass line carries the count. */
	snprintf(name, sizeof(name), "%s: %zu of %zu entries", file, passed, total);
	check_begin(name);
	check_end();
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
