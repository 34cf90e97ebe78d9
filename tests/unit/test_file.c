/* Files for the blob store: the FILE content's codec (docs/PROTOCOL.md section 15) and the
 * streaming file encryption (src/client/file_crypt.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "base/buf.h"
#include "client/content.h"
#include "client/file_crypt.h"
#include "crypto/init.h"
#include "check.h"

static const uint8_t hash[32] = { [0] = 0x11, [31] = 0x1f };
static const uint8_t key[32] = { [0] = 0x22, [31] = 0x2f };
static const uint8_t digest[32] = { [0] = 0x33, [31] = 0x3f };

static void
file_content(struct content *c)
{
	memset(c, 0, sizeof(*c));
	c->type = CONTENT_FILE;
	memset(c->id, 0xa5, sizeof(c->id));
	c->seq = 7;
	c->sent_ms = 0x0102030405060708ull;
	c->expiry = 3600;
	c->file_size = 0x123456789ull;
	c->file_hash = hash;
	c->file_key = key;
	c->file_digest = digest;
	c->file_name = (const uint8_t *)"a.png";
	c->file_name_len = 5;
	c->file_type = (const uint8_t *)"image/png";
	c->file_type_len = 9;
	c->body = (const uint8_t *)"hi";
	c->body_len = 2;
}

/* The bytes of section 15, written out by hand. */
TEST(content_file_bytes_as_specified)
{
	struct content c, d;
	struct buf b, want;
	uint8_t id[16];
	size_t i;

	file_content(&c);
	memset(id, 0xa5, sizeof(id));
	buf_init_dyn(&want, 4096);
	buf_u8(&want, 1);
	buf_u8(&want, 5);
	buf_put(&want, id, 16);
	buf_put(&want, "\0\0\0\0\0\0\0\x07", 8);
	buf_put(&want, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	buf_put(&want, "\0\0\x0e\x10", 4);
	buf_put(&want, "\0\0\0\x01\x23\x45\x67\x89", 8);
	buf_put(&want, hash, 32);
	buf_put(&want, key, 32);
	buf_put(&want, digest, 32);
	buf_put(&want, "\0\x05" "a.png", 7);
	buf_put(&want, "\0\x09" "image/png", 11);
	buf_put(&want, "\0\0\0\x02" "hi", 6);
	REQUIRE(buf_status(&want) == 0);
	buf_init_dyn(&b, 4096);
	REQUIRE(content_encode(&c, &b) == 0);
	CHECK_EQ_INT(b.len, want.len);
	REQUIRE(b.len == want.len);
	CHECK_MEM(b.p, want.p, b.len);
	REQUIRE(content_decode(b.p, b.len, &d) == 0);
	CHECK_EQ_INT(d.type, CONTENT_FILE);
	CHECK(d.file_size == 0x123456789ull);
	CHECK_MEM(d.file_hash, hash, 32);
	CHECK_MEM(d.file_key, key, 32);
	CHECK_MEM(d.file_digest, digest, 32);
	CHECK(d.file_name_len == 5 && memcmp(d.file_name, "a.png", 5) == 0);
	CHECK(d.file_type_len == 9 && memcmp(d.file_type, "image/png", 9) == 0);
	CHECK(d.body_len == 2 && memcmp(d.body, "hi", 2) == 0);
	for (i = 0; i < b.len; i++)
		CHECK(content_decode(b.p, i, &d) != 0);
	buf_u8(&b, 0);
	CHECK_EQ_INT(content_decode(b.p, b.len, &d), SOTTO_ERR_TRAILING);
	buf_free(&b);
	buf_free(&want);
}

static int
encodes(const struct content *c)
{
	struct buf b;
	int r;

	buf_init_dyn(&b, 4096);
	r = content_encode(c, &b);
	buf_free(&b);
	return r;
}

TEST(content_file_fields_checked)
{
	static const char *bad_names[] = { "", ".", "..", "a/b", "a\\b", "a\nb", "a\x7f" };
	struct content c, d;
	struct buf b;
	uint8_t big[CONTENT_FILE_NAME_MAX + 1];
	size_t i;

	file_content(&c);
	c.body_len = 0;                         /* no caption is fine, */
	c.body = NULL;
	c.file_type_len = 0;                    /* and no media type */
	c.file_type = NULL;
	c.file_size = 0;                        /* and an empty file */
	CHECK_EQ_INT(encodes(&c), 0);
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		file_content(&c);
		c.file_name = (const uint8_t *)bad_names[i];
		c.file_name_len = strlen(bad_names[i]);
		CHECK_EQ_INT(encodes(&c), SOTTO_ERR_INVALID_ARG);
	}
	memset(big, 'x', sizeof(big));
	file_content(&c);
	c.file_name = big;
	c.file_name_len = sizeof(big);
	CHECK_EQ_INT(encodes(&c), SOTTO_ERR_INVALID_ARG);
	c.file_name_len = sizeof(big) - 1;
	CHECK_EQ_INT(encodes(&c), 0);
	file_content(&c);
	c.file_type = (const uint8_t *)"image png";
	CHECK_EQ_INT(encodes(&c), SOTTO_ERR_INVALID_ARG);
	file_content(&c);
	c.file_size = FILE_SIZE_MAX + 1;
	CHECK_EQ_INT(encodes(&c), SOTTO_ERR_INVALID_ARG);
	file_content(&c);
	c.file_key = NULL;
	CHECK_EQ_INT(encodes(&c), SOTTO_ERR_INVALID_ARG);

	/* A decoder sees the same checks: a '/' put into an encoded name is refused. */
	file_content(&c);
	c.file_name = (const uint8_t *)"a.b";
	c.file_name_len = 3;
	buf_init_dyn(&b, 4096);
	REQUIRE(content_encode(&c, &b) == 0);
	for (i = 0; i + 3 <= b.len && memcmp(b.p + i, "a.b", 3) != 0; i++)
		;
	REQUIRE(i + 3 <= b.len);
	b.p[i + 1] = '/';
	CHECK_EQ_INT(content_decode(b.p, b.len, &d), SOTTO_ERR_MALFORMED);
	buf_free(&b);
}

