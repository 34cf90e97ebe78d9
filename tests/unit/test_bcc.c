#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "smtp/smtp_bcc.h"
#include "check.h"

static int
strip_is(const char *in, const char *want)
{
	struct buf out;
	int ok;

	buf_init_dyn(&out, 1 << 16);
	ok = smtp_bcc_strip((const uint8_t *)in, strlen(in), &out) == 0 &&
	    out.len == strlen(want) && (out.len == 0 || memcmp(out.p, want, out.len) == 0);
	if (!ok)
		fprintf(stderr, "got:\n%.*s\nwant:\n%s\n", (int)out.len, out.p, want);
	buf_free(&out);
	return ok;
}

TEST(bcc_removed_with_folded_continuation)
{
	CHECK(strip_is(
	    "From: alice@a.example\r\n"
	    "To: bob@a.example\r\n"
	    "Bcc: carol@a.example,\r\n"
	    "\tdave@a.example\r\n"
	    "Subject: hi\r\n"
	    "  there\r\n"
	    "\r\n"
	    "Bcc: this is body text\r\n",
	    "From: alice@a.example\r\n"
	    "To: bob@a.example\r\n"
	    "Subject: hi\r\n"
	    "  there\r\n"
	    "\r\n"
	    "Bcc: this is body text\r\n"));
}

TEST(bcc_case_insensitive_resent_and_obsolete_space)
{
	CHECK(strip_is(
	    "BCC: x@y\r\nresent-bcc: z@y\r\nBcc : w@y\r\nBcc:\r\nTo: t@y\r\n\r\nbody",
	    "To: t@y\r\n\r\nbody"));
}

TEST(bcc_similar_names_and_continuations_kept)
{
	CHECK(strip_is(
	    "X-Bcc: keep\r\nBccx: keep\r\nSubject: a\r\n Bcc: part of subject\r\n\r\n",
	    "X-Bcc: keep\r\nBccx: keep\r\nSubject: a\r\n Bcc: part of subject\r\n\r\n"));
}

TEST(bcc_last_header_without_body_and_bare_lf)
{
	CHECK(strip_is("To: a@b\nBcc: c@d\n e@f\n", "To: a@b\n"));
	CHECK(strip_is("To: a@b\r\nBcc: c@d", "To: a@b\r\n"));
	CHECK(strip_is("", ""));
}

TEST(bcc_body_untouched_bytes_exact)
{
	static const char body[] = "\r\n.leading dot\r\nBcc: x\r\n\0binary\xff\r\n";
	char in[128];
	struct buf out;
	size_t hl = strlen("Bcc: q@r\r\n");

	memcpy(in, "Bcc: q@r\r\n", hl);
	memcpy(in + hl, body, sizeof(body) - 1);
	buf_init_dyn(&out, 1024);
	CHECK_EQ_INT(smtp_bcc_strip((const uint8_t *)in, hl + sizeof(body) - 1, &out), 0);
	CHECK_EQ_INT(out.len, sizeof(body) - 1);
	CHECK(out.len == sizeof(body) - 1 && memcmp(out.p, body, out.len) == 0);
	buf_free(&out);
}

TEST(bcc_output_cap_is_an_error)
{
	struct buf out;
	const char *in = "To: a@b\r\n\r\nlong body";

	buf_init_dyn(&out, 8);
	CHECK_EQ_INT(smtp_bcc_strip((const uint8_t *)in, strlen(in), &out), SOTTO_ERR_TOO_LARGE);
	buf_free(&out);
}

int
main(void)
{
	RUN(bcc_removed_with_folded_continuation);
	RUN(bcc_case_insensitive_resent_and_obsolete_space);
	RUN(bcc_similar_names_and_continuations_kept);
	RUN(bcc_last_header_without_body_and_bare_lf);
	RUN(bcc_body_untouched_bytes_exact);
	RUN(bcc_output_cap_is_an_error);
	return check_summary();
}
