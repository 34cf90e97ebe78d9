/*
 * A bounded RFC 5322 + MIME structure parser: header fields, address lists, encoded words,
 * bodies with their transfer encoding undone (what IMAP renders from it is imap/imap_mime.h).
 * The parse never fails on malformed mail: a
 * multipart without a usable boundary or parts, or nesting beyond MIME_MAX_DEPTH, or parts
 * beyond MIME_MAX_PARTS, degrades to a text/plain leaf. Only allocation failure is an error.
 * Parts refer to the caller's bytes, which must outlive the struct mime_msg.
 */
#ifndef SOTTO_MAIL_MIME_H
#define SOTTO_MAIL_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "base/scan.h"
#include "sotto/error.h"

#define MIME_MAX_DEPTH 16
#define MIME_MAX_PARTS 512
#define MIME_BOUNDARY_MAX 70       /* RFC 2046 section 5.1.1 */

enum mime_kind {
	MIME_LEAF = 0,
	MIME_MULTIPART,
	MIME_MESSAGE                   /* message/rfc822: one child, the enclosed message */
};

struct mime_part {
	struct span hdr;               /* header fields and the blank line ending them */
	struct span body;
	size_t lines;                  /* lines in the body */
	enum mime_kind kind;
	int parent, first_child, next_sibling;     /* indexes into parts, -1 for none */
	int digest_child;              /* default type is message/rfc822 (multipart/digest) */
	int degraded;                  /* declared type unusable: reported as text/plain */
	int has_ctype;
	struct span ctype;             /* raw Content-Type value (may be folded) */
};

struct mime_msg {
	struct cur all;                /* the whole message */
	struct mime_part *parts;       /* parts[0] is the message itself */
	size_t nparts, cap;
};

int mime_parse(struct mime_msg *m, const uint8_t *data, size_t len) SOTTO_MUST_CHECK;
void mime_free(struct mime_msg *m);

/* Header fields: iterate a cursor over a header section. field spans the whole field with
 * its line ends; value is what follows the colon, still folded. Returns 0 at the end. */
int mime_header_next(struct cur *h, struct span *field, struct span *name, struct span *value);
/* The first field called name (case-insensitive) in part's header; 0 if absent. */
int mime_header_find(const struct mime_msg *m, const struct mime_part *p, const char *name,
    struct span *value);
/* Appends value unfolded (CR and LF removed), with surrounding whitespace trimmed. */
void mime_unfold(struct buf *out, const uint8_t *v, size_t n);

/* Content-Type of part idx: type and subtype as in the mail (defaults applied: text/plain,
 * message/rfc822 in a digest, text/plain when degraded). */
void mime_ctype(const struct mime_msg *m, int idx, const uint8_t **type, size_t *tlen,
    const uint8_t **sub, size_t *slen);
/* Skips comments and folding white space (RFC 5322 CFWS). */
void mime_skip_cfws(struct cur *c);
/* An RFC 2045 token (any printable except specials); 0 if none. */
int mime_token(struct cur *c, struct span *tok);
/* Positions c after the type/subtype of a Content-Type value, or after the disposition type
 * of a Content-Disposition value; 0 if there was none. */
int mime_params_begin(struct cur *c);
/* The next ";name=value" parameter: 1 with the name's span and the unquoted value appended
 * to val (which the caller resets), 0 at the end or at malformed input. */
int mime_param_next(struct cur *c, struct span *name, struct buf *val);

/* One entry of an address list, as mime_addresses_each reads it: a mailbox (name, adl,
 * mbox and host, each possibly empty; encoded words in name left as they are), a group's
 * start (mbox holds the group name) or end (all NULL), or a bare local part (host empty). */
enum mime_addr_kind { MIME_ADDR_MAILBOX, MIME_ADDR_GROUP_START, MIME_ADDR_GROUP_END };
struct mime_addr {
	enum mime_addr_kind kind;
	const struct buf *name, *adl, *mbox, *host;
};
/* Calls fn for each entry of the address list v, in order. ENVELOPE and the sender check
 * (mail_sender.h) both read addresses through this one parser. */
void mime_addresses_each(const uint8_t *v, size_t n,
    void (*fn)(void *arg, const struct mime_addr *a), void *arg);

/* Appends value v unfolded, with RFC 2047 encoded words (B and Q) decoded; ISO-8859-1
 * text becomes UTF-8, other charsets keep their bytes. Appends at most 2n bytes. */
void mime_decode_words(struct buf *out, const uint8_t *v, size_t n);
/* Appends the body of part idx with its Content-Transfer-Encoding undone (base64,
 * quoted-printable) and ISO-8859-1 turned into UTF-8: at most twice the body's length. */
void mime_decode_body(struct buf *out, const struct mime_msg *m, int idx);

#endif
