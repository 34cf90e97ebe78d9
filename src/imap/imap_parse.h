/*
 * The IMAP command tokenizer (RFC 3501 section 9): reads one complete command, literals
 * included ("{N}\r\n" then N bytes, or "{N+}" for LITERAL+), through a cursor. Quoted
 * strings are unescaped into a scratch area sized to the command, so no token can grow
 * past the bytes the peer sent. Every reader returns 1 on success and 0 on a syntax error.
 */
#ifndef SOTTO_IMAP_IMAP_PARSE_H
#define SOTTO_IMAP_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/cursor.h"
#include "sotto/error.h"

#define IMAP_SEQSET_MAX 4096       /* ranges in one sequence set */

struct imap_str {
	const uint8_t *p;
	size_t len;
};

struct imap_parser {
	struct cur c;
	uint8_t *scratch;
	size_t scratch_len, scratch_cap;
};

/* A sequence set; 0 stands for "*" (the largest number in use) */
struct imap_seqset {
	struct {
		uint32_t lo, hi;
	} *r;
	size_t n, cap;
};

int imap_parser_init(struct imap_parser *p, const uint8_t *cmd, size_t len) SOTTO_MUST_CHECK;
void imap_parser_free(struct imap_parser *p);

int imap_peek(const struct imap_parser *p);
int imap_accept(struct imap_parser *p, int ch);
int imap_sp(struct imap_parser *p);
/* The end of the command: CRLF (or a bare LF) and nothing after it. */
int imap_eol(struct imap_parser *p);
int imap_at_eol(const struct imap_parser *p);
int imap_tag(struct imap_parser *p, struct imap_str *tag);
int imap_atom(struct imap_parser *p, struct imap_str *a);
/* Letters, digits and dots: FETCH item names such as RFC822.SIZE or HEADER.FIELDS. */
int imap_keyword(struct imap_parser *p, struct imap_str *k);
int imap_string(struct imap_parser *p, struct imap_str *s);
int imap_astring(struct imap_parser *p, struct imap_str *s);
/* NIL gives s->p == NULL. */
int imap_nstring(struct imap_parser *p, struct imap_str *s);
/* A LIST pattern: atom characters plus % * ] or a string. */
int imap_list_mailbox(struct imap_parser *p, struct imap_str *s);
int imap_number(struct imap_parser *p, uint32_t *v);
int imap_number64(struct imap_parser *p, uint64_t *v);
int imap_seqset_parse(struct imap_parser *p, struct imap_seqset *s);
void imap_seqset_free(struct imap_seqset *s);
/* Whether v is in s when "*" means star. */
int imap_seqset_has(const struct imap_seqset *s, uint32_t v, uint32_t star);
/* "dd-Mon-yyyy" (search) as days since 1970-01-01; quoted or not. */
int imap_date(struct imap_parser *p, int64_t *days);
/* "dd-Mon-yyyy hh:mm:ss +zzzz" (APPEND), quoted, as unix seconds. */
int imap_datetime(struct imap_parser *p, int64_t *t);
/* Case-insensitive comparison of a token with a keyword. */
int imap_is(const struct imap_str *s, const char *kw);
/* Month name ("Jan".."Dec", any case) to 1..12, or 0. */
int imap_month(const uint8_t *p, size_t n);
int64_t imap_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
