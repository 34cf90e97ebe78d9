/*
 * SEARCH keys (RFC 3501 section 6.4.4): parsed into a bounded tree, then matched per
 * message. Header and body keys need the message itself, which the matcher asks for
 * through a callback only when a key needs it.
 */
#ifndef SOTTO_IMAP_IMAP_SEARCH_H
#define SOTTO_IMAP_IMAP_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parse.h"
#include "mail/mime.h"

#define IMAP_SEARCH_NODES_MAX 256
#define IMAP_SEARCH_DEPTH_MAX 32

enum imap_skey {
	SK_ALL, SK_AND, SK_OR, SK_NOT, SK_FLAG_SET, SK_FLAG_UNSET, SK_NONE,
	SK_SEQ, SK_UID, SK_LARGER, SK_SMALLER,
	SK_BEFORE, SK_ON, SK_SINCE, SK_SENTBEFORE, SK_SENTON, SK_SENTSINCE,
	SK_HEADER, SK_BODY, SK_TEXT
};

struct imap_snode {
	enum imap_skey key;
	int first, next;            /* children (AND/OR/NOT) and siblings, -1 for none */
	uint32_t flag;              /* SK_FLAG_*: MAILSTORE_* bit */
	uint64_t num;               /* LARGER/SMALLER */
	int64_t day;                /* date keys: days since 1970-01-01 */
	struct imap_str field;      /* SK_HEADER: field name */
	struct imap_str value;      /* HEADER/BODY/TEXT: substring */
	struct imap_seqset set;
};

struct imap_search {
	struct imap_snode *n;
	size_t count;
	int root;
};

struct imap_search_msg {
	uint32_t seq, uid, flags;
	uint32_t max_seq, max_uid;  /* what "*" means */
	int64_t internaldate;
	uint64_t size;
	/* Returns the parsed message, or NULL if it cannot be had (the key then fails). */
	const struct mime_msg *(*load)(void *arg);
	void *load_arg;
};

/* Parses search keys up to the end of the command (CHARSET is the caller's). The strings
 * point into the parser, which must outlive the search. */
int imap_search_parse(struct imap_parser *p, struct imap_search *s) SOTTO_MUST_CHECK;
void imap_search_free(struct imap_search *s);
int imap_search_match(const struct imap_search *s, const struct imap_search_msg *m);
/* Days since 1970 of an RFC 5322 Date value; 0 if it cannot be read. */
int imap_search_date_header(const uint8_t *v, size_t n, int64_t *day);

#endif
