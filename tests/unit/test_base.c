#include <string.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "check.h"

TEST(cursor_reads_big_endian)
{
	static const uint8_t in[] = { 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4 };
	struct cur c;

	cur_init(&c, in, sizeof(in));
	CHECK_EQ_INT(cur_u8(&c), 1);
	CHECK_EQ_INT(cur_u16(&c), 2);
	CHECK_EQ_INT(cur_u32(&c), 3);
	CHECK_EQ_INT(cur_u64(&c), 4);
	CHECK_EQ_INT(cur_finish(&c), 0);
}

TEST(cursor_truncation_is_sticky)
{
	static const uint8_t in[] = { 1, 2, 3 };
	struct cur c;

	cur_init(&c, in, sizeof(in));
	CHECK_EQ_INT(cur_u32(&c), 0);
	CHECK_EQ_INT(cur_u8(&c), 0);
	CHECK(cur_ref(&c, 0) == NULL);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRUNCATED);
}

TEST(cursor_rejects_trailing)
{
	static const uint8_t in[] = { 1, 2 };
	struct cur c;

	cur_init(&c, in, sizeof(in));
	(void)cur_u8(&c);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRAILING);
	CHECK_EQ_INT(cur_status(&c), 0);
}

TEST(cursor_length_checked_before_read)
{
	static const uint8_t in[] = { 0xff, 0xff, 1, 2 };
	struct cur c;
	size_t n = 99;

	cur_init(&c, in, sizeof(in));
	CHECK(cur_lv16(&c, 100, &n) == NULL);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TOO_LARGE);

	cur_init(&c, in + 2, 0);
	CHECK(cur_lv16(&c, 100, &n) == NULL);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRUNCATED);
}

TEST(cursor_on_empty_null_input)
{
	struct cur c;
	size_t n;

	cur_init(&c, NULL, 0);
	CHECK(cur_ref(&c, 0) != NULL);
	CHECK(cur_rest(&c, &n) != NULL && n == 0);
	CHECK_EQ_INT(cur_finish(&c), 0);
	CHECK(cur_ref(&c, 1) == NULL);
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRUNCATED);
}

static void
init_str(struct cur *c, const char *s)
{
	cur_init(c, (const uint8_t *)s, strlen(s));
}

TEST(cursor_peek_does_not_consume)
{
	struct cur c;

	init_str(&c, "ab");
	CHECK_EQ_INT(cur_peek(&c), 'a');
	CHECK_EQ_INT(cur_peek(&c), 'a');
	CHECK_EQ_INT(cur_peek_at(&c, 1), 'b');
	CHECK_EQ_INT(cur_peek_at(&c, 2), -1);
	CHECK_EQ_INT(cur_peek_at(&c, SIZE_MAX), -1);
	CHECK_EQ_INT(cur_u8(&c), 'a');
	CHECK_EQ_INT(cur_peek(&c), 'b');
	CHECK_EQ_INT(cur_peek_at(&c, 1), -1);
	CHECK_EQ_INT(cur_u8(&c), 'b');
	CHECK_EQ_INT(cur_peek(&c), -1);
	CHECK_EQ_INT(cur_finish(&c), 0);
	/* A byte 0xff is 255, not the end. */
	{
		const uint8_t ff[] = { 0xff };
		cur_init(&c, ff, 1);
		CHECK_EQ_INT(cur_peek(&c), 255);
	}
	cur_init(&c, NULL, 0);
	CHECK_EQ_INT(cur_peek(&c), -1);
	CHECK(cur_peek_ref(&c, 1) == NULL);
	CHECK_EQ_INT(cur_finish(&c), 0);
}

TEST(cursor_peek_ref_and_starts_with)
{
	struct cur c;
	const uint8_t *p;

	init_str(&c, "MAIL FROM");
	p = cur_peek_ref(&c, 4);
	REQUIRE(p != NULL);
	CHECK(memcmp(p, "MAIL", 4) == 0);
	CHECK(cur_peek_ref(&c, 9) != NULL);
	CHECK(cur_peek_ref(&c, 10) == NULL);
	CHECK(cur_peek_ref(&c, 0) != NULL);
	CHECK_EQ_INT(cur_pos(&c), 0);
	CHECK(cur_starts_with(&c, "mail", 4, 1));
	CHECK(!cur_starts_with(&c, "mail", 4, 0));
	CHECK(cur_starts_with(&c, "MAIL", 4, 0));
	CHECK(!cur_starts_with(&c, "MAIL FROM:", 10, 1));     /* longer than what is left */
	CHECK(!cur_starts_with(&c, "mail_", 5, 1));
	CHECK(cur_starts_with(&c, "", 0, 0));
	/* Folding is ASCII letters only: '@' (0x40) does not match '`' (0x60). */
	init_str(&c, "@");
	CHECK(!cur_starts_with(&c, "`", 1, 1));
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRAILING);
}

