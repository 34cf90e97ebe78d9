/*
 * End-to-end encryption of a file for the blob store (docs/PROTOCOL.md section 15). A file is
 * sealed with a fresh random key by libsodium's crypto_secretstream_xchacha20poly1305:
 *
 *   blob = header[24] || chunk_1 || ... || chunk_n || zero padding
 *
 * chunk_i the sealing of FILE_CHUNK plaintext bytes (tag MESSAGE), and chunk_n, the last,
 * of the size % FILE_CHUNK bytes that remain (0 of them when the size is a multiple), tag
 * FINAL: n = size / FILE_CHUNK + 1, so the sealed length is a function of the size. The
 * padding brings the blob to file_padded_size() (the buckets), so the server sees only the
 * bucket. The message that carries the key also carries the SHA-256 of the whole blob (its
 * name in the store) and the SHA-256 of the plaintext; decryption checks both, the chunk
 * tags, the exact length and that the padding is zero. Both directions stream: memory is a
 * few chunks whatever the file's size.
 */
#ifndef SOTTO_CLIENT_FILE_CRYPT_H
#define SOTTO_CLIENT_FILE_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#define FILE_CHUNK (64u * 1024)                 /* plaintext bytes per secretstream chunk */
#define FILE_KEY_LEN 32
#define FILE_HASH_LEN 32                        /* SHA-256 of the blob (the store's name) */
#define FILE_DIGEST_LEN 32                      /* SHA-256 of the plaintext */
#define FILE_SIZE_MAX ((uint64_t)1 << 40)       /* plaintext bytes of one file */
#define FILE_BUCKET_MIN (4u * 1024)             /* the smallest padded blob */
#define FILE_BUCKET_POW2_MAX (1024u * 1024)     /* powers of two up to here, then eighths */

struct file_info {
	uint8_t key[FILE_KEY_LEN];              /* SECRET */
	uint8_t hash[FILE_HASH_LEN];
	uint8_t digest[FILE_DIGEST_LEN];
	uint64_t size;                          /* plaintext bytes */
	uint64_t padded;                        /* blob bytes, file_padded_size(size) */
};

/* Bytes of the sealed stream of a size-byte file, before padding. */
uint64_t file_sealed_size(uint64_t size);
/* Bytes of the blob of a size-byte file: the sealed size rounded up to its bucket. */
uint64_t file_padded_size(uint64_t size);

/* Seals the regular file open at in_fd (from its start) into out_fd with a fresh key and
 * fills *fi. SOTTO_ERR_TOO_LARGE over FILE_SIZE_MAX, SOTTO_ERR_IO on a read or write error
 * or if the file changes size while it is read. Wipes what it held. */
int file_encrypt(int in_fd, int out_fd, struct file_info *fi) SOTTO_MUST_CHECK;

/* Opens the blob read from in_fd (to its end) with fi's key, writing plaintext to out_fd as
 * it goes; out_fd's bytes are trustworthy only when it returns 0, so the caller writes to a
 * temporary file and moves it into place after. SOTTO_ERR_DECRYPT (a chunk fails, wrong
 * key, tags out of order), SOTTO_ERR_TRUNCATED / SOTTO_ERR_TRAILING (length not fi->padded),
 * SOTTO_ERR_MALFORMED (non-zero padding, size inconsistent), SOTTO_ERR_BLOB_HASH,
 * SOTTO_ERR_FILE_DIGEST, SOTTO_ERR_IO. */
int file_decrypt(int in_fd, int out_fd, const struct file_info *fi) SOTTO_MUST_CHECK;

#endif
