/* Streaming file encryption for the blob store: see file_crypt.h. */
#include "client/file_crypt.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define SS_TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

_Static_assert(FILE_KEY_LEN == crypto_secretstream_xchacha20poly1305_KEYBYTES, "key length");

/* The working memory of one direction: a plaintext and a sealed chunk, the stream state and
 * the two running hashes. Wiped before it is left. */
struct file_work {
	uint8_t plain[FILE_CHUNK];
	uint8_t sealed[FILE_CHUNK + SS_ABYTES];
	crypto_secretstream_xchacha20poly1305_state st;
	crypto_hash_sha256_state blob;
	crypto_hash_sha256_state text;
};

uint64_t
file_sealed_size(uint64_t size)
{
	return SS_HEADER + (size / FILE_CHUNK + 1) * SS_ABYTES + size;
}

uint64_t
file_padded_size(uint64_t size)
{
	uint64_t s = file_sealed_size(size), b, step;
	int e;

	if (s <= FILE_BUCKET_MIN)
		return FILE_BUCKET_MIN;
	if (s <= FILE_BUCKET_POW2_MAX) {
		for (b = FILE_BUCKET_MIN; b < s; b <<= 1)
			;
		return b;
	}
	for (e = 0; (s >> e) > 1; e++)
		;
	step = (uint64_t)1 << (e - 3);
	return (s + step - 1) / step * step;
}

