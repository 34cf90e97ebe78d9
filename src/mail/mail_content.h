/*
 * A mail as Sotto content. One ratchet message carries at most SOTTO_TEXT_MAX bytes, so
 * the bridge splits a mail (a whole RFC 5322 message) into parts, each sent as one MAIL
 * content (sotto_send_mail), and the receiving bridge puts them back together:
 *
 *   u8   version (MAIL_CONTENT_VERSION)
 *   16   mail id: one per recipient copy; the same for the same bytes to the same
 *        recipient (a keyed hash, bridge.c mail_id), so a resubmitted mail is filed once
 *   u32  total length of the mail (1..MAIL_CONTENT_MAX)
 *   u32  index of this part (0..count-1)
 *   u32  count = ceil(total / MAIL_CONTENT_CHUNK)
 *   ...  the part: MAIL_CONTENT_CHUNK bytes, the last one what is left
 *
 * Big-endian. Parts are matched by (sender, mail id), so nobody can add to a mail someone
 * else sent. The reassembler holds a bounded number of mails and bytes in progress.
 */
#ifndef SOTTO_MAIL_MAIL_CONTENT_H
#define SOTTO_MAIL_MAIL_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "sotto/sotto.h"

#define MAIL_CONTENT_VERSION 1
#define MAIL_CONTENT_ID_LEN 16
#define MAIL_CONTENT_HEADER (1 + MAIL_CONTENT_ID_LEN + 4 + 4 + 4)
#define MAIL_CONTENT_CHUNK (SOTTO_TEXT_MAX - MAIL_CONTENT_HEADER)
/* The largest mail (25 MiB); the store keeps one mail per row of at most STORE_MAIL_MAX
 * bytes (32 MiB): mailstore_store.c checks that it fits, rewritten. */
#define MAIL_CONTENT_MAX SOTTO_MAIL_MAX

struct mail_part {
	uint8_t id[MAIL_CONTENT_ID_LEN];
	uint32_t total, index, count;
	const uint8_t *data;            /* borrowed from the parsed bytes; secret */
	size_t len;
};

/* Number of parts for a mail of len bytes; SOTTO_ERR_TOO_LARGE above MAIL_CONTENT_MAX. */
int mail_content_count(size_t len, uint32_t *count) SOTTO_MUST_CHECK;
/* Part index of mail (len bytes, id) into out (reset first). */
int mail_content_part(const uint8_t id[MAIL_CONTENT_ID_LEN], const uint8_t *mail, size_t len,
    uint32_t index, struct buf *out) SOTTO_MUST_CHECK;
/* Reads one part; every field is checked against the others. */
int mail_content_parse(const uint8_t *p, size_t len, struct mail_part *out) SOTTO_MUST_CHECK;

struct mail_asm;

/* max_pending mails and max_bytes bytes in progress at most; beyond, the one that was
 * touched least recently is dropped. */
int mail_asm_new(struct mail_asm **out, size_t max_pending, size_t max_bytes)
    SOTTO_MUST_CHECK;
/*
 * Adds a part from peer, found at history row `row`, received at time (unix seconds). Returns 1 when the mail is complete
 * (*mail, *len: malloc'd, secret: wipe and free), 0 if more parts are needed (or the part
 * was a duplicate), or an error for a part that contradicts its mail (that mail is dropped).
 */
int mail_asm_add(struct mail_asm *a, const char *peer, int64_t row, uint64_t time,
    const struct mail_part *p, uint8_t **mail, size_t *len) SOTTO_MUST_CHECK;
/* Drops the mails whose first part came before time (their sender gave up on them);
 * returns how many. */
size_t mail_asm_expire(struct mail_asm *a, uint64_t before);
/* The smallest history row of a mail still in progress, or INT64_MAX if none. */
int64_t mail_asm_oldest_row(const struct mail_asm *a);
size_t mail_asm_pending(const struct mail_asm *a);
void mail_asm_free(struct mail_asm *a);

/*
 * The receiving bridge's progress, kept as one sealed setting: the history row up to which
 * every mail was filed, and the ids of the most recent mails filed (so replaying history
 * from that row after a crash files none twice).
 *   u64 row, u16 n (<= MAIL_DONE_MAX), n x (16-byte mail id)
 */
#define MAIL_DONE_MAX 512
struct mail_progress {
	int64_t row;
	size_t n;                       /* ids in done, oldest first */
	uint8_t done[MAIL_DONE_MAX][MAIL_CONTENT_ID_LEN];
};

int mail_progress_encode(const struct mail_progress *p, struct buf *out) SOTTO_MUST_CHECK;
int mail_progress_decode(const uint8_t *v, size_t len, struct mail_progress *p)
    SOTTO_MUST_CHECK;
int mail_progress_has(const struct mail_progress *p, const uint8_t id[MAIL_CONTENT_ID_LEN]);
/* Records id, dropping the oldest when full. */
void mail_progress_add(struct mail_progress *p, const uint8_t id[MAIL_CONTENT_ID_LEN]);

#endif
