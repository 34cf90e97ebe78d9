/* Mail split into parts for the ratchet and put back together (bridge/mail_content.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mail/mail_content.h"
#include "check.h"

static uint8_t *
make_mail(size_t len)
{
	uint8_t *m = malloc(len);
	size_t i;

	for (i = 0; m != NULL && i < len; i++)
		m[i] = (uint8_t)(i * 131 + (i >> 8));
	return m;
}

/* Splits a mail of len bytes and puts it back together from the parts in reverse order,
 * one of them twice; without its last part it is not whole yet. */
static int
roundtrip(size_t len)
{
	uint8_t id[MAIL_CONTENT_ID_LEN], *mail = make_mail(len), *out = NULL;
	const uint8_t *pv[9];
	size_t lv[9], olen = 0;
	struct buf parts[8];
	uint32_t count = 0, i, n = 0;
	int ok = 0;

	randombytes_buf(id, sizeof(id));
	if (mail == NULL || mail_content_count(len, &count) != 0 || count > 8)
		goto out;
	for (i = 0; i < count; i++)
		buf_init_dyn(&parts[i], SOTTO_TEXT_MAX);
	for (i = 0; i < count; i++)
		if (mail_content_part(id, mail, len, i, &parts[i]) != 0 ||
		    parts[i].len > SOTTO_TEXT_MAX)
			goto out_parts;
	for (i = count; i-- > 0;) {
		pv[n] = parts[i].p;
		lv[n++] = parts[i].len;
	}
	pv[n] = parts[count - 1].p;     /* a duplicate */
	lv[n++] = parts[count - 1].len;
	if (count > 1 && mail_content_assemble(pv + 1, lv + 1, n - 2, &out, &olen) != 0)
		goto out_parts;
	ok = mail_content_assemble(pv, lv, n, &out, &olen) == 1 && olen == len &&
	    memcmp(out, mail, len) == 0;
out_parts:
	for (i = 0; i < count; i++)
		buf_free(&parts[i]);
out:
	free(out);
	free(mail);
	return ok;
}

TEST(mail_content_roundtrips)
{
	uint32_t n;

	CHECK(roundtrip(1));
	CHECK(roundtrip(MAIL_CONTENT_CHUNK - 1));
	CHECK(roundtrip(MAIL_CONTENT_CHUNK));
	CHECK(roundtrip(MAIL_CONTENT_CHUNK + 1));
	CHECK(roundtrip(5 * MAIL_CONTENT_CHUNK + 17));
	CHECK(mail_content_count(0, &n) == SOTTO_ERR_INVALID_ARG);
	CHECK(mail_content_count(MAIL_CONTENT_MAX, &n) == 0 &&
	    n == (MAIL_CONTENT_MAX + MAIL_CONTENT_CHUNK - 1) / MAIL_CONTENT_CHUNK);
	CHECK(mail_content_count(MAIL_CONTENT_MAX + 1, &n) == SOTTO_ERR_TOO_LARGE);
}

static size_t
hdr(uint8_t *b, uint8_t ver, uint32_t total, uint32_t index, uint32_t count)
{
	memset(b, 0, MAIL_CONTENT_HEADER);
	b[0] = ver;
	b[17] = (uint8_t)(total >> 24); b[18] = (uint8_t)(total >> 16);
	b[19] = (uint8_t)(total >> 8); b[20] = (uint8_t)total;
	b[21] = (uint8_t)(index >> 24); b[22] = (uint8_t)(index >> 16);
	b[23] = (uint8_t)(index >> 8); b[24] = (uint8_t)index;
	b[25] = (uint8_t)(count >> 24); b[26] = (uint8_t)(count >> 16);
	b[27] = (uint8_t)(count >> 8); b[28] = (uint8_t)count;
	return MAIL_CONTENT_HEADER;
}

