/*
 * Pre-shared keys in the key schedule (RFC 9420 section 8.4): the psk_secret that a
 * Commit's PreSharedKey proposals (or a Welcome's list) feed into an epoch.
 *
 *   struct {
 *       PSKType psktype;                          uint8: external(1), resumption(2)
 *       select (psktype) {
 *           case external:   opaque psk_id<V>;
 *           case resumption: ResumptionPSKUsage usage; opaque psk_group_id<V>; uint64 psk_epoch;
 *       };
 *       opaque psk_nonce<V>;
 *   } PreSharedKeyID;
 *   struct { PreSharedKeyID id; uint16 index; uint16 count; } PSKLabel;
 *
 *   psk_extracted[i] = Extract(0, psk[i])
 *   psk_input[i]     = ExpandWithLabel(psk_extracted[i], "derived psk", PSKLabel, Nh)
 *   psk_secret[0] = 0;  psk_secret[i + 1] = Extract(psk_input[i], psk_secret[i])
 */
#ifndef SOTTO_MLS_PSK_H
#define SOTTO_MLS_PSK_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "sotto/error.h"
#include "mls/suite.h"

#define MLS_PSK_EXTERNAL 1
#define MLS_PSK_RESUMPTION 2
/* Cap on the PSKs of one epoch and on the length of an id or nonce. */
#define MLS_PSK_COUNT_MAX 64
#define MLS_PSK_ID_MAX 256

/* One PSK with its id. psk is SECRET; id, group_id and nonce are not. */
struct mls_psk {
	uint8_t type;                 /* MLS_PSK_EXTERNAL or MLS_PSK_RESUMPTION */
	const uint8_t *id;            /* external */
	size_t id_len;
	uint8_t usage;                /* resumption */
	const uint8_t *group_id;
	size_t group_id_len;
	uint64_t epoch;
	const uint8_t *nonce;         /* Nh bytes */
	size_t nonce_len;
	const uint8_t *psk;
	size_t psk_len;
};

/* Writes the PreSharedKeyID of p. */
void mls_psk_id_write(struct buf *b, const struct mls_psk *p);
/* Reads a PreSharedKeyID into p (pointers borrow from the input; psk left unset). */
void mls_psk_id_read(struct cur *c, struct mls_psk *p);
/* psk_secret (SECRET) over n PSKs in order; Nh zero bytes for n = 0. */
int mls_psk_secret(uint8_t out[static MLS_HASH_LEN], const struct mls_psk *psks, size_t n) SOTTO_MUST_CHECK;

#endif
