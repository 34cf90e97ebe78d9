/*
 * Sending a file (sotto/file.h): encrypt once into HOME/transfers, upload in chunks that a
 * re-run continues, then send the FILE content. What a re-run needs (the upload id and the
 * file's key and hashes) is a sealed setting named after the file and its destination, so
 * the same command on the same unchanged file finds it; the ciphertext is beside it.
 *
 *   setting "fu:<hex of BLAKE2b-128(real path, destination, device, inode, size, mtime)>":
 *     u8 version 1, 16 upload id, 16 message id, 32 key, 32 blob hash, 32 digest,
 *     u64 size, u64 padded
 *
 * The message id is chosen with the upload, so a re-run after the message was queued
 * finds it queued (or sent) and does not send the file a second time.
 *   HOME/transfers/<same hex>.blob     the padded ciphertext (written as .tmp, then renamed)
 */
#include "client/file_transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "base/cursor.h"
#include "wire/msgid.h"

#define UPLOAD_VERSION 1
#define UPLOAD_PREFIX "fu:"
#define UPLOAD_TAG_LEN 16
#define UPLOAD_REC_LEN (1 + PROTO_BLOB_UPLOAD_ID_LEN + SOTTO_ID_LEN + FILE_KEY_LEN + \
    FILE_HASH_LEN + FILE_DIGEST_LEN + 8 + 8)

static int
upload_tag(const char *real, const char *dest, const struct stat *st,
    char hex[2 * UPLOAD_TAG_LEN + 1])
{
	crypto_generichash_state h;
	uint8_t tag[UPLOAD_TAG_LEN], num[8 * 6];
	uint64_t v[6];
	size_t i, k;

	v[0] = (uint64_t)st->st_dev;
	v[1] = (uint64_t)st->st_ino;
	v[2] = (uint64_t)st->st_size;
	v[3] = (uint64_t)st->st_mtim.tv_sec;
	v[4] = (uint64_t)st->st_mtim.tv_nsec;
	v[5] = (uint64_t)st->st_ctim.tv_sec;
	for (i = 0; i < 6; i++)
		for (k = 0; k < 8; k++)
			num[i * 8 + k] = (uint8_t)(v[i] >> (56 - 8 * k));
	crypto_generichash_init(&h, NULL, 0, sizeof(tag));
	crypto_generichash_update(&h, (const uint8_t *)real, strlen(real) + 1);
	crypto_generichash_update(&h, (const uint8_t *)dest, strlen(dest) + 1);
	crypto_generichash_update(&h, num, sizeof(num));
	crypto_generichash_final(&h, tag, sizeof(tag));
	sodium_bin2hex(hex, 2 * UPLOAD_TAG_LEN + 1, tag, sizeof(tag));
	return 0;
}

static void
rec_encode(uint8_t out[UPLOAD_REC_LEN], const struct file_upload *u)
{
	struct buf b;

	buf_init_fixed(&b, out, UPLOAD_REC_LEN);
	buf_u8(&b, UPLOAD_VERSION);
	buf_put(&b, u->upload, PROTO_BLOB_UPLOAD_ID_LEN);
	buf_put(&b, u->msg_id, SOTTO_ID_LEN);
	buf_put(&b, u->fi.key, FILE_KEY_LEN);
	buf_put(&b, u->fi.hash, FILE_HASH_LEN);
	buf_put(&b, u->fi.digest, FILE_DIGEST_LEN);
	buf_u64(&b, u->fi.size);
	buf_u64(&b, u->fi.padded);
}

static int
rec_decode(const uint8_t *p, size_t len, struct file_upload *u)
{
	struct cur c;

	cur_init(&c, p, len);
	if (cur_u8(&c) != UPLOAD_VERSION)
		return SOTTO_ERR_CORRUPT;
	cur_copy(&c, u->upload, PROTO_BLOB_UPLOAD_ID_LEN);
	cur_copy(&c, u->msg_id, SOTTO_ID_LEN);
	cur_copy(&c, u->fi.key, FILE_KEY_LEN);
	cur_copy(&c, u->fi.hash, FILE_HASH_LEN);
	cur_copy(&c, u->fi.digest, FILE_DIGEST_LEN);
	u->fi.size = cur_u64(&c);
	u->fi.padded = cur_u64(&c);
	if (cur_finish(&c) != 0 || u->fi.size > FILE_SIZE_MAX ||
	    u->fi.padded != file_padded_size(u->fi.size))
		return SOTTO_ERR_CORRUPT;
	return 0;
}