TEST(file_buckets)
{
	uint64_t s, p, prev = 0;

	CHECK_EQ_INT(file_sealed_size(0), 24 + 17);
	CHECK_EQ_INT(file_sealed_size(FILE_CHUNK), 24 + 2 * 17 + FILE_CHUNK);
	CHECK_EQ_INT(file_padded_size(0), 4096);
	CHECK_EQ_INT(file_padded_size(4096 - 41), 4096);
	CHECK_EQ_INT(file_padded_size(4096 - 40), 8192);
	CHECK_EQ_INT(file_padded_size(600000), 1024 * 1024);
	/* 3 MiB of plaintext seals to a little over 3 MiB: the next eighth of 2 MiB. */
	CHECK_EQ_INT(file_padded_size(3u << 20), (3u << 20) + (256u << 10));
	/* Monotonic, never below the sealed size, overhead at most 1/8 above 1 MiB. */
	for (s = 0; s < (64ull << 20); s = s * 3 / 2 + 1001) {
		p = file_padded_size(s);
		CHECK(p >= file_sealed_size(s) && p >= prev);
		if (file_sealed_size(s) > FILE_BUCKET_POW2_MAX)
			CHECK(p - file_sealed_size(s) <= file_sealed_size(s) / 8);
		prev = p;
	}
}

static int
temp_fd(void)
{
	char path[] = "/tmp/sotto-test-file-XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	return fd;
}

