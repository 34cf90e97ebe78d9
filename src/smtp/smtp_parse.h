/*
 * SMTP command parsing for the submission engine (RFC 5321 section 4.1, RFC 6409):
 * the verb, reverse-/forward-paths, and the ESMTP parameters we advertise. Everything
 * reads the command line through struct cur; results borrow nothing from the line except
 * smtp_cmd.arg.
 */
#ifndef SOTTO_SMTP_SMTP_PARSE_H
#define SOTTO_SMTP_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

/* RFC 5321 section 4.5.3.1 limits. */
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256               /* including the angle brackets */
#define SMTP_CMD_LINE_MAX 510           /* 512 with CRLF */
#define SMTP_TEXT_LINE_MAX 998          /* 1000 with CRLF */
#define SMTP_SIZE_DIGITS 20

enum smtp_verb {
	SMTP_UNKNOWN = 0,
	SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_RSET, SMTP_NOOP,
	SMTP_QUIT, SMTP_VRFY, SMTP_EXPN, SMTP_HELP, SMTP_AUTH, SMTP_STARTTLS, SMTP_BDAT,
};

struct smtp_cmd {
	enum smtp_verb verb;
	const uint8_t *arg;     /* borrowed: after "VERB " (MAIL/RCPT: after "FROM:"/"TO:") */
	size_t arg_len;
};

/* Splits a command line (without CRLF). SOTTO_ERR_MALFORMED for a NUL or other control
 * byte, a non-ASCII byte, or MAIL/RCPT without FROM:/TO:; an unknown verb is not an
 * error (verb SMTP_UNKNOWN). */
int smtp_parse_command(const uint8_t *line, size_t len, struct smtp_cmd *out) SOTTO_MUST_CHECK;

struct smtp_path {
	char addr[SMTP_PATH_MAX + 1];   /* "local@domain", domain lower-cased; "" for <> */
	size_t len;
	int null_path;                  /* "<>" */
	int postmaster;                 /* "<Postmaster>" without a domain (RCPT only) */
};

/* Reads "<path>" (optional spaces before it, a source route ignored). MALFORMED for bad
 * syntax, TOO_LARGE over the RFC 5321 limits. */
int smtp_parse_path(const uint8_t *p, size_t len, struct smtp_path *out, size_t *used)
    SOTTO_MUST_CHECK;

enum smtp_body { SMTP_BODY_DEFAULT = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

struct smtp_mail_params {
	uint64_t size;          /* SIZE=, 0 if absent */
	int has_size;
	enum smtp_body body;
};

/* Parameters after a MAIL path: SIZE=, BODY=7BIT|8BITMIME, AUTH= (accepted, ignored).
 * SOTTO_ERR_MALFORMED for bad syntax or a repeat (501), SOTTO_ERR_UNSUPPORTED for an
 * unknown parameter or value (555), SOTTO_ERR_TOO_LARGE for SIZE over 20 digits. */
int smtp_parse_mail_params(const uint8_t *p, size_t len, struct smtp_mail_params *out)
    SOTTO_MUST_CHECK;
/* RCPT: we support no parameters: 0 if there are none, else as above. */
int smtp_parse_rcpt_params(const uint8_t *p, size_t len) SOTTO_MUST_CHECK;

/* "AUTH mech [initial-response]": the mechanism (upper-cased into mech) and the borrowed
 * initial response (NULL if absent; "=" means an empty one, RFC 4954). */
int smtp_parse_auth(const uint8_t *p, size_t len, char mech[static 21], const uint8_t **ir,
    size_t *ir_len) SOTTO_MUST_CHECK;

#endif
