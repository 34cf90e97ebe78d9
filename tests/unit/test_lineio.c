#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "bridge/lineio.h"
#include "check.h"

/* Collects the event stream as text: "L:<line>|" (with "~" for a bare LF), "T|" for a
 * line over the cap, "D:<bytes>|" for literal bytes (chunks merged), "E|" for its end. */
struct trace {
	struct buf out;
	int in_literal;
};

static void
trace_item(struct trace *t, const struct lineio_item *it)
{
	switch (it->ev) {
	case LINEIO_LINE:
		buf_put(&t->out, "L:", 2);
		buf_put(&t->out, it->p, it->len);
		buf_put(&t->out, it->crlf ? "|" : "~|", it->crlf ? 1 : 2);
		break;
	case LINEIO_TOO_LONG:
		buf_put(&t->out, "T|", 2);
		break;
	case LINEIO_LITERAL:
		if (!t->in_literal)
			buf_put(&t->out, "D:", 2);
		t->in_literal = 1;
		buf_put(&t->out, it->p, it->len);
		break;
	case LINEIO_LITERAL_END:
		if (!t->in_literal)
			buf_put(&t->out, "D:", 2);
		t->in_literal = 0;
		buf_put(&t->out, "|E|", 3);
		break;
	default:
		break;
	}
}

/* Feeds `in` cut at the given points, expecting literals after lines ending in "{N}". */
static int
run_split(const char *in, const size_t *cuts, size_t ncuts, size_t line_max, const char *want)
{
	struct lineio l;
	struct trace t;
	struct lineio_item it;
	struct cur c;
	size_t len = strlen(in), start = 0, i;
	int ok;

	lineio_init(&l, line_max, 16);
	memset(&t, 0, sizeof(t));
	buf_init_dyn(&t.out, 4096);
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		cur_init(&c, (const uint8_t *)in + start, end - start);
		while (lineio_next(&l, &c, &it) != LINEIO_MORE) {
			trace_item(&t, &it);
			if (it.ev == LINEIO_LINE && it.len >= 3 && it.p[it.len - 1] == '}' &&
			    it.p[it.len - 3] == '{') {
				if (lineio_expect_literal(&l, (uint64_t)(it.p[it.len - 2] - '0')) != 0)
					buf_put(&t.out, "X|", 2);
			}
		}
		if (cur_left(&c) != 0)
			buf_put(&t.out, "LEFTOVER", 8);
		start = end;
	}
	ok = t.out.len == strlen(want) && memcmp(t.out.p, want, t.out.len) == 0;
	if (!ok)
		fprintf(stderr, "got '%.*s'\nwant '%s'\n", (int)t.out.len, t.out.p, want);
	buf_free(&t.out);
	lineio_free(&l);
	return ok;
}

static const char stream[] = "A1 LOGIN x\r\nhello\nA2 APPEND {5}\r\nab\r\nc tail\r\n\r\nlast\r\n";
static const char stream_want[] =
    "L:A1 LOGIN x|L:hello~|L:A2 APPEND {5}|D:ab\r\nc|E|L: tail|L:|L:last|";

TEST(lineio_whole_input)
{
	CHECK(run_split(stream, NULL, 0, 64, stream_want));
}

TEST(lineio_every_single_split_point)
{
	size_t n = strlen(stream), k;

	for (k = 0; k <= n; k++)
		CHECK(run_split(stream, &k, 1, 64, stream_want));
}

TEST(lineio_every_pair_of_split_points)
{
	size_t n = strlen(stream), a, b;

	for (a = 0; a <= n; a++)
		for (b = a; b <= n; b++) {
			size_t cuts[2] = { a, b };
			CHECK(run_split(stream, cuts, 2, 64, stream_want));
		}
}

TEST(lineio_byte_by_byte)
{
	size_t n = strlen(stream), cuts[sizeof(stream)], k;

	for (k = 0; k < n; k++)
		cuts[k] = k;
	CHECK(run_split(stream, cuts, n, 64, stream_want));
}

TEST(lineio_cap_is_exact)
{
	/* 8 bytes of content fit a cap of 8 with either ending; 9 do not. */
	CHECK(run_split("12345678\r\n12345678\n123456789\r\nok\r\n", NULL, 0, 8,
	    "L:12345678|L:12345678~|T|L:ok|"));
}

