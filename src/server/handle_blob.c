/*
 * The blob store (docs/SERVER.md, "Blobs"; requests in docs/PROTOCOL-wire.md): ciphertext
 * files beside the database, DIR/blobs/<hex of the SHA-256 of the bytes> (or under the
 * setting blob_dir, which several nodes of one PostgreSQL database share), each with a
 * record in the store (owner, size, expiry, recipients still to fetch it).
 *
 * An upload is named by the client (a 16-byte id it keeps until the upload is done) and
 * written to DIR/blobs/partial/<account>-<hex id>-<size>: a BLOB_BEGIN on any later
 * connection finds the file and answers how much of it is there, so a killed client
 * continues where it stopped. BLOB_CHUNKs append at the end of the file (each at most
 * PROTO_BLOB_CHUNK_MAX bytes: the server never holds more of a blob in memory; an upload
 * written in order over one connection is hashed as it comes). BLOB_COMMIT checks the
 * file's SHA-256 (hashing it now if it was not) and fsyncs it on libuv's thread pool, then
 * on the writer thread records it in the store (checking the owner's quota in the same transaction), renames it to its
 * hash and fsyncs the directory, and only then answers: an acknowledged blob survives a
 * SIGKILL; one killed before the answer is committed again by the client's re-run (the
 * partial file, or the record, is still there).
 */
#include "server/server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "server/log.h"

_Static_assert(STORE_BLOB_HASH_LEN == PROTO_BLOB_HASH_LEN, "blob hashes");
_Static_assert(PROTO_BLOB_HASH_LEN == crypto_hash_sha256_BYTES, "SHA-256");

#define BLOB_PARTIAL_MAX 8              /* unfinished uploads per account */
#define BLOB_HEX_LEN (2 * PROTO_BLOB_HASH_LEN)

/* The upload a connection writes to (one at a time). While hashing, h is the SHA-256 of
 * the file's first `hashed` bytes, all written through this connection in order since the
 * file was empty: the commit then needs not read the file back. Anything else (a continued
 * upload, a chunk another connection wrote in between, a shared blob_dir that another
 * node's connection may write to) stops it, and the commit hashes the file. */
struct blob_upload {
	uint8_t id[PROTO_BLOB_UPLOAD_ID_LEN];
	uint64_t size;
	int fd;
	int hashing;
	uint64_t hashed;
	crypto_hash_sha256_state h;
	char path[SERVER_PATH_MAX];
};

int
blob_init(struct server *s)
{
	if ((s->blob_buf = malloc(PROTO_BLOB_CHUNK_MAX)) == NULL)
		return SOTTO_ERR_NOMEM;
	/* blob_dir: one directory that several nodes share (docs/SERVER.md "Several nodes"). */
	if ((s->cfg.blob_dir[0] != '\0' ?
	    (size_t)snprintf(s->blob_dir, sizeof(s->blob_dir), "%s", s->cfg.blob_dir) :
	    (size_t)snprintf(s->blob_dir, sizeof(s->blob_dir), "%s/blobs", s->data_dir)) >=
	    sizeof(s->blob_dir) ||
	    (size_t)snprintf(s->partial_dir, sizeof(s->partial_dir), "%s/partial", s->blob_dir) >=
	    sizeof(s->partial_dir))
		return SOTTO_ERR_INVALID_ARG;
	if ((mkdir(s->blob_dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(s->partial_dir, 0700) != 0 && errno != EEXIST)) {
		log_error("blobs: %s: %s", s->blob_dir, strerror(errno));
		return SOTTO_ERR_IO;
	}
	return 0;
}

int
blob_path(const struct server *s, const uint8_t hash[PROTO_BLOB_HASH_LEN],
    char out[SERVER_PATH_MAX])
{
	char hex[BLOB_HEX_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), hash, PROTO_BLOB_HASH_LEN);
	return (size_t)snprintf(out, SERVER_PATH_MAX, "%s/%s", s->blob_dir, hex) >=
	    SERVER_PATH_MAX ? SOTTO_ERR_INVALID_ARG : 0;
}

void
blob_upload_close(struct peer *p)
{
	if (p->upload == NULL)
		return;
	if (p->upload->fd >= 0)
		close(p->upload->fd);
	free(p->upload);
	p->upload = NULL;
}

/*
 * The declared bytes of account's unfinished uploads other than the one named self, and
 * how many there are: their file names say it.
 */
static int
partial_usage(struct server *s, int64_t account, const char *self, uint64_t *bytes,
    uint32_t *count)
{
	char prefix[32];
	struct dirent *e;
	unsigned long long size;
	const char *dash;
	DIR *d;

	*bytes = 0;
	*count = 0;
	snprintf(prefix, sizeof(prefix), "%" PRId64 "-", account);
	if ((d = opendir(s->partial_dir)) == NULL)
		return SOTTO_ERR_IO;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
		    strcmp(e->d_name, self) == 0 || (dash = strrchr(e->d_name, '-')) == NULL)
			continue;
		size = strtoull(dash + 1, NULL, 10);
		*bytes += size;
		(*count)++;
	}
	closedir(d);
	return 0;
}