TEST(cursor_find_byte_and_crlf)
{
	struct cur c;

	init_str(&c, "a:b\r\nc\r\n");
	CHECK_EQ_INT(cur_find(&c, ':'), 1);
	CHECK_EQ_INT(cur_find(&c, 'a'), 0);
	CHECK(cur_find(&c, 'z') == CUR_NPOS);
	CHECK_EQ_INT(cur_find_crlf(&c), 3);
	(void)cur_ref(&c, 4);                   /* "\nc\r\n" left */
	CHECK_EQ_INT(cur_find(&c, '\n'), 0);
	CHECK_EQ_INT(cur_find_crlf(&c), 2);
	CHECK(cur_find(&c, ':') == CUR_NPOS);   /* only what is left is searched */
	CHECK_EQ_INT(cur_pos(&c), 4);
	/* A CR at the very end, or a CR and LF apart, is no CRLF. */
	init_str(&c, "x\r");
	CHECK(cur_find_crlf(&c) == CUR_NPOS);
	init_str(&c, "\rx\n");
	CHECK(cur_find_crlf(&c) == CUR_NPOS);
	init_str(&c, "\r\r\n");
	CHECK_EQ_INT(cur_find_crlf(&c), 1);
	cur_init(&c, NULL, 0);
	CHECK(cur_find(&c, 0) == CUR_NPOS);
	CHECK(cur_find_crlf(&c) == CUR_NPOS);
}

TEST(cursor_take_until)
{
	struct cur c;
	const uint8_t *p;
	size_t n = 99;

	cur_init(&c, (const uint8_t *)"user\0pass", 9);
	p = cur_take_until(&c, 0, &n);
	REQUIRE(p != NULL);
	CHECK_EQ_INT(n, 4);
	CHECK(memcmp(p, "user", 4) == 0);
	CHECK_EQ_INT(cur_peek(&c), 0);          /* the delimiter is left next */
	CHECK_EQ_INT(cur_u8(&c), 0);
	/* No delimiter: nothing taken, nothing consumed, the cursor still good. */
	n = 99;
	CHECK(cur_take_until(&c, 0, &n) == NULL);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(cur_left(&c), 4);
	CHECK_EQ_INT(cur_status(&c), 0);
	/* A delimiter right away: an empty field, borrowed (not NULL). */
	init_str(&c, ":x");
	p = cur_take_until(&c, ':', &n);
	CHECK(p != NULL && n == 0);
	CHECK_EQ_INT(cur_pos(&c), 0);
	cur_init(&c, NULL, 0);
	CHECK(cur_take_until(&c, ':', &n) == NULL && n == 0);
}

TEST(cursor_slice_and_pos)
{
	struct cur c;
	const uint8_t *p;

	init_str(&c, "hello world");
	CHECK_EQ_INT(cur_pos(&c), 0);
	(void)cur_ref(&c, 6);
	CHECK_EQ_INT(cur_pos(&c), 6);
	p = cur_slice(&c, 0, 5);                /* bytes already read are reachable */
	REQUIRE(p != NULL);
	CHECK(memcmp(p, "hello", 5) == 0);
	p = cur_slice(&c, 6, 5);
	REQUIRE(p != NULL);
	CHECK(memcmp(p, "world", 5) == 0);
	CHECK(cur_slice(&c, 6, 6) == NULL);     /* one past the end */
	CHECK(cur_slice(&c, 12, 0) == NULL);
	CHECK(cur_slice(&c, 11, 1) == NULL);
	CHECK(cur_slice(&c, SIZE_MAX, 2) == NULL);
	CHECK(cur_slice(&c, 1, SIZE_MAX) == NULL);
	CHECK(cur_slice(&c, 11, 0) != NULL);    /* an empty span at the end */
	CHECK_EQ_INT(cur_pos(&c), 6);           /* none of it moved the cursor */
	CHECK_EQ_INT(cur_left(&c), 5);
	cur_init(&c, NULL, 0);
	CHECK(cur_slice(&c, 0, 0) != NULL);
	CHECK(cur_slice(&c, 0, 1) == NULL);
}