/* Reads up to n bytes, fewer only at the end of the file; -1 on error. */
static ssize_t
read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int
write_full(int fd, const uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return SOTTO_ERR_IO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Writes a ciphertext piece to out_fd and into the blob's hash. */
static int
emit(struct file_work *w, int out_fd, const uint8_t *p, size_t n)
{
	crypto_hash_sha256_update(&w->blob, p, n);
	return write_full(out_fd, p, n);
}

static int
seal_chunks(struct file_work *w, int in_fd, int out_fd, struct file_info *fi)
{
	uint8_t header[SS_HEADER];
	uint64_t left = fi->size, pad;
	unsigned long long clen;
	size_t n;
	uint8_t tag;
	int r;

	crypto_secretstream_xchacha20poly1305_init_push(&w->st, header, fi->key);
	if ((r = emit(w, out_fd, header, sizeof(header))) != 0)
		return r;
	do {
		n = left < FILE_CHUNK ? (size_t)left : FILE_CHUNK;
		if (read_full(in_fd, w->plain, n) != (ssize_t)n)
			return SOTTO_ERR_IO;            /* a read error, or the file shrank */
		left -= n;
		/* The last chunk is the one shorter than FILE_CHUNK (possibly empty). */
		tag = n < FILE_CHUNK ? SS_TAG_FINAL : SS_TAG_MESSAGE;
		crypto_hash_sha256_update(&w->text, w->plain, n);
		crypto_secretstream_xchacha20poly1305_push(&w->st, w->sealed, &clen, w->plain, n,
		    NULL, 0, tag);
		if ((r = emit(w, out_fd, w->sealed, (size_t)clen)) != 0)
			return r;
	} while (tag != SS_TAG_FINAL);
	if (read_full(in_fd, w->plain, 1) != 0)
		return SOTTO_ERR_IO;                    /* the file grew while it was read */
	memset(w->sealed, 0, sizeof(w->sealed));
	for (pad = fi->padded - file_sealed_size(fi->size); pad > 0; pad -= n) {
		n = pad < sizeof(w->sealed) ? (size_t)pad : sizeof(w->sealed);
		if ((r = emit(w, out_fd, w->sealed, n)) != 0)
			return r;
	}
	return 0;
}

int
file_encrypt(int in_fd, int out_fd, struct file_info *fi)
{
	struct file_work *w = NULL;
	struct stat st;
	int r;

	if (fi == NULL || in_fd < 0 || out_fd < 0)
		return SOTTO_ERR_INVALID_ARG;
	memset(fi, 0, sizeof(*fi));
	if (fstat(in_fd, &st) != 0 || !S_ISREG(st.st_mode) || lseek(in_fd, 0, SEEK_SET) != 0)
		return SOTTO_ERR_IO;
	if ((uint64_t)st.st_size > FILE_SIZE_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if ((w = sodium_malloc(sizeof(*w))) == NULL)
		return SOTTO_ERR_NOMEM;
	fi->size = (uint64_t)st.st_size;
	fi->padded = file_padded_size(fi->size);
	crypto_secretstream_xchacha20poly1305_keygen(fi->key);
	crypto_hash_sha256_init(&w->blob);
	crypto_hash_sha256_init(&w->text);
	if ((r = seal_chunks(w, in_fd, out_fd, fi)) != 0)
		goto out;
	crypto_hash_sha256_final(&w->blob, fi->hash);
	crypto_hash_sha256_final(&w->text, fi->digest);
out:
	sodium_free(w);                         /* zeroes it */
	if (r != 0)
		sodium_memzero(fi, sizeof(*fi));
	return r;
}

/* Reads exactly n bytes of the blob into p and its hash; SOTTO_ERR_TRUNCATED if it ends. */
static int
take(struct file_work *w, int in_fd, uint8_t *p, size_t n)
{
	ssize_t got = read_full(in_fd, p, n);

	if (got < 0)
		return SOTTO_ERR_IO;
	if ((size_t)got != n)
		return SOTTO_ERR_TRUNCATED;
	crypto_hash_sha256_update(&w->blob, p, n);
	return 0;
}

static int
open_chunks(struct file_work *w, int in_fd, int out_fd, const struct file_info *fi)
{
	uint8_t header[SS_HEADER], acc = 0;
	uint64_t i, chunks = fi->size / FILE_CHUNK + 1, pad;
	unsigned long long plen;
	size_t n, k;
	unsigned char tag;
	int r;

	if ((r = take(w, in_fd, header, sizeof(header))) != 0)
		return r;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&w->st, header, fi->key) != 0)
		return SOTTO_ERR_DECRYPT;
	for (i = 0; i < chunks; i++) {
		n = (i + 1 < chunks ? FILE_CHUNK : (size_t)(fi->size % FILE_CHUNK)) + SS_ABYTES;
		if ((r = take(w, in_fd, w->sealed, n)) != 0)
			return r;
		if (crypto_secretstream_xchacha20poly1305_pull(&w->st, w->plain, &plen, &tag,
		    w->sealed, n, NULL, 0) != 0)
			return SOTTO_ERR_DECRYPT;
		if (tag != (i + 1 < chunks ? SS_TAG_MESSAGE : SS_TAG_FINAL))
			return SOTTO_ERR_DECRYPT;       /* chunks cut, reordered or appended */
		crypto_hash_sha256_update(&w->text, w->plain, (size_t)plen);
		if ((r = write_full(out_fd, w->plain, (size_t)plen)) != 0)
			return r;
	}
	for (pad = fi->padded - file_sealed_size(fi->size); pad > 0; pad -= n) {
		n = pad < sizeof(w->sealed) ? (size_t)pad : sizeof(w->sealed);
		if ((r = take(w, in_fd, w->sealed, n)) != 0)
			return r;
		for (k = 0; k < n; k++)
			acc |= w->sealed[k];
	}
	if (read_full(in_fd, w->sealed, 1) != 0)
		return SOTTO_ERR_TRAILING;
	return acc != 0 ? SOTTO_ERR_MALFORMED : 0;
}

int
file_decrypt(int in_fd, int out_fd, const struct file_info *fi)
{
	struct file_work *w = NULL;
	uint8_t got[FILE_HASH_LEN];
	int r;

	if (fi == NULL || in_fd < 0 || out_fd < 0)
		return SOTTO_ERR_INVALID_ARG;
	if (fi->size > FILE_SIZE_MAX || fi->padded != file_padded_size(fi->size))
		return SOTTO_ERR_MALFORMED;
	if ((w = sodium_malloc(sizeof(*w))) == NULL)
		return SOTTO_ERR_NOMEM;
	crypto_hash_sha256_init(&w->blob);
	crypto_hash_sha256_init(&w->text);
	if ((r = open_chunks(w, in_fd, out_fd, fi)) != 0)
		goto out;
	crypto_hash_sha256_final(&w->blob, got);
	if (sodium_memcmp(got, fi->hash, FILE_HASH_LEN) != 0) {
		r = SOTTO_ERR_BLOB_HASH;
		goto out;
	}
	crypto_hash_sha256_final(&w->text, got);
	if (sodium_memcmp(got, fi->digest, FILE_DIGEST_LEN) != 0)
		r = SOTTO_ERR_FILE_DIGEST;
out:
	sodium_memzero(got, sizeof(got));
	sodium_free(w);
	return r;
}
