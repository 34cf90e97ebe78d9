/*
 * A file message's state in the client (file_transfer.h): its stored content, the list of
 * received files not fetched yet, where a fetched one was saved, and the directories the
 * transfers use; the blob requests of both directions; sotto_files_pending and
 * sotto_file_info (sotto/file.h).
 */
#include "client/file_transfer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

int
file_home_dir(struct sotto *s, const char *sub, char *out, size_t cap)
{
	struct stat st;

	if ((size_t)snprintf(out, cap, "%s/%s", s->home, sub) >= cap)
		return SOTTO_ERR_TOO_LARGE;
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return SOTTO_ERR_IO;
	if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
		return SOTTO_ERR_IO;
	return 0;
}

int
file_transfer_path(struct sotto *s, const char *name, const char *suffix, char *out,
    size_t cap)
{
	char dir[SOTTO_FILE_PATH_MAX];
	int r;

	if ((r = file_home_dir(s, FILE_TRANSFERS_DIR, dir, sizeof(dir))) != 0)
		return r;
	if ((size_t)snprintf(out, cap, "%s/%s%s", dir, name, suffix) >= cap)
		return SOTTO_ERR_TOO_LARGE;
	return 0;
}

int
file_message_load(struct sotto *s, const uint8_t id[SOTTO_ID_LEN], struct store_message *m,
    struct content *c)
{
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = store_message_get(s->st, id, m)) != 0)
		return r;
	if (m->type != STORE_MSG_FILE) {
		store_message_wipe(m);
		return SOTTO_ERR_NOT_FOUND;
	}
	if ((r = content_decode(m->body, m->body_len, c)) != 0 || c->type != CONTENT_FILE) {
		store_message_wipe(m);
		return SOTTO_ERR_CORRUPT;
	}
	return 0;
}

void
file_saved_name(char out[FILE_SAVED_NAME_LEN], const uint8_t id[SOTTO_ID_LEN])
{
	memcpy(out, FILE_SAVED_PREFIX, sizeof(FILE_SAVED_PREFIX) - 1);
	sodium_bin2hex(out + sizeof(FILE_SAVED_PREFIX) - 1,
	    FILE_SAVED_NAME_LEN - (sizeof(FILE_SAVED_PREFIX) - 1), id, SOTTO_ID_LEN);
}

int
file_limit_wait(int *waited, int timeout_ms)
{
	const struct timespec wait = { 0, FILE_LIMIT_WAIT_MS * 1000000L };

	if (*waited >= timeout_ms)
		return 0;
	(void)nanosleep(&wait, NULL);
	*waited += FILE_LIMIT_WAIT_MS;
	return 1;
}

int
file_blob_request(struct sotto *s, struct proto_msg *req, struct proto_msg *resp,
    int timeout_ms)
{
	int r, waited = 0;

	/* one refused for the rate was refused before it was handled: make it again */
	do {
		memset(resp, 0, sizeof(*resp));
		r = client_request(s, req, resp, timeout_ms);
	} while (r == SOTTO_ERR_LIMIT && file_limit_wait(&waited, timeout_ms));
	return r;
}

void
file_progress(sotto_progress_fn cb, void *ctx, enum sotto_transfer dir, const char *name,
    uint64_t done, uint64_t total)
{
	struct sotto_progress p;

	if (cb == NULL)
		return;
	p.dir = dir;
	p.name = name;
	p.done = done;
	p.total = total;
	cb(ctx, &p);
}

/* The pending list: *v (malloc'd, NULL when empty) of *n ids. */
static int
pending_load(struct sotto *s, uint8_t **v, size_t *n)
{
	size_t len = 0;
	int r;

	*v = NULL;
	*n = 0;
	r = store_setting_get(s->st, FILE_PENDING_SETTING, v, &len);
	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	if (len % SOTTO_ID_LEN != 0) {
		store_blob_free(*v, len);
		*v = NULL;
		return SOTTO_ERR_CORRUPT;
	}
	*n = len / SOTTO_ID_LEN;
	return 0;
}

static int
pending_save(struct sotto *s, const uint8_t *v, size_t n)
{
	if (n == 0) {
		int r = store_setting_delete(s->st, FILE_PENDING_SETTING);

		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	}
	return store_setting_put(s->st, FILE_PENDING_SETTING, v, n * SOTTO_ID_LEN);
}

/* The index of id in v, or n. */
static size_t
pending_find(const uint8_t *v, size_t n, const uint8_t id[SOTTO_ID_LEN])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(v + i * SOTTO_ID_LEN, id, SOTTO_ID_LEN) == 0)
			break;
	return i;
}