/* The earlier run's record and ciphertext, if both are whole: 1, else 0. */
static int
upload_find(struct sotto *s, struct file_upload *u)
{
	struct stat st;
	uint8_t *v = NULL;
	size_t len = 0;
	int r, found = 0;

	r = store_setting_get(s->st, u->setting, &v, &len);
	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	if (rec_decode(v, len, u) == 0 && stat(u->blob, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == u->fi.padded)
		found = 1;
	store_blob_free(v, len);
	return found;
}

/* Encrypts the file into u->blob (through a .tmp renamed once whole) and records it. */
static int
upload_prepare(struct sotto *s, int in_fd, struct file_upload *u)
{
	char tmp[SOTTO_FILE_PATH_MAX];
	uint8_t rec[UPLOAD_REC_LEN];
	int fd = -1, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", u->blob) >= sizeof(tmp))
		return SOTTO_ERR_TOO_LARGE;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return SOTTO_ERR_IO;
	if ((r = file_encrypt(in_fd, fd, &u->fi)) != 0)
		goto out;
	if (fsync(fd) != 0 || rename(tmp, u->blob) != 0) {
		r = SOTTO_ERR_IO;
		goto out;
	}
	randombytes_buf(u->upload, sizeof(u->upload));
	msgid_new_now(u->msg_id);
	rec_encode(rec, u);
	r = store_setting_put(s->st, u->setting, rec, sizeof(rec));
	sodium_memzero(rec, sizeof(rec));
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

/* One blob request; the server's status, or a transport error. */
static int
blob_request(struct sotto *s, struct proto_msg *req, int timeout_ms, uint64_t *value)
{
	struct proto_msg resp;
	int r;

	r = file_blob_request(s, req, &resp, timeout_ms);
	if (r == 0 && value != NULL)
		*value = resp.u.blob_result.value;
	return r;
}

/* A BLOB_BEGIN or BLOB_CHUNK: *off gets where the server now stands, reported. */
static int
upload_step(struct sotto *s, struct proto_msg *req, const struct file_upload *u,
    uint64_t *off, sotto_progress_fn cb, void *ctx)
{
	int r;

	if ((r = blob_request(s, req, CLIENT_TIMEOUT_MS, off)) != 0)
		return r;
	if (*off > u->fi.padded)
		return SOTTO_ERR_PROTOCOL;
	file_progress(cb, ctx, SOTTO_UPLOAD, u->name, *off, u->fi.padded);
	return 0;
}

/* BLOB_BEGIN, the chunks from where the server stands, BLOB_COMMIT. */
static int
upload_send(struct sotto *s, struct file_upload *u, uint16_t recipients,
    sotto_progress_fn cb, void *ctx)
{
	struct proto_msg *req = NULL;
	uint8_t *chunk = NULL;
	uint64_t off = 0;
	ssize_t got;
	size_t n;
	int fd = -1, r;

	if ((req = calloc(1, sizeof(*req))) == NULL || (chunk = malloc(SOTTO_FILE_CHUNK)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	if ((fd = open(u->blob, O_RDONLY | O_CLOEXEC)) < 0) {
		r = SOTTO_ERR_IO;
		goto out;
	}
	req->type = PROTO_BLOB_BEGIN;
	memcpy(req->u.blob_begin.upload, u->upload, PROTO_BLOB_UPLOAD_ID_LEN);
	req->u.blob_begin.size = u->fi.padded;
	if ((r = upload_step(s, req, u, &off, cb, ctx)) != 0)
		goto out;
	while (off < u->fi.padded) {
		n = u->fi.padded - off < SOTTO_FILE_CHUNK ? (size_t)(u->fi.padded - off) :
		    SOTTO_FILE_CHUNK;
		if ((got = pread(fd, chunk, n, (off_t)off)) != (ssize_t)n) {
			r = SOTTO_ERR_IO;
			goto out;
		}
		memset(req, 0, sizeof(*req));
		req->type = PROTO_BLOB_CHUNK;
		memcpy(req->u.blob_chunk.upload, u->upload, PROTO_BLOB_UPLOAD_ID_LEN);
		req->u.blob_chunk.offset = off;
		req->u.blob_chunk.data = chunk;
		req->u.blob_chunk.len = n;
		if ((r = upload_step(s, req, u, &off, cb, ctx)) != 0)
			goto out;
	}
	memset(req, 0, sizeof(*req));
	req->type = PROTO_BLOB_COMMIT;
	memcpy(req->u.blob_commit.upload, u->upload, PROTO_BLOB_UPLOAD_ID_LEN);
	memcpy(req->u.blob_commit.hash, u->fi.hash, FILE_HASH_LEN);
	req->u.blob_commit.recipients = recipients;
	/* the server may read the whole blob back and fsyncs it before it answers */
	r = blob_request(s, req, CLIENT_TIMEOUT_MS +
	    (int)(u->fi.padded / (FILE_COMMIT_MIB_PER_S << 20) * 1000), NULL);
out:
	if (fd >= 0)
		close(fd);
	free(chunk);
	free(req);
	return r;
}

/* The name the recipient is told: the last component, control bytes replaced, at most
 * SOTTO_FILE_NAME_MAX bytes, never "." or "..". */
static void
upload_name(const char *path, char out[SOTTO_FILE_NAME_MAX + 1])
{
	const char *b = strrchr(path, '/');
	size_t n, i;

	b = b != NULL ? b + 1 : path;
	n = strlen(b);
	if (n > SOTTO_FILE_NAME_MAX)
		n = SOTTO_FILE_NAME_MAX;
	memcpy(out, b, n);
	out[n] = '\0';
	for (i = 0; i < n; i++)
		if ((uint8_t)out[i] < 0x20 || out[i] == 0x7f || out[i] == '\\')
			out[i] = '_';
	if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		memcpy(out, "file", 5);
}

/* A media type from the name's extension, for the common kinds; "" otherwise. */
static const char *
upload_type(const char *name)
{
	static const struct { const char *ext, *type; } map[] = {
		{ "txt", "text/plain" }, { "pdf", "application/pdf" },
		{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
		{ "gif", "image/gif" }, { "webp", "image/webp" }, { "mp4", "video/mp4" },
		{ "mp3", "audio/mpeg" }, { "ogg", "audio/ogg" }, { "zip", "application/zip" },
	};
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot == NULL)
		return "";
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(dot + 1, map[i].ext) == 0)
			return map[i].type;
	return "";
}

int
client_file_upload(struct sotto *s, const char *path, const char *dest, uint16_t recipients,
    sotto_progress_fn cb, void *ctx, struct file_upload *u)
{
	char real[PATH_MAX], hex[2 * UPLOAD_TAG_LEN + 1];
	struct stat st;
	int fd = -1, r;

	memset(u, 0, sizeof(*u));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || realpath(path, real) == NULL) {
		r = SOTTO_ERR_IO;
		goto out;
	}
	upload_name(real, u->name);
	memcpy(u->type, upload_type(u->name), strlen(upload_type(u->name)) + 1);
	upload_tag(real, dest, &st, hex);
	snprintf(u->setting, sizeof(u->setting), "%s%s", UPLOAD_PREFIX, hex);
	if ((r = file_transfer_path(s, hex, ".blob", u->blob, sizeof(u->blob))) != 0)
		goto out;
	if ((r = upload_find(s, u)) < 0)
		goto out;
	if (r == 0 && (r = upload_prepare(s, fd, u)) != 0)
		goto out;
	if ((r = sotto_connect(s, CLIENT_TIMEOUT_MS)) != 0)
		goto out;
	r = upload_send(s, u, recipients, cb, ctx);
	if (r == SOTTO_ERR_BLOB_HASH)
		/* not the bytes recorded: start again from the file next time */
		client_file_upload_done(s, u);
out:
	if (fd >= 0)
		close(fd);
	if (r != 0)
		sodium_memzero(&u->fi, sizeof(u->fi));
	return r;
}

void
client_file_content(const struct file_upload *u, const char *caption, size_t caption_len,
    struct content *c)
{
	memset(c, 0, sizeof(*c));
	c->type = CONTENT_FILE;
	c->file_size = u->fi.size;
	c->file_hash = u->fi.hash;
	c->file_key = u->fi.key;
	c->file_digest = u->fi.digest;
	c->file_name = (const uint8_t *)u->name;
	c->file_name_len = strlen(u->name);
	c->file_type = (const uint8_t *)u->type;
	c->file_type_len = strlen(u->type);
	c->body = (const uint8_t *)caption;
	c->body_len = caption != NULL ? caption_len : 0;
}

void
client_file_upload_done(struct sotto *s, struct file_upload *u)
{
	/* a record left behind is found by no later run of another file: harmless */
	if (store_setting_delete(s->st, u->setting) != 0)
		u->setting[0] = '\0';
	unlink(u->blob);
}

/* Sends the FILE content. The upload may have used up the server's request rate: a send
 * refused for it (it stays queued) is made again every FILE_LIMIT_WAIT_MS, for up to
 * CLIENT_TIMEOUT_MS, with the same message id. */
static int
upload_announce(struct sotto *s, const char *to, struct content *c,
    const uint8_t msg_id[SOTTO_ID_LEN])
{
	int r, waited = 0;

	do
		r = client_send_content_as(s, to, c, 1, CLIENT_TIMEOUT_MS, msg_id);
	while (r == SOTTO_ERR_QUEUED && s->queued_reason == SOTTO_ERR_LIMIT &&
	    file_limit_wait(&waited, CLIENT_TIMEOUT_MS));
	return r;
}

int
sotto_send_file(struct sotto *s, const char *to, const char *path, const char *caption,
    size_t caption_len, sotto_progress_fn cb, void *ctx, uint8_t id[SOTTO_ID_LEN])
{
	struct file_upload *u = NULL;
	struct content c;
	int r;

	if (s == NULL || to == NULL || path == NULL || (caption == NULL && caption_len > 0))
		return SOTTO_ERR_INVALID_ARG;
	if (caption_len > SOTTO_TEXT_MAX)
		return SOTTO_ERR_MESSAGE_TOO_LARGE;
	if (!s->have_id || s->k->id.reg_state != STORE_REG_REGISTERED)
		return SOTTO_ERR_STATE;
	if ((u = sodium_malloc(sizeof(*u))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = client_file_upload(s, path, to, 1, cb, ctx, u)) != 0)
		goto out;
	client_file_content(u, caption, caption_len, &c);
	r = upload_announce(s, to, &c, u->msg_id);
	if (id != NULL)
		memcpy(id, c.id, SOTTO_ID_LEN);
	/* sent or in the outbox: the upload's state is no longer needed */
	if (r == 0 || r == SOTTO_ERR_QUEUED)
		client_file_upload_done(s, u);
out:
	sodium_free(u);
	return r;
}