TEST(cursor_lookahead_after_error_finds_nothing)
{
	struct cur c;
	size_t n = 99;

	init_str(&c, "ab:\r\n");
	(void)cur_u64(&c);                      /* fails: 5 bytes left */
	REQUIRE(cur_status(&c) == SOTTO_ERR_TRUNCATED);
	CHECK_EQ_INT(cur_peek(&c), -1);
	CHECK_EQ_INT(cur_peek_at(&c, 0), -1);
	CHECK(cur_peek_ref(&c, 1) == NULL);
	CHECK(!cur_starts_with(&c, "ab", 2, 0));
	CHECK(!cur_starts_with(&c, "", 0, 0));
	CHECK(cur_find(&c, ':') == CUR_NPOS);
	CHECK(cur_find_crlf(&c) == CUR_NPOS);
	CHECK(cur_take_until(&c, ':', &n) == NULL && n == 0);
	/* The buffer itself stays viewable by position. */
	CHECK(cur_slice(&c, 2, 1) != NULL && *cur_slice(&c, 2, 1) == ':');
	CHECK(cur_slice(&c, 5, 1) == NULL);
	/* The lookahead did not clear or change the error. */
	CHECK_EQ_INT(cur_finish(&c), SOTTO_ERR_TRUNCATED);
	/* cur_fail makes it fail the same way. */
	init_str(&c, "ab");
	cur_fail(&c, SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(cur_peek(&c), -1);
	CHECK(cur_find(&c, 'a') == CUR_NPOS);
	CHECK_EQ_INT(cur_status(&c), SOTTO_ERR_MALFORMED);
}

TEST(buf_roundtrip_through_cursor)
{
	struct buf b;
	struct cur c;
	const uint8_t *p;
	size_t n;

	buf_init_dyn(&b, 1 << 20);
	buf_u8(&b, 7);
	buf_u16(&b, 0x1234);
	buf_u64(&b, 0x0102030405060708ull);
	buf_lv16(&b, "hello", 5);
	buf_lv32(&b, "", 0);
	REQUIRE(buf_status(&b) == 0);
	cur_init(&c, b.p, b.len);
	CHECK_EQ_INT(cur_u8(&c), 7);
	CHECK_EQ_INT(cur_u16(&c), 0x1234);
	CHECK(cur_u64(&c) == 0x0102030405060708ull);
	p = cur_lv16(&c, 16, &n);
	CHECK(p != NULL && n == 5 && memcmp(p, "hello", 5) == 0);
	p = cur_lv32(&c, 16, &n);
	CHECK(p != NULL && n == 0);
	CHECK_EQ_INT(cur_finish(&c), 0);
	buf_wipe_free(&b);
}

TEST(buf_fixed_overflow_is_error)
{
	uint8_t mem[4];
	struct buf b;

	buf_init_fixed(&b, mem, sizeof(mem));
	buf_u32(&b, 1);
	CHECK_EQ_INT(buf_status(&b), 0);
	buf_u8(&b, 1);
	CHECK_EQ_INT(buf_status(&b), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(b.len, 4);
}

TEST(buf_dyn_respects_max)
{
	struct buf b;
	uint8_t big[100] = { 0 };

	buf_init_dyn(&b, 150);
	buf_put(&b, big, 100);
	CHECK_EQ_INT(buf_status(&b), 0);
	buf_put(&b, big, 51);
	CHECK_EQ_INT(buf_status(&b), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(b.len, 100);
	buf_free(&b);
}

TEST(strerror_covers_every_code)
{
	int e;

	for (e = 0; e > SOTTO_ERR__LAST; e--)
		CHECK(strcmp(sotto_strerror(e), "unknown error") != 0);
	CHECK(strcmp(sotto_strerror(1), "unknown error") == 0);
	CHECK(strcmp(sotto_strerror(SOTTO_ERR__LAST), "unknown error") == 0);
}

int
main(void)
{
	RUN(cursor_reads_big_endian);
	RUN(cursor_truncation_is_sticky);
	RUN(cursor_rejects_trailing);
	RUN(cursor_length_checked_before_read);
	RUN(cursor_on_empty_null_input);
	RUN(cursor_peek_does_not_consume);
	RUN(cursor_peek_ref_and_starts_with);
	RUN(cursor_find_byte_and_crlf);
	RUN(cursor_take_until);
	RUN(cursor_slice_and_pos);
	RUN(cursor_lookahead_after_error_finds_nothing);
	RUN(buf_roundtrip_through_cursor);
	RUN(buf_fixed_overflow_is_error);
	RUN(buf_dyn_respects_max);
	RUN(strerror_covers_every_code);
	return check_summary();
}