TEST(mail_content_parse_rejects)
{
	static uint8_t b[MAIL_CONTENT_HEADER + MAIL_CONTENT_CHUNK + 1];
	struct mail_part p;
	size_t h;

	h = hdr(b, 1, 5, 0, 1);
	CHECK(mail_content_parse(b, h + 5, &p) == 0 && p.len == 5 && p.data == b + h);
	CHECK(mail_content_parse(b, h + 4, &p) != 0);          /* short */
	CHECK(mail_content_parse(b, h + 6, &p) != 0);          /* trailing */
	CHECK(mail_content_parse(b, 10, &p) != 0);             /* header cut */
	hdr(b, 2, 5, 0, 1);
	CHECK(mail_content_parse(b, h + 5, &p) == SOTTO_ERR_BAD_VERSION);
	hdr(b, 1, 0, 0, 1);
	CHECK(mail_content_parse(b, h, &p) == SOTTO_ERR_MALFORMED);
	hdr(b, 1, MAIL_CONTENT_MAX + 1, 0, 1000);
	CHECK(mail_content_parse(b, h + MAIL_CONTENT_CHUNK, &p) == SOTTO_ERR_MALFORMED);
	hdr(b, 1, 5, 0, 2);                                     /* count disagrees */
	CHECK(mail_content_parse(b, h + 5, &p) == SOTTO_ERR_MALFORMED);
	hdr(b, 1, MAIL_CONTENT_CHUNK + 1, 2, 2);                /* index past count */
	CHECK(mail_content_parse(b, h + 1, &p) == SOTTO_ERR_MALFORMED);
	hdr(b, 1, MAIL_CONTENT_CHUNK + 1, 0, 2);                /* a middle part is whole */
	CHECK(mail_content_parse(b, h + 1, &p) != 0);
	CHECK(mail_content_parse(b, h + MAIL_CONTENT_CHUNK, &p) == 0 &&
	    p.len == MAIL_CONTENT_CHUNK);
}

/* Parts of two different mails (or a part that contradicts its mail) are no mail. */
TEST(mail_content_assemble_refuses_mixed_parts)
{
	uint8_t id1[MAIL_CONTENT_ID_LEN] = { 1 }, id2[MAIL_CONTENT_ID_LEN] = { 2 };
	uint8_t *mail = make_mail(MAIL_CONTENT_CHUNK + 10), *out = NULL;
	const uint8_t *pv[2];
	size_t lv[2], olen = 0;
	struct buf a, b;

	REQUIRE(mail != NULL);
	buf_init_dyn(&a, SOTTO_TEXT_MAX);
	buf_init_dyn(&b, SOTTO_TEXT_MAX);
	REQUIRE(mail_content_part(id1, mail, MAIL_CONTENT_CHUNK + 10, 0, &a) == 0);
	REQUIRE(mail_content_part(id2, mail, MAIL_CONTENT_CHUNK + 10, 1, &b) == 0);
	pv[0] = a.p;
	lv[0] = a.len;
	pv[1] = b.p;
	lv[1] = b.len;
	CHECK(mail_content_assemble(pv, lv, 2, &out, &olen) == SOTTO_ERR_MALFORMED);
	CHECK(out == NULL && olen == 0);
	/* the same id, another total length */
	REQUIRE(mail_content_part(id1, mail, MAIL_CONTENT_CHUNK + 9, 1, &b) == 0);
	pv[1] = b.p;
	lv[1] = b.len;
	CHECK(mail_content_assemble(pv, lv, 2, &out, &olen) == SOTTO_ERR_MALFORMED);
	/* not a part at all */
	lv[1] = 3;
	CHECK(mail_content_assemble(pv, lv, 2, &out, &olen) == SOTTO_ERR_MALFORMED);
	CHECK(mail_content_assemble(pv, lv, 0, &out, &olen) == 0);
	buf_free(&a);
	buf_free(&b);
	free(mail);
}

TEST(mail_progress_roundtrip)
{
	static struct mail_progress p, q;
	struct buf b;
	uint8_t id[MAIL_CONTENT_ID_LEN];
	unsigned i;

	memset(&p, 0, sizeof(p));
	p.row = 42;
	for (i = 0; i < MAIL_DONE_MAX + 3; i++) {
		memset(id, 0, sizeof(id));
		id[0] = (uint8_t)i;
		id[1] = (uint8_t)(i >> 8);
		mail_progress_add(&p, id);
	}
	CHECK(p.n == MAIL_DONE_MAX);
	id[0] = 0; id[1] = 0;
	CHECK(!mail_progress_has(&p, id));     /* the oldest went */
	id[0] = (uint8_t)(MAIL_DONE_MAX + 2); id[1] = (uint8_t)((MAIL_DONE_MAX + 2) >> 8);
	CHECK(mail_progress_has(&p, id));
	buf_init_dyn(&b, 1 << 16);
	REQUIRE(mail_progress_encode(&p, &b) == 0);
	CHECK(mail_progress_decode(b.p, b.len, &q) == 0 && q.row == 42 && q.n == p.n &&
	    memcmp(q.done, p.done, sizeof(p.done)) == 0);
	CHECK(mail_progress_decode(b.p, b.len - 1, &q) == SOTTO_ERR_MALFORMED && q.n == 0);
	b.p[8] = 0xff;                          /* n over the cap */
	CHECK(mail_progress_decode(b.p, b.len, &q) == SOTTO_ERR_MALFORMED);
	buf_free(&b);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(mail_content_roundtrips);
	RUN(mail_content_parse_rejects);
	RUN(mail_content_assemble_refuses_mixed_parts);
	RUN(mail_progress_roundtrip);
	return check_summary();
}