static int
fd_with(const uint8_t *p, size_t n)
{
	int fd = temp_fd();

	if (fd < 0 || write(fd, p, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	return fd;
}

static uint8_t *
fd_bytes(int fd, size_t *n)
{
	off_t end = lseek(fd, 0, SEEK_END);
	uint8_t *p;

	*n = end > 0 ? (size_t)end : 0;
	p = malloc(*n + 1);
	if (p == NULL || lseek(fd, 0, SEEK_SET) != 0 || pread(fd, p, *n, 0) != (ssize_t)*n) {
		free(p);
		return NULL;
	}
	return p;
}

/* Encrypts n bytes; blob gets the blob's bytes. */
static int
seal(const uint8_t *plain, size_t n, struct file_info *fi, uint8_t **blob, size_t *blob_len)
{
	int in = fd_with(plain, n), out = temp_fd(), r;

	r = in < 0 || out < 0 ? -1 : file_encrypt(in, out, fi);
	*blob = r == 0 ? fd_bytes(out, blob_len) : NULL;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r == 0 && *blob != NULL ? 0 : -1;
}

/* Decrypts blob with fi; on success *plain/plain_len get the output. */
static int
open_blob(const uint8_t *blob, size_t len, const struct file_info *fi, uint8_t **plain,
    size_t *plain_len)
{
	int in = fd_with(blob, len), out = temp_fd(), r;

	*plain = NULL;
	r = in < 0 || out < 0 ? SOTTO_ERR_IO : file_decrypt(in, out, fi);
	if (r == 0 && (*plain = fd_bytes(out, plain_len)) == NULL)
		r = SOTTO_ERR_IO;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

TEST(file_round_trips)
{
	static const size_t sizes[] = { 0, 1, 4000, FILE_CHUNK - 1, FILE_CHUNK, FILE_CHUNK + 1,
	    3 * FILE_CHUNK + 5, (3u << 20) + 17 };
	struct file_info fi, fi2;
	uint8_t *plain, *blob, *back, want[32];
	size_t i, blob_len, back_len;

	plain = malloc((3u << 20) + 17);
	REQUIRE(plain != NULL);
	randombytes_buf(plain, (3u << 20) + 17);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		REQUIRE(seal(plain, sizes[i], &fi, &blob, &blob_len) == 0);
		CHECK_EQ_INT(fi.size, sizes[i]);
		CHECK_EQ_INT(blob_len, file_padded_size(sizes[i]));
		CHECK_EQ_INT(fi.padded, blob_len);
		crypto_hash_sha256(want, blob, blob_len);
		CHECK_MEM(fi.hash, want, 32);
		crypto_hash_sha256(want, plain, sizes[i]);
		CHECK_MEM(fi.digest, want, 32);
		CHECK_EQ_INT(open_blob(blob, blob_len, &fi, &back, &back_len), 0);
		CHECK_EQ_INT(back_len, sizes[i]);
		CHECK(back != NULL && memcmp(back, plain, sizes[i]) == 0);
		free(back);
		free(blob);
	}
	/* Every file gets its own key: the same bytes twice give two different blobs. */
	REQUIRE(seal(plain, 100, &fi, &blob, &blob_len) == 0);
	free(blob);
	REQUIRE(seal(plain, 100, &fi2, &blob, &blob_len) == 0);
	free(blob);
	CHECK(memcmp(fi.key, fi2.key, 32) != 0 && memcmp(fi.hash, fi2.hash, 32) != 0);
	CHECK_MEM(fi.digest, fi2.digest, 32);
	free(plain);
}

/* Recomputes fi's blob hash for altered bytes, as a sender who lies about nothing but the
 * blob would: the AEAD (or the structure) must still refuse it. */
static void
rehash(struct file_info *fi, const uint8_t *blob, size_t len)
{
	crypto_hash_sha256(fi->hash, blob, len);
}

TEST(file_refuses_what_was_altered)
{
	const size_t n = 3 * FILE_CHUNK + 5;
	struct file_info fi, bad;
	uint8_t *plain, *blob, *back, *longer;
	size_t blob_len, back_len, at;

	plain = malloc(n);
	REQUIRE(plain != NULL);
	randombytes_buf(plain, n);
	REQUIRE(seal(plain, n, &fi, &blob, &blob_len) == 0);

	/* A flipped bit in the second chunk: the hash refuses it, and so does the AEAD. */
	at = 24 + FILE_CHUNK + 17 + 100;
	blob[at] ^= 1;
	CHECK_EQ_INT(open_blob(blob, blob_len, &fi, &back, &back_len), SOTTO_ERR_DECRYPT);
	bad = fi;
	rehash(&bad, blob, blob_len);
	CHECK_EQ_INT(open_blob(blob, blob_len, &bad, &back, &back_len), SOTTO_ERR_DECRYPT);
	blob[at] ^= 1;
	/* Padding changed: only the hash covers it, and the zero check. */
	blob[blob_len - 1] = 1;
	CHECK_EQ_INT(open_blob(blob, blob_len, &fi, &back, &back_len), SOTTO_ERR_MALFORMED);
	blob[blob_len - 1] = 0;
	/* Truncated anywhere, or one byte more. */
	CHECK_EQ_INT(open_blob(blob, blob_len - 1, &fi, &back, &back_len), SOTTO_ERR_TRUNCATED);
	CHECK_EQ_INT(open_blob(blob, 24 + FILE_CHUNK, &fi, &back, &back_len),
	    SOTTO_ERR_TRUNCATED);
	CHECK_EQ_INT(open_blob(blob, 10, &fi, &back, &back_len), SOTTO_ERR_TRUNCATED);
	longer = malloc(blob_len + 1);
	REQUIRE(longer != NULL);
	memcpy(longer, blob, blob_len);
	longer[blob_len] = 0;
	CHECK_EQ_INT(open_blob(longer, blob_len + 1, &fi, &back, &back_len), SOTTO_ERR_TRAILING);
	free(longer);
	/* Chunks swapped (first and second, both full): the stream's order refuses it. */
	longer = malloc(blob_len);
	REQUIRE(longer != NULL);
	memcpy(longer, blob, blob_len);
	memcpy(longer + 24, blob + 24 + FILE_CHUNK + 17, FILE_CHUNK + 17);
	memcpy(longer + 24 + FILE_CHUNK + 17, blob + 24, FILE_CHUNK + 17);
	bad = fi;
	rehash(&bad, longer, blob_len);
	CHECK_EQ_INT(open_blob(longer, blob_len, &bad, &back, &back_len), SOTTO_ERR_DECRYPT);
	free(longer);
	/* A message that claims fewer bytes: the last chunk it expects is not FINAL. */
	bad = fi;
	bad.size = 2 * FILE_CHUNK + 5;
	bad.padded = file_padded_size(bad.size);
	CHECK(open_blob(blob, blob_len, &bad, &back, &back_len) != 0);
	/* A size that does not match the padded length. */
	bad = fi;
	bad.padded += 1;
	CHECK_EQ_INT(open_blob(blob, blob_len, &bad, &back, &back_len), SOTTO_ERR_MALFORMED);
	/* Wrong key. */
	bad = fi;
	bad.key[0] ^= 1;
	CHECK_EQ_INT(open_blob(blob, blob_len, &bad, &back, &back_len), SOTTO_ERR_DECRYPT);
	/* Wrong blob hash (the server's bytes are not the ones the message names). */
	bad = fi;
	bad.hash[5] ^= 1;
	CHECK_EQ_INT(open_blob(blob, blob_len, &bad, &back, &back_len), SOTTO_ERR_BLOB_HASH);
	/* Wrong plaintext digest. */
	bad = fi;
	bad.digest[31] ^= 1;
	CHECK_EQ_INT(open_blob(blob, blob_len, &bad, &back, &back_len), SOTTO_ERR_FILE_DIGEST);
	/* And the untouched blob still opens. */
	CHECK_EQ_INT(open_blob(blob, blob_len, &fi, &back, &back_len), 0);
	CHECK(back != NULL && back_len == n && memcmp(back, plain, n) == 0);
	free(back);
	free(blob);
	free(plain);
}

TEST(file_encrypt_refuses_non_files)
{
	struct file_info fi;
	int p[2];

	REQUIRE(pipe(p) == 0);
	CHECK_EQ_INT(file_encrypt(p[0], p[1], &fi), SOTTO_ERR_IO);
	close(p[0]);
	close(p[1]);
	CHECK_EQ_INT(file_encrypt(-1, 1, &fi), SOTTO_ERR_INVALID_ARG);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	RUN(content_file_bytes_as_specified);
	RUN(content_file_fields_checked);
	RUN(file_buckets);
	RUN(file_round_trips);
	RUN(file_refuses_what_was_altered);
	RUN(file_encrypt_refuses_non_files);
	return check_summary();
}
