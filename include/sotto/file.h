/*
 * libsotto: files in chats (docs/CLIENT.md "Files", docs/PROTOCOL.md section 15).
 *
 * A file is encrypted with a fresh key, uploaded as ciphertext to the account's server's
 * blob store in chunks of SOTTO_FILE_CHUNK bytes, and its key, digest, size, name and media
 * type go to the recipient inside an ordinary end-to-end message (a FILE content). Neither
 * direction holds more than a few chunks in memory, whatever the file's size.
 *
 *   sotto_send_file(s, "bob@example.org", "/tmp/photo.jpg", NULL, 0, on_progress, ctx, id);
 *   // the recipient, after sotto_poll saw a SOTTO_CONTENT_FILE message:
 *   sotto_file_fetch(s, id, NULL, on_progress, ctx, path, sizeof(path));
 *
 * Both are resumable: the state a transfer needs is kept beside the store (HOME/transfers:
 * the ciphertext, which is not secret) and in the encrypted store (the key and the upload
 * id), so calling the same function again after a dropped connection, a crash or a SIGKILL
 * continues where it stopped.
 */
#ifndef SOTTO_FILE_H
#define SOTTO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/sotto.h"

#define SOTTO_FILE_CHUNK (64u * 1024)   /* bytes of blob per request, either direction */
#define SOTTO_FILE_NAME_MAX 255         /* bytes of a file's name in its message */
#define SOTTO_FILE_TYPE_MAX 127         /* bytes of its media type */
#define SOTTO_FILE_PATH_MAX 4096        /* a saved file's path */
#define SOTTO_FILES_DIR "files"         /* under the home directory: where files are saved */

enum sotto_transfer { SOTTO_UPLOAD = 1, SOTTO_DOWNLOAD = 2 };

/* Valid only during the callback. done and total count blob bytes (the padded
 * ciphertext); the first call of a resumed transfer has done > 0. */
struct sotto_progress {
	enum sotto_transfer dir;
	const char *name;                   /* the file's name */
	uint64_t done;
	uint64_t total;
};

typedef void (*sotto_progress_fn)(void *ctx, const struct sotto_progress *p);

/* A file message (ours or received). */
struct sotto_file {
	uint8_t id[SOTTO_ID_LEN];           /* the message's id */
	char peer[SOTTO_ADDRESS_MAX + 1];   /* the contact (1:1), or the sender in a group */
	enum sotto_direction dir;
	char name[SOTTO_FILE_NAME_MAX + 1]; /* as the sender's file was called */
	char type[SOTTO_FILE_TYPE_MAX + 1]; /* media type, "" if unknown */
	uint64_t size;                      /* plaintext bytes */
	uint64_t time;                      /* the message's, unix seconds */
	char path[SOTTO_FILE_PATH_MAX];     /* received: where it was saved, "" not yet */
};

/*
 * Sends the regular file at path to a contact: encrypts it (once, into HOME/transfers),
 * uploads it, then sends the FILE message like sotto_send_text (queued in the outbox when
 * the server cannot take it now: SOTTO_ERR_QUEUED). caption (may be NULL) is text shown
 * with the file (at most SOTTO_TEXT_MAX bytes). cb (may be NULL) is called after each
 * chunk. The same call after an interruption continues the upload of the same file (same
 * path, size and modification time) where the server has it. Errors: SOTTO_ERR_NOT_FOUND
 * (no such file), SOTTO_ERR_IO (not a regular file, unreadable, changed while read),
 * SOTTO_ERR_QUOTA (the account's blob quota on the server), SOTTO_ERR_TOO_LARGE (over the
 * server's blob size limit), and those of sotto_send_text.
 */
int sotto_send_file(struct sotto *s, const char *to, const char *path, const char *caption,
    size_t caption_len, sotto_progress_fn cb, void *ctx, uint8_t id[SOTTO_ID_LEN])
    SOTTO_MUST_CHECK;

/*
 * sotto_send_file to a group (sotto/group.h: its name or id): the file is uploaded once,
 * declared for the other members (each one's BLOB_DONE counts it down), and its FILE
 * content goes to the group like a text.
 */
int sotto_group_send_file(struct sotto *s, const char *group, const char *path,
    const char *caption, size_t caption_len, sotto_progress_fn cb, void *ctx,
    uint8_t id[SOTTO_ID_LEN]) SOTTO_MUST_CHECK;

/*
 * Received files not fetched yet, oldest first: *ids is malloc'd (free it), *n their
 * number. sotto_poll adds each received FILE message here in the transaction that stores
 * it; sotto_file_fetch removes it once the file is saved.
 */
int sotto_files_pending(struct sotto *s, uint8_t (**ids)[SOTTO_ID_LEN], size_t *n)
    SOTTO_MUST_CHECK;

/*
 * Fetches the file of received message id into dir (NULL: HOME/files, made if missing):
 * downloads the blob (resuming a download an earlier call began), decrypts it into a
 * temporary file in dir, checks the blob's hash and the plaintext's digest, and only then
 * gives it its name: the sender's name made safe, never replacing a file that exists
 * ("name (1).ext" and so on instead). path gets where it went. Then tells the server this
 * recipient has it (BLOB_DONE). A file fetched before is not fetched again: 0 and its path.
 * Errors: SOTTO_ERR_NOT_FOUND (no such file message, or the blob is no longer on the
 * server: expired), SOTTO_ERR_BLOB_HASH, SOTTO_ERR_FILE_DIGEST, SOTTO_ERR_DECRYPT,
 * SOTTO_ERR_TRUNCATED, SOTTO_ERR_MALFORMED (the blob is not the one the message names:
 * nothing is kept, and the next call downloads it again), SOTTO_ERR_IO.
 */
int sotto_file_fetch(struct sotto *s, const uint8_t id[SOTTO_ID_LEN], const char *dir,
    sotto_progress_fn cb, void *ctx, char *path, size_t cap) SOTTO_MUST_CHECK;

/* The file of message id (SOTTO_ERR_NOT_FOUND if it is no file message). */
int sotto_file_info(struct sotto *s, const uint8_t id[SOTTO_ID_LEN], struct sotto_file *out)
    SOTTO_MUST_CHECK;

#endif