int
file_pending_add(struct sotto *s, const uint8_t id[SOTTO_ID_LEN])
{
	uint8_t *v = NULL, *w = NULL;
	size_t n, skip;
	int r;

	if ((r = pending_load(s, &v, &n)) != 0)
		return r;
	if (pending_find(v, n, id) < n)
		goto out;
	if ((w = malloc((n + 1) * SOTTO_ID_LEN)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	/* Full: the oldest leaves the list (it stays in the history, fetchable by id). */
	skip = n >= FILE_PENDING_MAX ? n - FILE_PENDING_MAX + 1 : 0;
	if (n > skip)
		memcpy(w, v + skip * SOTTO_ID_LEN, (n - skip) * SOTTO_ID_LEN);
	memcpy(w + (n - skip) * SOTTO_ID_LEN, id, SOTTO_ID_LEN);
	r = pending_save(s, w, n - skip + 1);
out:
	free(w);
	store_blob_free(v, n * SOTTO_ID_LEN);
	return r;
}

int
file_pending_remove(struct sotto *s, const uint8_t id[SOTTO_ID_LEN])
{
	uint8_t *v = NULL;
	size_t n, i;
	int r;

	if ((r = pending_load(s, &v, &n)) != 0)
		return r;
	if ((i = pending_find(v, n, id)) < n) {
		memmove(v + i * SOTTO_ID_LEN, v + (i + 1) * SOTTO_ID_LEN,
		    (n - i - 1) * SOTTO_ID_LEN);
		r = pending_save(s, v, n - 1);
	}
	store_blob_free(v, n * SOTTO_ID_LEN);
	return r;
}

/* 1 if message id is still stored, 0 if it is gone (expired), or an error. */
static int
message_kept(struct sotto *s, const uint8_t *id)
{
	struct store_message m;
	int r = store_message_get(s->st, id, &m);

	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	store_message_wipe(&m);
	return 1;
}

int
sotto_files_pending(struct sotto *s, uint8_t (**ids)[SOTTO_ID_LEN], size_t *n)
{
	uint8_t *v = NULL;
	size_t i, k, all;
	int r = 0, kept;

	if (s == NULL || ids == NULL || n == NULL)
		return SOTTO_ERR_INVALID_ARG;
	*ids = NULL;
	if ((r = pending_load(s, &v, &all)) != 0)
		return r;
	/* a file whose message expired (a disappearing-message timer) is no longer wanted */
	for (i = k = 0; i < all; i++) {
		if ((kept = message_kept(s, v + i * SOTTO_ID_LEN)) < 0) {
			r = kept;
			goto out;
		}
		if (kept)
			memmove(v + k++ * SOTTO_ID_LEN, v + i * SOTTO_ID_LEN, SOTTO_ID_LEN);
	}
	if (k < all && (r = pending_save(s, v, k)) != 0)
		goto out;
	*n = k;
	*ids = (uint8_t (*)[SOTTO_ID_LEN])(void *)v;
	v = NULL;
out:
	free(v);
	return r;
}

static void
copy_field(char *out, size_t cap, const uint8_t *p, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(out, p, n);
	out[n] = '\0';
}

int
sotto_file_info(struct sotto *s, const uint8_t id[SOTTO_ID_LEN], struct sotto_file *out)
{
	struct store_message m;
	struct content c;
	char name[FILE_SAVED_NAME_LEN];
	uint8_t *v = NULL;
	size_t len = 0;
	int r;

	if (s == NULL || id == NULL || out == NULL)
		return SOTTO_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	if ((r = file_message_load(s, id, &m, &c)) != 0)
		return r;
	memcpy(out->id, id, SOTTO_ID_LEN);
	memcpy(out->peer, m.peer, sizeof(out->peer));
	out->dir = m.dir == STORE_DIR_OUT ? SOTTO_OUT : SOTTO_IN;
	copy_field(out->name, sizeof(out->name), c.file_name, c.file_name_len);
	copy_field(out->type, sizeof(out->type), c.file_type, c.file_type_len);
	out->size = c.file_size;
	out->time = m.server_time != 0 ? m.server_time : m.local_time;
	store_message_wipe(&m);
	file_saved_name(name, id);
	r = store_setting_get(s->st, name, &v, &len);
	if (r == 0)
		copy_field(out->path, sizeof(out->path), v, len);
	store_blob_free(v, len);
	return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
}
