/*
 * sottod's blob store against a real server (docs/SERVER.md, "Blobs"): uploads in chunks
 * that continue on a new connection, downloads in ranges, the hash check, quotas, expiry
 * (by time and by the recipients' BLOB_DONE), abandoned uploads cleaned, SIGKILLs during an
 * upload and around a commit, and bad requests.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "sottod_proc.h"
#include "waitfor.h"

#define CHUNK PROTO_BLOB_CHUNK_MAX
#define SIZE (5 * CHUNK + 17)           /* not a whole number of chunks */

static struct proto_msg *
req(struct test_user *u, uint8_t type)
{
	memset(&u->req, 0, sizeof(u->req));
	u->req.type = type;
	return &u->req;
}

static int
begin(struct test_user *u, const uint8_t id[16], uint64_t size, uint64_t *off)
{
	struct proto_msg *m = req(u, PROTO_BLOB_BEGIN);
	int r;

	memcpy(m->u.blob_begin.upload, id, 16);
	m->u.blob_begin.size = size;
	if ((r = test_user_request(u, 5000)) == 0 && off != NULL)
		*off = u->resp.u.blob_result.value;
	return r;
}

static int
chunk(struct test_user *u, const uint8_t id[16], uint64_t off, const uint8_t *p, size_t n)
{
	struct proto_msg *m = req(u, PROTO_BLOB_CHUNK);

	memcpy(m->u.blob_chunk.upload, id, 16);
	m->u.blob_chunk.offset = off;
	m->u.blob_chunk.data = p;
	m->u.blob_chunk.len = n;
	return test_user_request(u, 5000);
}

/* Chunks of data from `from` up to `to`: 0 or the first failure. */
static int
send_range(struct test_user *u, const uint8_t id[16], const uint8_t *data, uint64_t from,
    uint64_t to)
{
	int r = 0;

	while (from < to && r == 0) {
		size_t n = to - from < CHUNK ? (size_t)(to - from) : CHUNK;

		r = chunk(u, id, from, data + from, n);
		from += n;
	}
	return r;
}

static int
commit(struct test_user *u, const uint8_t id[16], const uint8_t hash[32], uint16_t rcpts)
{
	struct proto_msg *m = req(u, PROTO_BLOB_COMMIT);

	memcpy(m->u.blob_commit.upload, id, 16);
	memcpy(m->u.blob_commit.hash, hash, 32);
	m->u.blob_commit.recipients = rcpts;
	return test_user_request(u, 10000);
}

/* BLOB_GET of len bytes at off into out (*got bytes, the blob's *size). */
static int
get(struct test_user *u, const uint8_t hash[32], uint64_t off, uint32_t len, uint8_t *out,
    size_t *got, uint64_t *size)
{
	struct proto_msg *m = req(u, PROTO_BLOB_GET);
	int r;

	memcpy(m->u.blob_get.hash, hash, 32);
	m->u.blob_get.offset = off;
	m->u.blob_get.length = len;
	if ((r = test_user_request(u, 5000)) != 0)
		return r;
	memcpy(out, u->resp.u.blob_result.data, u->resp.u.blob_result.len);
	*got = u->resp.u.blob_result.len;
	if (size != NULL)
		*size = u->resp.u.blob_result.value;
	return 0;
}

static int
blob_done(struct test_user *u, const uint8_t hash[32])
{
	memcpy(req(u, PROTO_BLOB_DONE)->u.blob_done.hash, hash, 32);
	return test_user_request(u, 5000);
}

/* Downloads the whole blob from `from` on into out: 0 or the failure. */
static int
get_range(struct test_user *u, const uint8_t hash[32], uint64_t from, uint64_t to, uint8_t *out)
{
	size_t got;
	int r;

	while (from < to) {
		if ((r = get(u, hash, from, CHUNK, out + from, &got, NULL)) != 0)
			return r;
		if (got == 0)
			return -1;
		from += got;
	}
	return 0;
}

