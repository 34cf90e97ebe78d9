/*
 * What IMAP shows of a parsed mail (mail/mime.h): ENVELOPE, BODYSTRUCTURE, address lists
 * and the bytes of BODY[section] (RFC 3501 sections 6.4.5 and 7.4.2).
 */
#ifndef SOTTO_IMAP_IMAP_MIME_H
#define SOTTO_IMAP_IMAP_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mail/mime.h"
#include "sotto/error.h"

#define IMAP_SECTION_DEPTH 16      /* numbers in a section like 1.2.3 */
#define IMAP_FIELDS_MAX 64         /* names in HEADER.FIELDS (...) */

/* A body section (RFC 3501 section 6.4.5). */
enum imap_section_text {
	IMAP_SEC_ALL = 0,              /* BODY[] or BODY[1.2] */
	IMAP_SEC_HEADER,
	IMAP_SEC_HEADER_FIELDS,
	IMAP_SEC_HEADER_FIELDS_NOT,
	IMAP_SEC_TEXT,
	IMAP_SEC_MIME
};

struct imap_section {
	uint32_t part[IMAP_SECTION_DEPTH];
	size_t nparts;
	enum imap_section_text text;
	struct {
		const uint8_t *p;
		size_t len;
	} fields[IMAP_FIELDS_MAX];
	size_t nfields;
};

/* Appends the bytes of section s to out; a section that does not exist yields nothing. */
int imap_mime_section_get(const struct mime_msg *m, const struct imap_section *s, struct buf *out)
    SOTTO_MUST_CHECK;
/* IMAP ENVELOPE of the message part idx (0, or the child of a message/rfc822 part). */
void imap_mime_envelope(struct buf *out, const struct mime_msg *m, int idx);
/* IMAP BODYSTRUCTURE (extensible != 0) or BODY of part idx. */
void imap_mime_bodystructure(struct buf *out, const struct mime_msg *m, int idx, int extensible);
/* An RFC 5322 address list as an IMAP list of addresses, or NIL when it holds none. */
void imap_mime_addresses(struct buf *out, const uint8_t *v, size_t n);

#endif