TEST(lineio_overlong_line_at_every_split_keeps_stream_in_sync)
{
	const char *in = "abcdefghijklmnopqrstuvwxyz\r\nnext\r\n";
	size_t n = strlen(in), k;

	for (k = 0; k <= n; k++)
		CHECK(run_split(in, &k, 1, 8, "T|L:next|"));
}

TEST(lineio_never_buffers_past_cap)
{
	struct lineio l;
	struct lineio_item it;
	struct cur c;
	uint8_t junk[1000];
	int i;

	memset(junk, 'x', sizeof(junk));
	lineio_init(&l, 100, 0);
	for (i = 0; i < 100; i++) {
		cur_init(&c, junk, sizeof(junk));
		CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_MORE);
		CHECK_EQ_INT(cur_left(&c), 0);
		CHECK(l.line.cap <= 101);
	}
	CHECK(lineio_pending(&l));
	cur_init(&c, (const uint8_t *)"\nok\n", 4);
	CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_TOO_LONG);
	CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_LINE);
	CHECK_EQ_INT(it.len, 2);
	CHECK(!lineio_pending(&l));
	lineio_free(&l);
}

TEST(lineio_cr_split_from_lf_and_inner_cr)
{
	size_t cut = 3;

	CHECK(run_split("ab\r\n", &cut, 1, 8, "L:ab|"));
	CHECK(run_split("a\rb\r\n", NULL, 0, 8, "L:a\rb|"));
	/* A held CR must not let content exceed the cap. */
	CHECK(run_split("12345678\r\r\n", NULL, 0, 8, "T|"));
	cut = 9;
	CHECK(run_split("12345678\r\r\n", &cut, 1, 8, "T|"));
}

TEST(lineio_literal_over_cap_refused_and_zero_literal)
{
	struct lineio l;
	struct lineio_item it;
	struct cur c;

	lineio_init(&l, 64, 10);
	cur_init(&c, (const uint8_t *)"x {11}\r\n", 8);
	CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_LINE);
	CHECK_EQ_INT(lineio_expect_literal(&l, 11), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(lineio_expect_literal(&l, 10), 0);
	CHECK(lineio_pending(&l));
	lineio_free(&l);

	lineio_init(&l, 64, 10);
	cur_init(&c, (const uint8_t *)"x {0}\r\nrest\r\n", 13);
	CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_LINE);
	CHECK_EQ_INT(lineio_expect_literal(&l, 0), 0);
	CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_LITERAL_END);
	CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_LINE);
	CHECK_MEM(it.p, "rest", 4);
	lineio_free(&l);
}

TEST(lineio_literal_mid_line_is_a_state_error)
{
	struct lineio l;
	struct lineio_item it;
	struct cur c;

	lineio_init(&l, 64, 10);
	cur_init(&c, (const uint8_t *)"partial", 7);
	CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_MORE);
	CHECK_EQ_INT(lineio_expect_literal(&l, 1), SOTTO_ERR_STATE);
	lineio_free(&l);
}

TEST(lineio_set_line_max_clamps_to_init_cap)
{
	CHECK(run_split("123456789\r\n", NULL, 0, 9, "L:123456789|"));
	{
		struct lineio l;
		struct lineio_item it;
		struct cur c;

		lineio_init(&l, 4, 0);
		lineio_set_line_max(&l, 100);
		CHECK_EQ_INT(l.line_max, 4);
		cur_init(&c, (const uint8_t *)"12345\r\n", 7);
		CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_TOO_LONG);
		lineio_set_line_max(&l, 2);
		cur_init(&c, (const uint8_t *)"123\r\n12\r\n", 9);
		CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_TOO_LONG);
		CHECK_EQ_INT(lineio_next(&l, &c, &it), LINEIO_LINE);
		lineio_free(&l);
	}
}

int
main(void)
{
	RUN(lineio_whole_input);
	RUN(lineio_every_single_split_point);
	RUN(lineio_every_pair_of_split_points);
	RUN(lineio_byte_by_byte);
	RUN(lineio_cap_is_exact);
	RUN(lineio_overlong_line_at_every_split_keeps_stream_in_sync);
	RUN(lineio_never_buffers_past_cap);
	RUN(lineio_cr_split_from_lf_and_inner_cr);
	RUN(lineio_literal_over_cap_refused_and_zero_literal);
	RUN(lineio_literal_mid_line_is_a_state_error);
	RUN(lineio_set_line_max_clamps_to_init_cap);
	return check_summary();
}
