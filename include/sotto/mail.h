/*
 * Mail in libsotto's public API, for the front ends (the CLI, the daemon, the bridge):
 * what a mail says about itself, and whether its From: is its sender. The folders are
 * sotto/mailstore.h.
 */
#ifndef SOTTO_MAIL_H
#define SOTTO_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#define SOTTO_MAIL_SUBJECT_MAX 200     /* bytes of a subject shown (cut at a character) */

/* A history entry's mail as people and scripts see it. */
struct sotto_mail_summary {
	int part;                   /* 1: a part of a mail sent in parts by a client before
	                             * schema 5 (its outgoing history); 0: a whole mail */
	uint32_t index, count;      /* this part, and how many the mail has */
	uint64_t size;              /* bytes of the whole mail */
	uint8_t id[16];             /* the mail's id (parts only) */
	char subject[SOTTO_MAIL_SUBJECT_MAX + 1];       /* unfolded; may be empty */
};

/* Reads body (a MAIL entry of the history or a MAIL event): never fails, an unreadable
 * header gives an empty subject. */
void sotto_mail_summary(const uint8_t *body, size_t len, struct sotto_mail_summary *out);

enum sotto_mail_sender {
	SOTTO_MAIL_SENDER_OK = 0,       /* every From and Sender field is the address */
	SOTTO_MAIL_SENDER_NO_FROM,      /* no From field (Sender fields, if any, pass) */
	SOTTO_MAIL_SENDER_MISMATCH,     /* a From or Sender field says something else */
};

/* The top-level header of mail (RFC 5322) against addr: what SMTP submission checks. */
enum sotto_mail_sender sotto_mail_sender_check(const uint8_t *mail, size_t len,
    const char *addr);

#endif
