/*
 * Sealed records: the unit of encryption in the local store. A sealed record is
 *   version (u8 = 1) || nonce (24) || XChaCha20-Poly1305 ciphertext and tag
 * under the store's record key, with associated data binding the table name and the
 * row's key, so a record copied into another row or another table fails to open.
 * The plaintext codecs below turn each table's fields into bytes and back; decoders read
 * through struct cur and reject anything malformed with SOTTO_ERR_CORRUPT.
 */
#ifndef SOTTO_CLIENT_STORE_RECORD_H
#define SOTTO_CLIENT_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "client/store.h"
#include "sotto/error.h"

#define STORE_REC_VERSION 1
#define STORE_REC_NONCE_LEN 24
#define STORE_REC_TAG_LEN 16
#define STORE_REC_OVERHEAD (1 + STORE_REC_NONCE_LEN + STORE_REC_TAG_LEN)
#define STORE_REC_TABLE_MAX 32
#define STORE_REC_ROWKEY_MAX 64

/* Seals pt into a malloc'd record. */
int store_rec_seal(const uint8_t key[STORE_KEY_LEN], const char *table,
    const uint8_t *rowkey, size_t rowkey_len, const uint8_t *pt, size_t pt_len,
    uint8_t **out, size_t *out_len) SOTTO_MUST_CHECK;
/* Opens a record whose plaintext is at most max bytes into a malloc'd buffer (secret:
 * free with store_blob_free). Any failure is SOTTO_ERR_CORRUPT. */
int store_rec_open(const uint8_t key[STORE_KEY_LEN], const char *table,
    const uint8_t *rowkey, size_t rowkey_len, const uint8_t *rec, size_t rec_len,
    size_t max, uint8_t **pt, size_t *pt_len) SOTTO_MUST_CHECK;

/* Plaintext codecs. Encoders append to b (check buf_status); decoders fill *out. */
void store_identity_encode(struct buf *b, const struct store_identity *id);
int store_identity_decode(const uint8_t *p, size_t n, struct store_identity *out) SOTTO_MUST_CHECK;
void store_keypair_encode(struct buf *b, const uint8_t pk[STORE_KEY_LEN],
    const uint8_t sk[STORE_KEY_LEN], const uint8_t *sig);
int store_keypair_decode(const uint8_t *p, size_t n, uint8_t pk[STORE_KEY_LEN],
    uint8_t sk[STORE_KEY_LEN], uint8_t *sig) SOTTO_MUST_CHECK;

/* The delivery-token trailer of a contact record: state, token, its seq, generation given
 * (a record without it is from before, and reads as holding none). */
#define STORE_CONTACT_TOKEN_TRAILER (1 + STORE_TOKEN_LEN + 8 + 4)

void store_contact_encode(struct buf *b, const struct store_contact *c);
int store_contact_decode(const uint8_t *p, size_t n, struct store_contact *out) SOTTO_MUST_CHECK;
/* The body is borrowed from p: the caller copies it. */
void store_message_encode(struct buf *b, const struct store_message *m);
int store_message_decode(const uint8_t *p, size_t n, struct store_message *out,
    const uint8_t **body) SOTTO_MUST_CHECK;
void store_outbox_encode(struct buf *b, const uint8_t id[STORE_MSGID_LEN], const char *recipient,
    const uint8_t *env, size_t env_len);
int store_outbox_decode(const uint8_t *p, size_t n, struct store_outbox_item *out,
    const uint8_t **env) SOTTO_MUST_CHECK;
/* The states are borrowed from p (*prev NULL when there is none): the caller copies them. */
void store_group_encode(struct buf *b, const struct store_group *g);
int store_group_decode(const uint8_t *p, size_t n, struct store_group *out,
    const uint8_t **state, const uint8_t **prev) SOTTO_MUST_CHECK;
/* The KeyPackage is borrowed from p. */
void store_key_package_encode(struct buf *b, const struct store_key_package *k);
int store_key_package_decode(const uint8_t *p, size_t n, struct store_key_package *out,
    const uint8_t **kp) SOTTO_MUST_CHECK;
void store_name_encode(struct buf *b, const char *name);
int store_name_decode(const uint8_t *p, size_t n, char *out, size_t max) SOTTO_MUST_CHECK;

#endif
