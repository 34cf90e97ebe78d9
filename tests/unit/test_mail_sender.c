/* The sender check and the receipt rewrite (issue 18 item 1): what passes, what is
 * rewritten, and that a rewrite cannot be turned into a second From line by folding,
 * bare CR, encoded words or a planted X-Sotto-Claimed field. */
#include <stdio.h>
#include <string.h>

#include "mail/mail_sender.h"
#include "check.h"

#define ME "alice@example.org"

static enum mail_sender_verdict
check_hdr(const char *mail)
{
	return mail_sender_check((const uint8_t *)mail, strlen(mail), ME);
}

/* The rewrite of mail as a string (static buffer), or NULL if it was left alone. */
static const char *
rewrite(const char *mail)
{
	static char out[8192];
	struct buf b;
	int rewritten = 0, r;

	buf_init_dyn(&b, strlen(mail) + MAIL_SENDER_GROWTH);
	r = mail_sender_rewrite((const uint8_t *)mail, strlen(mail), ME, &b, &rewritten);
	if (r != 0 || !rewritten || b.len >= sizeof(out)) {
		buf_free(&b);
		return NULL;
	}
	memcpy(out, b.p, b.len);
	out[b.len] = '\0';
	buf_free(&b);
	return out;
}

TEST(sender_check_verdicts)
{
	CHECK_EQ_INT(check_hdr("From: " ME "\r\n\r\nx"), MAIL_SENDER_OK);
	CHECK_EQ_INT(check_hdr("From: The Director <" ME ">\r\n\r\nx"), MAIL_SENDER_OK);
	CHECK_EQ_INT(check_hdr("From: \"" ME "\" <alice@EXAMPLE.org>\r\n\r\nx"), MAIL_SENDER_OK);
	CHECK_EQ_INT(check_hdr("From: " ME ", " ME "\r\nSender: " ME "\r\n\r\nx"), MAIL_SENDER_OK);
	CHECK_EQ_INT(check_hdr("From: =?utf-8?b?QWxpY2U=?=\r\n <" ME ">\r\n\r\n"), MAIL_SENDER_OK);
	CHECK_EQ_INT(check_hdr("Subject: none\r\n\r\nFrom: carol@example.org\r\n"),
	    MAIL_SENDER_NO_FROM);
	CHECK_EQ_INT(check_hdr("From: The Director <carol@example.org>\r\n\r\n"),
	    MAIL_SENDER_MISMATCH);
	CHECK_EQ_INT(check_hdr("From: " ME "\r\nSender: " ME ", " ME "\r\n\r\n"),
	    MAIL_SENDER_MISMATCH);      /* Sender: exactly one */
	CHECK_EQ_INT(check_hdr("FROM : " ME "\r\nfrom: carol@example.org\r\n\r\n"),
	    MAIL_SENDER_MISMATCH);
	CHECK_EQ_INT(check_hdr("From: =?utf-8?q?carol=40example.org?= <" ME ">\r\n\r\n"),
	    MAIL_SENDER_MISMATCH);
	CHECK_EQ_INT(check_hdr("From: " ME " (carol@example.org)\r\n\r\n"),
	    MAIL_SENDER_MISMATCH);
	CHECK_EQ_INT(check_hdr("From: =?utf-8?q?x=0D=0AFrom:_a?= <" ME ">\r\n\r\n"),
	    MAIL_SENDER_MISMATCH);      /* a line break hidden in a display name */
	CHECK_EQ_INT(check_hdr("From: Alice@example.org\r\n\r\n"), MAIL_SENDER_MISMATCH);
	CHECK_EQ_INT(check_hdr("From: alice@example.org.\r\n\r\n"), MAIL_SENDER_MISMATCH);
}

TEST(sender_clean_mail_is_left_alone)
{
	CHECK(rewrite("From: Alice <" ME ">\r\nTo: bob@example.org\r\n\r\nhi\r\n") == NULL);
}

TEST(sender_forged_mail_is_rewritten)
{
	const char *o = rewrite("Received: x\r\nFrom: The Director\r\n <carol@example.org>\r\n"
	    "Sender: carol@example.org\r\nX-Sotto-Claimed-From: planted\r\nSubject: s\r\n"
	    "\r\nFrom: in the body stays\r\n");

	REQUIRE(o != NULL);
	CHECK(strcmp(o, "From: " ME "\r\n"
	    "X-Sotto-Claimed-From: The Director <carol@example.org>\r\n"
	    "X-Sotto-Claimed-Sender: carol@example.org\r\n"
	    "Received: x\r\nSubject: s\r\n\r\nFrom: in the body stays\r\n") == 0);
	/* no From at all: one is added, nothing claimed */
	o = rewrite("Subject: s\r\n\r\nb");
	REQUIRE(o != NULL);
	CHECK(strcmp(o, "From: " ME "\r\nSubject: s\r\n\r\nb") == 0);
}

TEST(sender_rewrite_resists_line_tricks)
{
	char many[4096];
	const char *o;
	size_t n = 0;
	int i;

	/* a bare CR: some readers see a From line in the Subject */
	o = rewrite("From: " ME "\r\nSubject: hi\rFrom: carol@example.org\r\n\r\nb");
	REQUIRE(o != NULL);
	CHECK(strstr(o, "\r\nSubject: hi From: carol@example.org\r\n") != NULL);
	CHECK(strchr(o, '\r') != NULL && strstr(o, "\rF") == NULL);
	/* a leading continuation line would fold into the From line put on top */
	o = rewrite(" From: carol@example.org\r\nSubject: s\r\n\r\nb");
	REQUIRE(o != NULL);
	CHECK(strcmp(o, "From: " ME "\r\nSubject: s\r\n\r\nb") == 0);
	/* control characters in a claim cannot end its line */
	o = rewrite("From: x\x01y\x7f <carol@example.org>\r\n\r\nb");
	REQUIRE(o != NULL);
	CHECK(strstr(o, "X-Sotto-Claimed-From: x?y? <carol@example.org>\r\n") != NULL);
	/* many From fields: all removed, the first few claimed */
	for (i = 0; i < 10; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "From: c%d@example.org\r\n", i);
	snprintf(many + n, sizeof(many) - n, "\r\nb");
	o = rewrite(many);
	REQUIRE(o != NULL);
	CHECK(strstr(o, "X-Sotto-Claimed-From: c3@example.org\r\n") != NULL);
	CHECK(strstr(o, "c4@") == NULL && strstr(o, "\nFrom:") == NULL);
	/* whatever was rewritten passes the check */
	CHECK_EQ_INT(check_hdr(o), MAIL_SENDER_OK);
}

int
main(void)
{
	RUN(sender_check_verdicts);
	RUN(sender_clean_mail_is_left_alone);
	RUN(sender_forged_mail_is_rewritten);
	RUN(sender_rewrite_resists_line_tricks);
	return check_summary();
}
