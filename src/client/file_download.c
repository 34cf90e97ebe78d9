/*
 * Fetching a received file (sotto/file.h): the blob is downloaded in ranges into
 * HOME/transfers/<message id hex>.part (ciphertext; a re-run continues from its length),
 * then decrypted into a temporary file in the destination directory, checked (chunk tags,
 * length, padding, blob hash, plaintext digest: file_crypt.c) and only then linked to its
 * name, which never replaces an existing file. Where it went is recorded in the store in
 * the transaction that takes it off the pending list.
 */
#include "client/file_transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define DOWNLOAD_NAMES_MAX 10000        /* "name (N).ext" tried before giving up */

/* Downloads into fd the rest of the blob: what fd holds (an earlier run's) stays. */
static int
download_blob(struct sotto *s, int fd, const struct file_info *fi, const char *name,
    sotto_progress_fn cb, void *ctx)
{
	struct proto_msg *req = NULL, resp;
	struct stat st;
	uint64_t off;
	size_t n;
	int r;

	if (fstat(fd, &st) != 0)
		return SOTTO_ERR_IO;
	off = (uint64_t)st.st_size;
	if (off > fi->padded) {
		if (ftruncate(fd, 0) != 0)
			return SOTTO_ERR_IO;
		off = 0;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return SOTTO_ERR_NOMEM;
	file_progress(cb, ctx, SOTTO_DOWNLOAD, name, off, fi->padded);
	r = 0;
	while (off < fi->padded) {
		n = fi->padded - off < SOTTO_FILE_CHUNK ? (size_t)(fi->padded - off) :
		    SOTTO_FILE_CHUNK;
		memset(req, 0, sizeof(*req));
		req->type = PROTO_BLOB_GET;
		memcpy(req->u.blob_get.hash, fi->hash, FILE_HASH_LEN);
		req->u.blob_get.offset = off;
		req->u.blob_get.length = (uint32_t)n;
		if ((r = file_blob_request(s, req, &resp, CLIENT_TIMEOUT_MS)) != 0)
			break;
		/* the server's blob must be the one the message describes: its size first */
		if (resp.u.blob_result.value != fi->padded) {
			r = resp.u.blob_result.value < fi->padded ? SOTTO_ERR_TRUNCATED :
			    SOTTO_ERR_TRAILING;
			break;
		}
		if (resp.u.blob_result.len != n) {
			r = SOTTO_ERR_PROTOCOL;
			break;
		}
		if (pwrite(fd, resp.u.blob_result.data, n, (off_t)off) != (ssize_t)n) {
			r = SOTTO_ERR_IO;
			break;
		}
		off += n;
		file_progress(cb, ctx, SOTTO_DOWNLOAD, name, off, fi->padded);
	}
	free(req);
	if (r == 0 && fsync(fd) != 0)
		r = SOTTO_ERR_IO;
	return r;
}

/* The name to save under: the sender's (the codec allows no '/', control bytes, "." or
 * ".."), not hidden. */
static void
download_name(const struct content *c, char out[SOTTO_FILE_NAME_MAX + 1])
{
	memcpy(out, c->file_name, c->file_name_len);
	out[c->file_name_len] = '\0';
	if (out[0] == '.')
		out[0] = '_';
}

/* Links tmp to dir/name, or "name (N).ext" for the first N free: never replaces a file. */
static int
download_place(const char *tmp, const char *dir, const char *name, char *path, size_t cap)
{
	const char *dot = strrchr(name, '.');
	size_t base = dot != NULL && dot != name ? (size_t)(dot - name) : strlen(name);
	unsigned i;
	int n;

	for (i = 0; i < DOWNLOAD_NAMES_MAX; i++) {
		if (i == 0)
			n = snprintf(path, cap, "%s/%s", dir, name);
		else
			n = snprintf(path, cap, "%s/%.*s (%u)%s", dir, (int)base, name, i,
			    name + base);
		if (n < 0 || (size_t)n >= cap)
			return SOTTO_ERR_TOO_LARGE;
		if (link(tmp, path) == 0)
			return 0;
		if (errno != EEXIST)
			return SOTTO_ERR_IO;
	}
	return SOTTO_ERR_EXISTS;
}

/* Records where file id went and takes it off the pending list, in one transaction. */
static int
download_record(struct sotto *s, const uint8_t id[SOTTO_ID_LEN], const char *path)
{
	char name[FILE_SAVED_NAME_LEN];
	int r;

	file_saved_name(name, id);
	if ((r = store_begin(s->st)) != 0)
		return r;
	if ((r = store_setting_put(s->st, name, (const uint8_t *)path, strlen(path))) != 0 ||
	    (r = file_pending_remove(s, id)) != 0 || (r = store_commit(s->st)) != 0) {
		store_rollback(s->st);
		return r;
	}
	return 0;
}

/* Tells the server this recipient has the blob: best effort (it expires anyway), so the
 * result is not the fetch's. */
static int
download_done(struct sotto *s, const uint8_t hash[FILE_HASH_LEN])
{
	struct proto_msg *req, resp;
	int r;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		return SOTTO_ERR_NOMEM;
	req->type = PROTO_BLOB_DONE;
	memcpy(req->u.blob_done.hash, hash, FILE_HASH_LEN);
	r = file_blob_request(s, req, &resp, CLIENT_TIMEOUT_MS);
	free(req);
	return r;
}

/* Decrypts the part file into a temporary file in dir and names it; path gets the name. */
static int
download_open(int part_fd, const struct file_info *fi, const char *dir, const char *name,
    char *path, size_t cap)
{
	char tmp[SOTTO_FILE_PATH_MAX];
	int fd = -1, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.sotto-file-XXXXXX", dir) >= sizeof(tmp))
		return SOTTO_ERR_TOO_LARGE;
	if ((fd = mkstemp(tmp)) < 0)
		return SOTTO_ERR_IO;
	if (lseek(part_fd, 0, SEEK_SET) != 0) {
		r = SOTTO_ERR_IO;
		goto out;
	}
	if ((r = file_decrypt(part_fd, fd, fi)) != 0)
		goto out;
	if (fsync(fd) != 0) {
		r = SOTTO_ERR_IO;
		goto out;
	}
	r = download_place(tmp, dir, name, path, cap);
out:
	close(fd);
	unlink(tmp);
	return r;
}

/* The file's key and hashes from its content; secret. */
static void
download_info(const struct content *c, struct file_info *fi)
{
	memcpy(fi->key, c->file_key, FILE_KEY_LEN);
	memcpy(fi->hash, c->file_hash, FILE_HASH_LEN);
	memcpy(fi->digest, c->file_digest, FILE_DIGEST_LEN);
	fi->size = c->file_size;
	fi->padded = file_padded_size(c->file_size);
}

int
sotto_file_fetch(struct sotto *s, const uint8_t id[SOTTO_ID_LEN], const char *dir,
    sotto_progress_fn cb, void *ctx, char *path, size_t cap)
{
	struct store_message m;
	struct content c;
	struct file_info *fi = NULL;
	struct sotto_file info;
	char part[SOTTO_FILE_PATH_MAX], hex[2 * SOTTO_ID_LEN + 1], where[SOTTO_FILE_PATH_MAX];
	char name[SOTTO_FILE_NAME_MAX + 1];
	int fd = -1, r;

	if (s == NULL || id == NULL || path == NULL || cap == 0)
		return SOTTO_ERR_INVALID_ARG;
	path[0] = '\0';
	if ((r = sotto_file_info(s, id, &info)) != 0)
		return r;
	if (info.dir != SOTTO_IN)
		return SOTTO_ERR_INVALID_ARG;
	if (info.path[0] != '\0') {
		if (strlen(info.path) >= cap)
			return SOTTO_ERR_TOO_LARGE;
		memcpy(path, info.path, strlen(info.path) + 1);
		return 0;
	}
	if (dir == NULL) {
		if ((r = file_home_dir(s, SOTTO_FILES_DIR, where, sizeof(where))) != 0)
			return r;
		dir = where;
	} else if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return SOTTO_ERR_IO;
	if ((fi = sodium_malloc(sizeof(*fi))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = file_message_load(s, id, &m, &c)) != 0)
		goto out_free;
	download_info(&c, fi);
	download_name(&c, name);
	store_message_wipe(&m);
	sodium_bin2hex(hex, sizeof(hex), id, SOTTO_ID_LEN);
	if ((r = file_transfer_path(s, hex, ".part", part, sizeof(part))) != 0)
		goto out;
	if ((fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		r = SOTTO_ERR_IO;
		goto out;
	}
	if ((r = sotto_connect(s, CLIENT_TIMEOUT_MS)) != 0 ||
	    (r = download_blob(s, fd, fi, name, cb, ctx)) != 0)
		goto check;
	if ((r = download_open(fd, fi, dir, name, path, cap)) != 0)
		goto check;
	if ((r = download_record(s, id, path)) != 0)
		goto out;
	unlink(part);
	if (download_done(s, fi->hash) != 0)
		r = 0;          /* saved: the server counts it down at expiry instead */
	goto out;
check:
	/* A blob that is not the one the message names is dropped: nothing of it is kept,
	 * and the next call downloads it again. A dropped connection keeps what came. */
	if (r == SOTTO_ERR_BLOB_HASH || r == SOTTO_ERR_FILE_DIGEST || r == SOTTO_ERR_DECRYPT ||
	    r == SOTTO_ERR_TRUNCATED || r == SOTTO_ERR_TRAILING || r == SOTTO_ERR_MALFORMED)
		unlink(part);
out:
	if (fd >= 0)
		close(fd);
out_free:
	sodium_free(fi);
	return r;
}