/* Whether size more bytes fit the account's quota, with its stored blobs and the other
 * unfinished uploads. */
static int
quota_check(struct server *s, int64_t account, const char *self, uint64_t size)
{
	uint64_t stored, partial, quota = (uint64_t)s->cfg.blob_quota_mib << 20;
	uint32_t n_stored, n_partial;
	int r;

	if ((r = s->store->ops->blob_usage(s->store, account, &stored, &n_stored)) != 0 ||
	    (r = partial_usage(s, account, self, &partial, &n_partial)) != 0)
		return r;
	if (n_partial >= BLOB_PARTIAL_MAX || n_stored >= s->cfg.blob_quota_count ||
	    stored + partial > quota || size > quota - stored - partial)
		return SOTTO_ERR_QUOTA;
	return 0;
}

void
handle_blob_begin(struct peer *p, const struct proto_msg *m)
{
	const struct proto_blob_begin *b = &m->u.blob_begin;
	struct server *s = p->srv;
	struct blob_upload *u = NULL;
	struct proto_msg resp;
	char hex[2 * PROTO_BLOB_UPLOAD_ID_LEN + 1], name[128];
	struct stat st;
	int r;

	blob_upload_close(p);
	if (b->size == 0 || b->size > ((uint64_t)s->cfg.blob_max_mib << 20)) {
		r = b->size == 0 ? SOTTO_ERR_INVALID_ARG : SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	sodium_bin2hex(hex, sizeof(hex), b->upload, sizeof(b->upload));
	snprintf(name, sizeof(name), "%" PRId64 "-%s-%" PRIu64, p->acct->id, hex, b->size);
	if ((r = quota_check(s, p->acct->id, name, b->size)) != 0)
		goto out;
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	u->fd = -1;
	memcpy(u->id, b->upload, sizeof(u->id));
	u->size = b->size;
	if ((size_t)snprintf(u->path, sizeof(u->path), "%s/%s", s->partial_dir, name) >=
	    sizeof(u->path)) {
		r = SOTTO_ERR_INVALID_ARG;
		goto out;
	}
	if ((u->fd = open(u->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    fstat(u->fd, &st) != 0) {
		log_warn("blobs: %s: %s", u->path, strerror(errno));
		r = SOTTO_ERR_IO;
		goto out;
	}
	if ((uint64_t)st.st_size > u->size && ftruncate(u->fd, 0) != 0) {
		r = SOTTO_ERR_IO;
		goto out;
	}
	u->hashing = s->cfg.blob_dir[0] == '\0' &&
	    (st.st_size == 0 || (uint64_t)st.st_size > u->size);
	crypto_hash_sha256_init(&u->h);
	p->upload = u;
	u = NULL;
	proto_response(&resp, m->type, m->id, 0);
	resp.u.blob_result.value = (uint64_t)st.st_size > b->size ? 0 : (uint64_t)st.st_size;
	(void)peer_send(p, &resp);
	r = 0;
out:
	if (u != NULL) {
		if (u->fd >= 0)
			close(u->fd);
		free(u);
	}
	if (r != 0)
		peer_respond(p, m->type, m->id, r);
}

/* The connection's upload if it is the one named id, else NULL. */
static struct blob_upload *
upload_of(struct peer *p, const uint8_t id[PROTO_BLOB_UPLOAD_ID_LEN])
{
	if (p->upload == NULL || memcmp(p->upload->id, id, PROTO_BLOB_UPLOAD_ID_LEN) != 0)
		return NULL;
	return p->upload;
}

/* Bytes of the upload's file (another connection of the account may write it too). */
static int
upload_have(const struct blob_upload *u, uint64_t *have)
{
	struct stat st;

	if (fstat(u->fd, &st) != 0)
		return SOTTO_ERR_IO;
	*have = (uint64_t)st.st_size;
	return 0;
}

void
handle_blob_chunk(struct peer *p, const struct proto_msg *m)
{
	const struct proto_blob_chunk *c = &m->u.blob_chunk;
	struct blob_upload *u = upload_of(p, c->upload);
	struct proto_msg resp;
	uint64_t have = 0;
	size_t done = 0;
	ssize_t n;
	int r;

	if (u == NULL) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = upload_have(u, &have)) != 0)
		goto out;
	if (c->offset > u->size || c->len > u->size - c->offset) {
		r = SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	if (c->offset != have) {
		r = SOTTO_ERR_STATE;            /* BLOB_BEGIN says where to go on */
		goto out;
	}
	while (done < c->len) {
		n = pwrite(u->fd, c->data + done, c->len - done, (off_t)(c->offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("blobs: %s: %s", u->path, strerror(errno));
			/* What was written stays: the client asks BLOB_BEGIN where to go on. */
			r = errno == ENOSPC ? SOTTO_ERR_SERVER_FULL : SOTTO_ERR_IO;
			goto out;
		}
		done += (size_t)n;
	}
	if (u->hashing && u->hashed == c->offset) {
		crypto_hash_sha256_update(&u->h, c->data, c->len);
		u->hashed += c->len;
	} else {
		u->hashing = 0;
	}
	proto_response(&resp, m->type, m->id, 0);
	resp.u.blob_result.value = c->offset + c->len;
	(void)peer_send(p, &resp);
out:
	if (r != 0)
		peer_respond(p, m->type, m->id, r);
}

/* A BLOB_COMMIT on its way: hashed on the thread pool, then recorded by the writer. */
struct blob_commit_job {
	struct commit_item ci;          /* first */
	uv_work_t work;
	struct peer *p;
	uint32_t request_id;
	struct store_blob_rec rec;
	uint64_t quota_bytes;
	uint32_t quota_count;
	int result;                     /* of the thread pool's part */
	int hashed;                     /* sum holds the upload's SHA-256 (struct blob_upload) */
	uint8_t sum[PROTO_BLOB_HASH_LEN];
	char partial[SERVER_PATH_MAX];
	char final[SERVER_PATH_MAX];
	char dir[SERVER_PATH_MAX];
};

/* fsync of a directory (after a rename in it). */
static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return SOTTO_ERR_IO;
	if (fsync(fd) != 0)
		r = SOTTO_ERR_IO;
	close(fd);
	return r;
}

/* Thread pool: the partial file's SHA-256 (read back, or taken as its chunks came) against
 * the one given, then fsync. */
static void
commit_hash_work(uv_work_t *w)
{
	struct blob_commit_job *j = w->data;
	crypto_hash_sha256_state h;
	uint8_t got[crypto_hash_sha256_BYTES];
	uint8_t *buf = NULL;
	uint64_t total = 0;
	struct stat st;
	ssize_t n;
	int fd, r = SOTTO_ERR_IO;

	if ((fd = open(j->partial, O_RDONLY | O_CLOEXEC)) < 0) {
		r = errno == ENOENT ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_IO;
		goto out;
	}
	if ((buf = malloc(PROTO_BLOB_CHUNK_MAX)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	if (j->hashed) {
		/* taken as the chunks came: the file must still be as long as that */
		if (fstat(fd, &st) != 0)
			goto out;
		total = (uint64_t)st.st_size;
		memcpy(got, j->sum, sizeof(got));
	} else {
		crypto_hash_sha256_init(&h);
		while ((n = read(fd, buf, PROTO_BLOB_CHUNK_MAX)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				goto out;
			crypto_hash_sha256_update(&h, buf, (unsigned long long)n);
			total += (uint64_t)n;
		}
		crypto_hash_sha256_final(&h, got);
	}
	if (total != j->rec.size) {
		r = SOTTO_ERR_STATE;            /* not all of it is there (yet) */
		goto out;
	}
	if (memcmp(got, j->rec.hash, sizeof(got)) != 0) {
		/* The bytes are not what the client meant: they are of no use to anyone. */
		(void)unlink(j->partial);
		r = SOTTO_ERR_BLOB_HASH;
		goto out;
	}
	r = fsync(fd) == 0 ? 0 : SOTTO_ERR_IO;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	j->result = r;
}

/* Writer thread: the record (with the quota), then the file under its name. A crash
 * between the two leaves the record and the partial file: the client's re-run commits
 * again, finds the record and renames. */
static int
commit_record(struct server_store *st, struct commit_item *it)
{
	struct blob_commit_job *j = (struct blob_commit_job *)(void *)it;
	int r;

	if ((r = st->ops->blob_put(st, &j->rec, j->quota_bytes, j->quota_count)) != 0)
		return r;
	if (rename(j->partial, j->final) != 0) {
		/* Another connection's commit of the same upload renamed it first. */
		if (errno == ENOENT && access(j->final, F_OK) == 0)
			return 0;
		log_error("blobs: rename %s: %s", j->partial, strerror(errno));
		return SOTTO_ERR_IO;
	}
	return fsync_dir(j->dir);
}

static void
commit_answer(struct blob_commit_job *j, int r)
{
	struct proto_msg resp;

	if (j->p->state == PEER_CLOSED)
		return;
	proto_response(&resp, PROTO_BLOB_COMMIT, j->request_id, r);
	resp.u.blob_result.value = (uint64_t)j->rec.expires;
	(void)peer_send(j->p, &resp);
}

static void
commit_recorded(struct commit_item *it)
{
	struct blob_commit_job *j = (struct blob_commit_job *)(void *)it;

	commit_answer(j, it->result);
	free(j);
}

static void
commit_hashed(uv_work_t *w, int status)
{
	struct blob_commit_job *j = w->data;
	struct peer *p = j->p;

	if (status == 0 && j->result == 0 && p->state != PEER_CLOSED &&
	    p->srv->commit != NULL) {
		peer_submit_call(p, &j->ci, commit_record, commit_recorded, j->request_id);
		peer_commit_released(p);
		return;
	}
	commit_answer(j, j->result != 0 ? j->result : SOTTO_ERR_STATE);
	free(j);
	peer_commit_released(p);
}

void
handle_blob_commit(struct peer *p, const struct proto_msg *m)
{
	const struct proto_blob_commit *c = &m->u.blob_commit;
	struct server *s = p->srv;
	struct blob_upload *u = upload_of(p, c->upload);
	struct blob_commit_job *j = NULL;
	int r;

	if (u == NULL) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	j->p = p;
	j->request_id = m->id;
	memcpy(j->rec.hash, c->hash, sizeof(j->rec.hash));
	j->rec.owner = p->acct->id;
	j->rec.size = u->size;
	j->rec.expires = (int64_t)time(NULL) + (int64_t)s->cfg.blob_expiry;
	j->rec.left = c->recipients;
	j->quota_bytes = (uint64_t)s->cfg.blob_quota_mib << 20;
	j->quota_count = s->cfg.blob_quota_count;
	snprintf(j->partial, sizeof(j->partial), "%s", u->path);
	snprintf(j->dir, sizeof(j->dir), "%s", s->blob_dir);
	if ((r = blob_path(s, c->hash, j->final)) != 0)
		goto out;
	if (u->hashing && u->hashed == u->size) {
		crypto_hash_sha256_final(&u->h, j->sum);
		j->hashed = 1;
	}
	blob_upload_close(p);
	j->work.data = j;
	p->commits++;                   /* the peer stays until commit_hashed */
	if (uv_queue_work(s->loop, &j->work, commit_hash_work, commit_hashed) != 0) {
		p->commits--;
		r = SOTTO_ERR_STATE;
		goto out;
	}
	j = NULL;
out:
	free(j);
	if (r != 0)
		peer_respond(p, m->type, m->id, r);
}

void
handle_blob_get(struct peer *p, const struct proto_msg *m)
{
	const struct proto_blob_get *g = &m->u.blob_get;
	struct server *s = p->srv;
	struct store_blob_rec rec;
	struct proto_msg resp;
	char path[SERVER_PATH_MAX];
	size_t len, done = 0;
	ssize_t n;
	int fd = -1, r;

	if ((r = s->store->ops->blob_get(s->store, g->hash, &rec)) != 0)
		goto out;
	if (rec.expires <= (int64_t)time(NULL)) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if (g->offset >= rec.size) {
		r = SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	len = rec.size - g->offset < g->length ? (size_t)(rec.size - g->offset) : g->length;
	if ((r = blob_path(s, g->hash, path)) != 0)
		goto out;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = errno == ENOENT ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_IO;
		goto out;
	}
	/* blob_buf holds the range until it is sealed. */
	while (done < len) {
		n = pread(fd, s->blob_buf + done, len - done, (off_t)(g->offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = SOTTO_ERR_IO;
			goto out;
		}
		done += (size_t)n;
	}
	proto_response(&resp, m->type, m->id, 0);
	resp.u.blob_result.value = rec.size;
	resp.u.blob_result.data = s->blob_buf;
	resp.u.blob_result.len = len;
	(void)peer_send(p, &resp);
out:
	if (fd >= 0)
		close(fd);
	if (r != 0)
		peer_respond(p, m->type, m->id, r);
}

struct blob_done_job {
	struct commit_item ci;          /* first */
	uint8_t hash[PROTO_BLOB_HASH_LEN];
	int64_t now;
};

static int
done_write(struct server_store *st, struct commit_item *it)
{
	struct blob_done_job *j = (struct blob_done_job *)(void *)it;

	return st->ops->blob_done(st, j->hash, j->now);
}

static void
done_finish(struct commit_item *it)
{
	struct peer *p = it->owner;

	if (p->state != PEER_CLOSED)
		peer_respond(p, PROTO_BLOB_DONE, (uint32_t)it->tag, it->result);
	free(it);
}

void
handle_blob_done(struct peer *p, const struct proto_msg *m)
{
	struct blob_done_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		peer_respond(p, m->type, m->id, SOTTO_ERR_NOMEM);
		return;
	}
	memcpy(j->hash, m->u.blob_done.hash, sizeof(j->hash));
	j->now = (int64_t)time(NULL);
	peer_submit_call(p, &j->ci, done_write, done_finish, m->id);
}