static void
blob_file(const struct sottod_proc *sp, const uint8_t hash[32], char *path, size_t cap)
{
	char hex[65];

	sodium_bin2hex(hex, sizeof(hex), hash, 32);
	snprintf(path, cap, "%s/blobs/%s", sp->dir, hex);
}

static int
file_gone(void *arg)
{
	struct stat st;

	return stat((const char *)arg, &st) != 0;
}

/* Files in DIR/blobs/partial. */
static int
partials(const struct sottod_proc *sp)
{
	char cmd[300];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A %s/blobs/partial | wc -l", sp->dir);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static int
no_partials(void *arg)
{
	return partials(arg) == 0;
}

static uint8_t *
random_blob(size_t n, uint8_t hash[32])
{
	uint8_t *p = malloc(n);

	if (p != NULL) {
		randombytes_buf(p, n);
		crypto_hash_sha256(hash, p, n);
	}
	return p;
}

/*
 * An upload cut off at several places (before its first byte, inside a chunk's worth,
 * after a few whole chunks) continues on a new connection from what BLOB_BEGIN reports;
 * the download, also cut off and continued, gives back the same bytes, and the file on
 * disk is named by the hash.
 */
TEST(upload_and_download_resume_on_new_connections)
{
	static const uint64_t cuts[] = { 0, CHUNK, 3 * CHUNK + 100 };
	struct sottod_proc sp;
	struct test_user a, b;
	uint8_t id[16], hash[32], *data, *back;
	uint64_t off = 99, sent = 0, size = 0;
	char path[400];
	struct stat st;
	size_t got;

	randombytes_buf(id, sizeof(id));
	REQUIRE((data = random_blob(SIZE, hash)) != NULL);
	REQUIRE((back = calloc(1, SIZE)) != NULL);
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		CHECK_EQ_INT(begin(&a, id, SIZE, &off), 0);
		CHECK_EQ_INT(off, sent);
		CHECK_EQ_INT(send_range(&a, id, data, sent, cuts[i]), 0);
		if (cuts[i] > sent)
			sent = cuts[i];
		/* The connection drops. */
		test_user_close(&a);
		REQUIRE(test_user_connect(&a, &sp) == 0);
	}
	CHECK_EQ_INT(begin(&a, id, SIZE, &off), 0);
	CHECK_EQ_INT(off, sent);
	CHECK_EQ_INT(send_range(&a, id, data, off, SIZE), 0);
	CHECK_EQ_INT(commit(&a, id, hash, 1), 0);
	blob_file(&sp, hash, path, sizeof(path));
	CHECK(stat(path, &st) == 0 && st.st_size == SIZE);
	CHECK_EQ_INT(partials(&sp), 0);

	/* The download, cut off after two ranges. */
	CHECK_EQ_INT(get(&b, hash, 0, CHUNK, back, &got, &size), 0);
	CHECK_EQ_INT(size, SIZE);
	CHECK_EQ_INT(got, CHUNK);
	CHECK_EQ_INT(get_range(&b, hash, CHUNK, 2 * CHUNK + 5, back), 0);
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK_EQ_INT(get_range(&b, hash, 2 * CHUNK + 5, SIZE, back), 0);
	CHECK_MEM(back, data, SIZE);
	/* A range asked at the end is clipped to what there is. */
	CHECK_EQ_INT(get(&b, hash, SIZE - 3, CHUNK, back, &got, NULL), 0);
	CHECK_EQ_INT(got, 3);
	CHECK_MEM(back, data + SIZE - 3, 3);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM blobs"), 1);
	sottod_proc_cleanup(&sp);
	free(data);
	free(back);
}

/* Bytes that do not have the hash given are refused and dropped: nothing to download,
 * and the upload starts again from 0. */
