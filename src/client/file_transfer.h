/*
 * Shared by the client's file transfers (file_upload.c, file_download.c, file_pending.c):
 * where their state lives and how a file message is stored.
 *
 * A file message is stored in the history as type STORE_MSG_FILE with the encoded FILE
 * content as its body (sealed like every body: it holds the file's key). A transfer's
 * ciphertext waits in HOME/transfers (mode 0700; ciphertext is not secret), its key and
 * upload id in the encrypted store (settings), so a re-run continues it.
 */
#ifndef SOTTO_CLIENT_FILE_TRANSFER_H
#define SOTTO_CLIENT_FILE_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "client/client_int.h"

#define FILE_TRANSFERS_DIR "transfers"
#define FILE_PENDING_SETTING "files.pending"    /* ids of received files not fetched */
#define FILE_PENDING_MAX 4096                   /* ids in it; the oldest give way */
#define FILE_SAVED_PREFIX "fs:"                 /* fs:<id hex>: where a file was saved */
#define FILE_SAVED_NAME_LEN (3 + 2 * SOTTO_ID_LEN + 1)
/* The slowest a server is waited for at BLOB_COMMIT (it may hash the blob from its disk,
 * and fsyncs it): CLIENT_TIMEOUT_MS and a second per this many MiB. */
#define FILE_COMMIT_MIB_PER_S 8u
_Static_assert(FILE_SIZE_MAX / ((uint64_t)FILE_COMMIT_MIB_PER_S << 20) * 1000 < INT32_MAX / 2,
    "the commit's timeout fits an int");

_Static_assert(SOTTO_FILE_CHUNK <= PROTO_BLOB_CHUNK_MAX, "a request's bytes");
_Static_assert(SOTTO_FILE_NAME_MAX == CONTENT_FILE_NAME_MAX, "file name limit");
_Static_assert(SOTTO_FILE_TYPE_MAX == CONTENT_FILE_TYPE_MAX, "media type limit");

/* HOME/<sub> (made 0700 if missing) into out. */
int file_home_dir(struct sotto *s, const char *sub, char *out, size_t cap) SOTTO_MUST_CHECK;
/* HOME/transfers/<name><suffix> into out (the directory made if missing). */
int file_transfer_path(struct sotto *s, const char *name, const char *suffix, char *out,
    size_t cap) SOTTO_MUST_CHECK;

/* The stored file message id: *m (wipe with store_message_wipe) and *c decoded from its
 * body (borrowing it). SOTTO_ERR_NOT_FOUND if there is none, or it is no file. */
int file_message_load(struct sotto *s, const uint8_t id[SOTTO_ID_LEN], struct store_message *m,
    struct content *c) SOTTO_MUST_CHECK;

/* The pending list (FILE_PENDING_SETTING), inside the caller's transaction or on its own. */
int file_pending_add(struct sotto *s, const uint8_t id[SOTTO_ID_LEN]) SOTTO_MUST_CHECK;
int file_pending_remove(struct sotto *s, const uint8_t id[SOTTO_ID_LEN]) SOTTO_MUST_CHECK;
/* The setting name of where file id was saved. */
void file_saved_name(char out[FILE_SAVED_NAME_LEN], const uint8_t id[SOTTO_ID_LEN]);

/* An upload (file_upload.c); secret (fi.key), so sodium_malloc'd by its users. */
struct file_upload {
	uint8_t upload[PROTO_BLOB_UPLOAD_ID_LEN];
	uint8_t msg_id[SOTTO_ID_LEN];           /* the FILE message's, chosen with the upload */
	struct file_info fi;
	char name[SOTTO_FILE_NAME_MAX + 1];     /* told to the recipients */
	char type[SOTTO_FILE_TYPE_MAX + 1];
	char setting[64];                       /* the store's record of it */
	char blob[SOTTO_FILE_PATH_MAX];         /* the ciphertext in HOME/transfers */
};

/* Encrypts the file at path (or finds the ciphertext of an earlier run for the same dest)
 * and uploads it, declaring recipients; *u then describes it. */
int client_file_upload(struct sotto *s, const char *path, const char *dest,
    uint16_t recipients, sotto_progress_fn cb, void *ctx, struct file_upload *u)
    SOTTO_MUST_CHECK;
/* The FILE content for u (borrowing it and caption). */
void client_file_content(const struct file_upload *u, const char *caption, size_t caption_len,
    struct content *c);
/* Forgets an upload's record and ciphertext: its message is sent or queued. */
void client_file_upload_done(struct sotto *s, struct file_upload *u);

/* A blob request (BLOB_BEGIN, _CHUNK, _COMMIT, _GET, _DONE) and its answer in *resp: the
 * server's status or a transport error. One the server refused for its request rate
 * (SOTTO_ERR_LIMIT: conn_rate, account_rate; a transfer runs into them) is made again
 * every FILE_LIMIT_WAIT_MS for up to timeout_ms. */
int file_blob_request(struct sotto *s, struct proto_msg *req, struct proto_msg *resp,
    int timeout_ms) SOTTO_MUST_CHECK;
#define FILE_LIMIT_WAIT_MS 5
/* Before a request refused for the rate is made again: waits FILE_LIMIT_WAIT_MS and adds
 * it to *waited, or returns 0 once *waited reached timeout_ms. */
int file_limit_wait(int *waited, int timeout_ms);

/* Reports progress (cb may be NULL). */
void file_progress(sotto_progress_fn cb, void *ctx, enum sotto_transfer dir, const char *name,
    uint64_t done, uint64_t total);

#endif
