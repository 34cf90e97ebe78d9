/*
 * A minimal XMPP client codec for the load generator (RFC 6120/6121 c2s over plain TCP):
 * the stream header, SASL ANONYMOUS or PLAIN, resource binding and <message/> stanzas out;
 * a splitter that cuts the server's byte stream into top-level units (the stream header,
 * each complete first-level element, the stream's end) and small accessors for what the
 * client needs from them (a child element's text, an attribute). Not a general XML parser:
 * no DTDs, no entity declarations; comments, processing instructions and CDATA are skipped.
 * Server bytes are read through struct cur; one unit may not exceed XMPP_UNIT_MAX.
 */
#ifndef SOTTO_BENCH_XMPP_H
#define SOTTO_BENCH_XMPP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"

#define XMPP_UNIT_MAX (256u * 1024)
#define XMPP_NAME_MAX 64
#define XMPP_DEPTH_MAX 64

enum xmpp_kind {
	XMPP_STREAM_OPEN = 1,           /* <stream:stream ...> (unclosed) */
	XMPP_STREAM_CLOSE = 2,          /* </stream:stream> */
	XMPP_ELEMENT = 3                /* a complete first-level element */
};

/* One unit; p and len borrow the unit's bytes from the input. */
struct xmpp_unit {
	int kind;
	char name[XMPP_NAME_MAX + 1];   /* qualified name of the top tag ("iq", "stream:features") */
	const uint8_t *p;
	size_t len;
};

/*
 * Splits the unit at the start of p (whitespace between units is skipped and counted in
 * *used). Returns 1 with *u and *used set, 0 when more bytes are needed (*used may still
 * be non-zero: skipped whitespace), or SOTTO_ERR_MALFORMED / SOTTO_ERR_TOO_LARGE.
 */
int xmpp_next(const uint8_t *p, size_t len, size_t *used, struct xmpp_unit *u) SOTTO_MUST_CHECK;

/* The text of the first element named `name` inside u (at any depth), with the five
 * predefined entities and numeric ASCII references decoded, NUL-terminated. Returns 0,
 * SOTTO_ERR_NOT_FOUND, SOTTO_ERR_TOO_LARGE (over cap - 1 bytes) or SOTTO_ERR_MALFORMED. */
int xmpp_child_text(const struct xmpp_unit *u, const char *name, char *out, size_t cap,
    size_t *out_len) SOTTO_MUST_CHECK;
/* The value of attribute `attr` of u's top tag, decoded like text. */
int xmpp_attr(const struct xmpp_unit *u, const char *attr, char *out, size_t cap)
    SOTTO_MUST_CHECK;
/* 1 if an element named `name` occurs inside u (its top tag included), else 0. */
int xmpp_has_child(const struct xmpp_unit *u, const char *name);

void xmpp_put_open(struct buf *b, const char *domain);
void xmpp_put_auth_anonymous(struct buf *b);
void xmpp_put_auth_plain(struct buf *b, const char *user, const char *password);
void xmpp_put_bind(struct buf *b, const char *id);
/* <message to= id= type='chat'><body>text</body></message>, text escaped. */
void xmpp_put_message(struct buf *b, const char *to, const char *id, const uint8_t *text,
    size_t len);
/* Appends s with &, <, >, ', " escaped. */
void xmpp_put_escaped(struct buf *b, const uint8_t *s, size_t len);

#endif