TEST(wrong_hash_is_refused)
{
	struct sottod_proc sp;
	struct test_user a;
	uint8_t id[16], hash[32], bad[32], out[16], *data;
	uint64_t off = 1;
	size_t got;

	randombytes_buf(id, sizeof(id));
	REQUIRE((data = random_blob(SIZE, hash)) != NULL);
	memcpy(bad, hash, 32);
	bad[31] ^= 1;
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	CHECK_EQ_INT(begin(&a, id, SIZE, NULL), 0);
	CHECK_EQ_INT(send_range(&a, id, data, 0, SIZE), 0);
	CHECK_EQ_INT(commit(&a, id, bad, 0), SOTTO_ERR_BLOB_HASH);
	CHECK_EQ_INT(get(&a, bad, 0, 16, out, &got, NULL), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(get(&a, hash, 0, 16, out, &got, NULL), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(partials(&sp), 0);
	CHECK_EQ_INT(begin(&a, id, SIZE, &off), 0);
	CHECK_EQ_INT(off, 0);
	/* A chunk changed in transit (or on purpose) is caught the same way. */
	data[2 * CHUNK] ^= 0x80;
	CHECK_EQ_INT(send_range(&a, id, data, 0, SIZE), 0);
	CHECK_EQ_INT(commit(&a, id, hash, 0), SOTTO_ERR_BLOB_HASH);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM blobs"), 0);
	sottod_proc_cleanup(&sp);
	free(data);
}

/* One upload written by two connections of its account in turn: the commit on the first
 * cannot take the hash as its chunks came (it did not see them all), it takes it from the
 * file, and the blob is whole; a commit of the same upload without the other connection's
 * chunk in between takes the hash as its chunks came, and still refuses a wrong one. */
TEST(upload_written_by_two_connections_is_hashed_from_its_file)
{
	struct sottod_proc sp;
	struct test_user a, a2;
	uint8_t id[16], hash[32], bad[32], *data, *back;
	uint64_t off = 1;
	char path[400];
	struct stat st;

	randombytes_buf(id, sizeof(id));
	REQUIRE((data = random_blob(SIZE, hash)) != NULL);
	REQUIRE((back = calloc(1, SIZE)) != NULL);
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	a2 = a;
	a2.c = NULL;
	REQUIRE(test_user_connect(&a2, &sp) == 0);
	CHECK_EQ_INT(begin(&a, id, SIZE, &off), 0);
	CHECK_EQ_INT(off, 0);
	CHECK_EQ_INT(begin(&a2, id, SIZE, &off), 0);
	CHECK_EQ_INT(send_range(&a, id, data, 0, CHUNK), 0);
	CHECK_EQ_INT(send_range(&a2, id, data, CHUNK, 2 * CHUNK), 0);
	CHECK_EQ_INT(send_range(&a, id, data, 2 * CHUNK, SIZE), 0);
	CHECK_EQ_INT(commit(&a, id, hash, 1), 0);
	blob_file(&sp, hash, path, sizeof(path));
	CHECK(stat(path, &st) == 0 && st.st_size == SIZE);
	CHECK_EQ_INT(get_range(&a2, hash, 0, SIZE, back), 0);
	CHECK_MEM(back, data, SIZE);

	/* A second upload, all on one connection: a wrong hash is still refused. */
	randombytes_buf(id, sizeof(id));
	data[0] ^= 1;
	crypto_hash_sha256(bad, data, SIZE);
	bad[0] ^= 1;
	CHECK_EQ_INT(begin(&a2, id, SIZE, &off), 0);
	CHECK_EQ_INT(off, 0);
	CHECK_EQ_INT(send_range(&a2, id, data, 0, SIZE), 0);
	CHECK_EQ_INT(commit(&a2, id, bad, 1), SOTTO_ERR_BLOB_HASH);
	CHECK_EQ_INT(partials(&sp), 0);
	test_user_close(&a);
	test_user_close(&a2);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM blobs"), 1);
	sottod_proc_cleanup(&sp);
	free(data);
	free(back);
}

/* The same bytes uploaded twice (two uploads, or two accounts) are one blob, counted for
 * the first uploader; each commit is answered. */
TEST(same_bytes_are_stored_once)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint8_t id[2][16], hash[32], *data, *back;

	randombytes_buf(id[0], 16);
	randombytes_buf(id[1], 16);
	REQUIRE((data = random_blob(SIZE, hash)) != NULL);
	REQUIRE((back = malloc(SIZE)) != NULL);
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(begin(&a, id[i], SIZE, NULL), 0);
		CHECK_EQ_INT(send_range(&a, id[i], data, 0, SIZE), 0);
		CHECK_EQ_INT(commit(&a, id[i], hash, 0), 0);
	}
	CHECK_EQ_INT(begin(&b, id[0], SIZE, NULL), 0);
	CHECK_EQ_INT(send_range(&b, id[0], data, 0, SIZE), 0);
	CHECK_EQ_INT(commit(&b, id[0], hash, 0), 0);
	CHECK_EQ_INT(get_range(&b, hash, 0, SIZE, back), 0);
	CHECK_MEM(back, data, SIZE);
	CHECK_EQ_INT(partials(&sp), 0);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM blobs"), 1);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT owner FROM blobs"),
	    sottod_proc_db_int(&sp, "SELECT id FROM accounts WHERE name = 'alice'"));
	sottod_proc_cleanup(&sp);
	free(data);
	free(back);
}

