/* FETCH items (RFC 3501 section 6.4.5): parsing the item list and writing one message's
 * response data. */
#ifndef SOTTO_IMAP_IMAP_FETCH_H
#define SOTTO_IMAP_IMAP_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "imap/imap_parse.h"
#include "imap/imap_mime.h"

#define IMAP_FETCH_ATTS_MAX 32

enum imap_fa {
	FA_UID, FA_FLAGS, FA_INTERNALDATE, FA_RFC822_SIZE, FA_ENVELOPE, FA_BODY,
	FA_BODYSTRUCTURE, FA_RFC822, FA_RFC822_HEADER, FA_RFC822_TEXT, FA_SECTION
};

struct imap_fetch_att {
	enum imap_fa kind;
	int peek;
	struct imap_section sec;
	int partial;
	uint32_t off, len;
};

struct imap_fetch {
	struct imap_fetch_att att[IMAP_FETCH_ATTS_MAX];
	size_t n;
	int need_data;              /* the message bytes are needed */
	int sets_seen;              /* an item that implicitly sets \Seen */
	int has_uid, has_flags;
};

struct imap_fetch_msg {
	uint32_t uid, flags;
	int64_t internaldate;
	uint64_t size;
	const struct mime_msg *mime;    /* when need_data */
};

/* Parses the items after "FETCH seq-set SP"; strings point into the parser. */
int imap_fetch_parse(struct imap_parser *p, struct imap_fetch *f) SOTTO_MUST_CHECK;
/* Adds an item (UID for UID FETCH, FLAGS after an implicit \Seen) unless present. */
void imap_fetch_add(struct imap_fetch *f, enum imap_fa kind);
/* Writes "(item value ...)" for one message. */
int imap_fetch_put(struct buf *out, const struct imap_fetch *f, const struct imap_fetch_msg *m)
    SOTTO_MUST_CHECK;
/* The flags as an IMAP flag list. */
void imap_put_flags(struct buf *out, uint32_t flags);

#endif
