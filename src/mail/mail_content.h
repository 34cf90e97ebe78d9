/*
 * A mail as Sotto content. One ratchet message carries at most SOTTO_TEXT_MAX bytes, so
 * sotto_send_mail splits a mail (a whole RFC 5322 message) into parts, each sent as one
 * MAIL content, and the receiving client puts them back together (client/mail_in.c):
 *
 *   u8   version (MAIL_CONTENT_VERSION)
 *   16   mail id: one per recipient copy; the same for the same bytes to the same
 *        recipient (a keyed hash, mail_content_id), so a resubmitted mail is filed once
 *   u32  total length of the mail (1..MAIL_CONTENT_MAX)
 *   u32  index of this part (0..count-1)
 *   u32  count = ceil(total / MAIL_CONTENT_CHUNK)
 *   ...  the part: MAIL_CONTENT_CHUNK bytes, the last one what is left
 *
 * Big-endian. Parts are matched by (sender, mail id), so nobody can add to a mail someone
 * else sent (client/mail_in.c keeps them in the store until the mail is whole).
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

/* The setting (sealed) that holds the key of mail_content_id: made at the first mail
 * sent. Its name is the one the bridge gave it, so ids stay the same across versions. */
#define MAIL_ID_KEY_SETTING "bridge.idkey"
#define MAIL_ID_KEY_LEN 32

/*
 * The id of our copy of a mail for one recipient: a keyed hash, under a key only this
 * client holds, of the recipient's address and the exact bytes of the copy. The same mail
 * submitted again (a mail program retrying after a 4xx whose parts partly went out) gets
 * the same id, and the recipient files a mail id once. It is the whole mail, not just its
 * Message-ID, because parts are put together by id: two different mails under one id
 * could be mixed part by part. Without the key, nobody can tell from an id which mail it
 * is or predict another's.
 */
int mail_content_id(const uint8_t key[MAIL_ID_KEY_LEN], const char *addr, const uint8_t *mail,
    size_t len, uint8_t id[MAIL_CONTENT_ID_LEN]) SOTTO_MUST_CHECK;
/* The id of a whole received mail in the history (and in the seen set): a hash of the
 * sender's address and the mail id, so one sender cannot take another's mail id. */
void mail_content_history_id(const char *peer, const uint8_t id[MAIL_CONTENT_ID_LEN],
    uint8_t out[SOTTO_ID_LEN]);
/*
 * Puts a mail back together from its n parts as received (each a whole part, header
 * included; in any order). 1 with *mail (malloc'd, secret: wipe and free) and *len when
 * all count parts of one mail are there; 0 when some are missing; SOTTO_ERR_MALFORMED
 * when the parts are not of one mail (their sender broke it: drop them).
 */
int mail_content_assemble(const uint8_t *const *parts, const size_t *lens, size_t n,
    uint8_t **mail, size_t *len) SOTTO_MUST_CHECK;

/*
 * The receiving bridge's progress before schema 5 (read only by the fold of an older
 * store, store_mail_fold.c), kept as one sealed setting: the history row up to which
 * every mail was filed, and the ids of the most recent mails filed.
 *   u64 row, u16 n (<= MAIL_DONE_MAX), n x (16-byte mail id)
 */
#define MAIL_PROGRESS_SETTING "bridge.inbox"
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