/* Requests that do not fit the upload or the blob are refused, and the connection and
 * the upload go on. */
TEST(bad_requests_are_refused)
{
	struct sottod_proc sp;
	struct test_user a;
	uint8_t id[16], other[16], hash[32], unknown[32], out[CHUNK], *data;
	uint64_t off = 0;
	size_t got;

	randombytes_buf(id, sizeof(id));
	randombytes_buf(other, sizeof(other));
	randombytes_buf(unknown, sizeof(unknown));
	REQUIRE((data = random_blob(SIZE, hash)) != NULL);
	REQUIRE(sottod_proc_launch(&sp, "registration = open\nblob_max_mib = 1") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	/* No upload begun on this connection. */
	CHECK_EQ_INT(chunk(&a, id, 0, data, 10), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(commit(&a, id, hash, 0), SOTTO_ERR_NOT_FOUND);
	/* Sizes: none, and over blob_max_mib. */
	CHECK_EQ_INT(begin(&a, id, 0, NULL), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(begin(&a, id, (1u << 20) + 1, NULL), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(begin(&a, id, SIZE, NULL), 0);
	/* Another upload's id, an offset past the size, a chunk running past it, a gap. */
	CHECK_EQ_INT(chunk(&a, other, 0, data, 10), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(chunk(&a, id, SIZE + 1, data, 1), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(chunk(&a, id, SIZE - 5, data, 10), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(chunk(&a, id, 10, data, 10), SOTTO_ERR_STATE);
	/* A commit before all of it is there. */
	CHECK_EQ_INT(send_range(&a, id, data, 0, CHUNK), 0);
	CHECK_EQ_INT(commit(&a, id, hash, 0), SOTTO_ERR_STATE);
	/* The commit ended the connection's upload; BEGIN takes it up again. */
	CHECK_EQ_INT(begin(&a, id, SIZE, &off), 0);
	CHECK_EQ_INT(off, CHUNK);
	CHECK_EQ_INT(send_range(&a, id, data, off, SIZE), 0);
	CHECK_EQ_INT(commit(&a, id, hash, 0), 0);
	/* Downloads: an unknown hash, an offset at or past the end. */
	CHECK_EQ_INT(get(&a, unknown, 0, 16, out, &got, NULL), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(get(&a, hash, SIZE, 16, out, &got, NULL), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(get(&a, hash, UINT64_MAX, 16, out, &got, NULL), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(get(&a, hash, 0, CHUNK, out, &got, NULL), 0);
	CHECK_MEM(out, data, CHUNK);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
	free(data);
}

/* The codec refuses a chunk or a range over PROTO_BLOB_CHUNK_MAX, both ways. */
TEST(oversized_chunks_do_not_decode)
{
	struct proto_msg m, d;
	struct buf b;
	static uint8_t big[CHUNK + 1];
	uint8_t *p;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_BLOB_CHUNK;
	m.id = 7;
	m.u.blob_chunk.data = big;
	m.u.blob_chunk.len = CHUNK + 1;
	buf_init_dyn(&b, 1 << 20);
	CHECK_EQ_INT(proto_encode(&m, &b), SOTTO_ERR_INVALID_ARG);
	/* By hand: the same message with CHUNK bytes decodes; with one more it does not. */
	buf_reset(&b);
	m.u.blob_chunk.len = CHUNK;
	REQUIRE(proto_encode(&m, &b) == 0);
	CHECK_EQ_INT(proto_decode(b.p, b.len, &d), 0);
	CHECK_EQ_INT(d.u.blob_chunk.len, CHUNK);
	REQUIRE((p = malloc(b.len + 1)) != NULL);
	memcpy(p, b.p, b.len);
	p[b.len] = 0;
	/* The lv32 length sits after version, type, id, upload id and offset. */
	p[1 + 1 + 4 + 16 + 8 + 3] = 1;  /* CHUNK + 1: 0x00010001 */
	CHECK(proto_decode(p, b.len + 1, &d) != 0);
	free(p);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_BLOB_GET;
	m.id = 8;
	m.u.blob_get.length = CHUNK + 1;
	buf_reset(&b);
	CHECK_EQ_INT(proto_encode(&m, &b), SOTTO_ERR_INVALID_ARG);
	buf_free(&b);
}

/* An account's blobs are capped in bytes and in number, unfinished uploads counted. */
TEST(quota_counts_bytes_and_blobs)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint8_t id[4][16], hash[4][32], *data[4];
	int i;

	for (i = 0; i < 4; i++) {
		randombytes_buf(id[i], 16);
		REQUIRE((data[i] = random_blob(SIZE, hash[i])) != NULL);
	}
	REQUIRE(sottod_proc_launch(&sp, "registration = open\nblob_quota_mib = 1\n"
	    "blob_quota_count = 2") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	/* Bytes: a stored SIZE and an unfinished SIZE (640 KiB) fit 1 MiB; 400 KiB more
	 * do not. */
	CHECK_EQ_INT(begin(&a, id[0], SIZE, NULL), 0);
	CHECK_EQ_INT(send_range(&a, id[0], data[0], 0, SIZE), 0);
	CHECK_EQ_INT(commit(&a, id[0], hash[0], 0), 0);
	CHECK_EQ_INT(begin(&a, id[1], SIZE, NULL), 0);
	CHECK_EQ_INT(begin(&a, id[2], 400 * 1024, NULL), SOTTO_ERR_QUOTA);
	/* Another account is not affected. */
	CHECK_EQ_INT(begin(&b, id[2], 400 * 1024, NULL), 0);
	/* Count: two small blobs of alice fill blob_quota_count. */
	CHECK_EQ_INT(begin(&a, id[1], SIZE, NULL), 0);
	CHECK_EQ_INT(send_range(&a, id[1], data[1], 0, SIZE), 0);
	CHECK_EQ_INT(commit(&a, id[1], hash[1], 0), 0);
	CHECK_EQ_INT(begin(&a, id[3], 10, NULL), SOTTO_ERR_QUOTA);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
	for (i = 0; i < 4; i++)
		free(data[i]);
}

/* A blob goes at its expiry, or once its last recipient said BLOB_DONE; an upload left
 * unfinished goes after blob_partial_timeout. */
TEST(blobs_expire_and_unfinished_uploads_are_cleaned)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint8_t id[3][16], hash[3][32], out[16], *data[3];
	char path[3][400];
	size_t got;
	int i;

	for (i = 0; i < 3; i++) {
		randombytes_buf(id[i], 16);
		REQUIRE((data[i] = random_blob(SIZE, hash[i])) != NULL);
	}
	REQUIRE(sottod_proc_launch(&sp, "registration = open\nblob_expiry = 3\n"
	    "blob_partial_timeout = 2") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	for (i = 0; i < 2; i++) {
		CHECK_EQ_INT(begin(&a, id[i], SIZE, NULL), 0);
		CHECK_EQ_INT(send_range(&a, id[i], data[i], 0, SIZE), 0);
		/* blob 0: two recipients; blob 1: expiry only */
		CHECK_EQ_INT(commit(&a, id[i], hash[i], i == 0 ? 2 : 0), 0);
		blob_file(&sp, hash[i], path[i], sizeof(path[i]));
	}
	/* Unfinished: half of blob 2. */
	CHECK_EQ_INT(begin(&a, id[2], SIZE, NULL), 0);
	CHECK_EQ_INT(send_range(&a, id[2], data[2], 0, SIZE / 2), 0);
	test_user_close(&a);
	/* One of two recipients done: still there. */
	CHECK_EQ_INT(blob_done(&b, hash[0]), 0);
	CHECK_EQ_INT(get(&b, hash[0], 0, 16, out, &got, NULL), 0);
	CHECK_EQ_INT(blob_done(&b, hash[0]), 0);
	CHECK_EQ_INT(get(&b, hash[0], 0, 16, out, &got, NULL), SOTTO_ERR_NOT_FOUND);
	CHECK(wait_until(file_gone, path[0], 10000));
	CHECK(wait_until(no_partials, &sp, 10000));
	CHECK(wait_until(file_gone, path[1], 15000));
	CHECK_EQ_INT(get(&b, hash[1], 0, 16, out, &got, NULL), SOTTO_ERR_NOT_FOUND);
	/* A BLOB_DONE for what is gone is harmless. */
	CHECK_EQ_INT(blob_done(&b, hash[1]), 0);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM blobs"), 0);
	sottod_proc_cleanup(&sp);
	for (i = 0; i < 3; i++)
		free(data[i]);
}

/* What a client's re-run does after any failure: the blob if the server has it, else the
 * upload from where the server is, and the commit. */
static int
finish_upload(struct test_user *u, const uint8_t id[16], const uint8_t *data,
    const uint8_t hash[32])
{
	uint8_t out[16];
	uint64_t off = 0;
	size_t got;
	int r;

	if ((r = get(u, hash, 0, 16, out, &got, NULL)) != SOTTO_ERR_NOT_FOUND)
		return r;
	if ((r = begin(u, id, SIZE, &off)) != 0 || (r = send_range(u, id, data, off, SIZE)) != 0)
		return r;
	return commit(u, id, hash, 0);
}

/*
 * SIGKILL in the middle of an upload: the upload continues after the restart. SIGKILL right
 * after a commit went out, before or after its answer: a re-run finishes it. An answered
 * commit is never lost.
 */
TEST(sigkill_during_upload_and_around_commit)
{
	struct sottod_proc sp;
	struct test_user a;
	uint8_t id[16], hash[32], *data, *back;
	uint64_t off = 0;
	int round;

	REQUIRE((back = malloc(SIZE)) != NULL);
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	for (round = 0; round < 3; round++) {
		randombytes_buf(id, sizeof(id));
		REQUIRE((data = random_blob(SIZE, hash)) != NULL);
		CHECK_EQ_INT(begin(&a, id, SIZE, NULL), 0);
		CHECK_EQ_INT(send_range(&a, id, data, 0, 2 * CHUNK + round), 0);
		if (round > 0) {
			CHECK_EQ_INT(send_range(&a, id, data, 2 * CHUNK + round, SIZE), 0);
			memcpy(req(&a, PROTO_BLOB_COMMIT)->u.blob_commit.upload, id, 16);
			memcpy(a.req.u.blob_commit.hash, hash, 32);
			if (round == 1)         /* killed with the commit on its way */
				CHECK_EQ_INT(conn_send(a.c, &a.req), 0);
			else                    /* killed after the answer */
				CHECK_EQ_INT(test_user_request(&a, 10000), 0);
		}
		CHECK_EQ_INT(sottod_proc_stop(&sp, SIGKILL), 128 + SIGKILL);
		test_user_close(&a);
		REQUIRE(sottod_proc_start(&sp) == 0);
		REQUIRE(test_user_connect(&a, &sp) == 0);
		if (round == 0) {
			CHECK_EQ_INT(begin(&a, id, SIZE, &off), 0);
			CHECK_EQ_INT(off, 2 * CHUNK);
		}
		if (round == 2) {
			/* Acknowledged: there without any re-run. */
			CHECK_EQ_INT(get_range(&a, hash, 0, SIZE, back), 0);
			CHECK_MEM(back, data, SIZE);
		}
		CHECK_EQ_INT(finish_upload(&a, id, data, hash), 0);
		memset(back, 0, SIZE);
		CHECK_EQ_INT(get_range(&a, hash, 0, SIZE, back), 0);
		CHECK_MEM(back, data, SIZE);
		free(data);
	}
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM blobs"), 3);
	CHECK_EQ_INT(partials(&sp), 0);
	sottod_proc_cleanup(&sp);
	free(back);
}

/*
 * Two nodes of one PostgreSQL database, node 2's blob_dir the directory node 1 uses
 * (docs/SERVER.md "Several nodes"): an upload begun through node 1 continues through node 2
 * from where node 1 left it; the blob committed through node 2 is downloaded through node 1,
 * in ranges; a BLOB_DONE through node 1 ends it for both, and the file is removed.
 */
TEST(blobs_across_nodes)
{
	struct sottod_proc sp, n2;
	struct test_user a, b;
	uint8_t id[16], hash[32], out[16], *data, *back;
	char conf[300], path[400];
	uint64_t off = 99;
	size_t got;

	randombytes_buf(id, sizeof(id));
	REQUIRE((data = random_blob(SIZE, hash)) != NULL);
	REQUIRE((back = calloc(1, SIZE)) != NULL);
	REQUIRE(sottod_proc_launch(&sp, "registration = open\nblob_partial_timeout = 4") == 0);
	snprintf(conf, sizeof(conf), "blob_dir = %s/blobs", sp.dir);
	REQUIRE(sottod_proc_node(&n2, &sp, conf) == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	CHECK_EQ_INT(begin(&a, id, SIZE, &off), 0);
	CHECK_EQ_INT(off, 0);
	CHECK_EQ_INT(send_range(&a, id, data, 0, 2 * CHUNK + 100), 0);
	test_user_close(&a);
	/* alice's next connection reaches node 2. */
	REQUIRE(test_user_connect(&a, &n2) == 0);
	CHECK_EQ_INT(begin(&a, id, SIZE, &off), 0);
	CHECK_EQ_INT(off, 2 * CHUNK + 100);
	CHECK_EQ_INT(send_range(&a, id, data, off, SIZE), 0);
	CHECK_EQ_INT(commit(&a, id, hash, 1), 0);
	/* bob, on node 1, downloads it, and again through node 2 from the middle. */
	CHECK_EQ_INT(get_range(&b, hash, 0, 3 * CHUNK, back), 0);
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &n2) == 0);
	CHECK_EQ_INT(get_range(&b, hash, 3 * CHUNK, SIZE, back), 0);
	CHECK_MEM(back, data, SIZE);
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK_EQ_INT(blob_done(&b, hash), 0);
	CHECK_EQ_INT(get(&a, hash, 0, 16, out, &got, NULL), SOTTO_ERR_NOT_FOUND);
	blob_file(&sp, hash, path, sizeof(path));
	CHECK(wait_until(file_gone, path, 10000));
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&n2, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM blobs"), 0);
	sottod_proc_cleanup(&n2);
	sottod_proc_cleanup(&sp);
	free(data);
	free(back);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	SOTTOD_RUN_BOTH(upload_and_download_resume_on_new_connections);
	SOTTOD_RUN_BOTH(wrong_hash_is_refused);
	SOTTOD_RUN_BOTH(upload_written_by_two_connections_is_hashed_from_its_file);
	SOTTOD_RUN_BOTH(same_bytes_are_stored_once);
	SOTTOD_RUN_BOTH(bad_requests_are_refused);
	RUN(oversized_chunks_do_not_decode);
	SOTTOD_RUN_BOTH(quota_counts_bytes_and_blobs);
	SOTTOD_RUN_BOTH(blobs_expire_and_unfinished_uploads_are_cleaned);
	SOTTOD_RUN_BOTH(sigkill_during_upload_and_around_commit);
	SOTTOD_RUN_PG(blobs_across_nodes);
	return check_summary();
}
