#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/lineio.h"
#include "bridge/listener.h"
#include "check.h"
#include "uvthread.h"
#include "waitfor.h"

/* A small line engine over the listener: "ECHO x" -> "x", "WAIT" pauses reading for
 * 50 ms (what an engine does while a delivery is in flight), "QUIT" -> "BYE" and close,
 * "FLOOD" writes 4 MiB that the test never reads. */
struct echo {
	struct listener_conn *c;
	struct lineio lio;
	uv_timer_t wait;
	int waiting;
	int held;
	int flood_refused;
};

static struct uvthread ut;
static struct listener *lst;
static int opened, closed_count, flood_limit_seen;
static uint16_t port, idle_port;   /* idle_port: a listener with a short idle timeout */
static struct listener *lst_idle;

static void
on_wait_done(uv_timer_t *t)
{
	struct echo *e = t->data;

	e->waiting = 0;
	e->held = 0;
	(void)listener_conn_write(e->c, "RESUMED\r\n", 9);
	listener_conn_resume(e->c);
}

static void *
echo_open(void *arg, struct listener_conn *c)
{
	struct echo *e = calloc(1, sizeof(*e));

	(void)arg;
	e->c = c;
	lineio_init(&e->lio, 64, 0);
	uv_timer_init(&ut.loop, &e->wait);
	opened++;
	(void)listener_conn_write(c, "HELLO\r\n", 7);
	return e;
}

static size_t
echo_read(void *state, const uint8_t *p, size_t n)
{
	struct echo *e = state;
	struct lineio_item it;
	struct cur c;
	static uint8_t big[65536];
	int i;

	cur_init(&c, p, n);
	while (!e->waiting && !e->held && lineio_next(&e->lio, &c, &it) != LINEIO_MORE) {
		if (it.ev == LINEIO_TOO_LONG) {
			(void)listener_conn_write(e->c, "TOOLONG\r\n", 9);
		} else if (it.len >= 5 && memcmp(it.p, "ECHO ", 5) == 0) {
			(void)listener_conn_write(e->c, it.p + 5, it.len - 5);
			(void)listener_conn_write(e->c, "\r\n", 2);
		} else if (it.len == 4 && memcmp(it.p, "WAIT", 4) == 0) {
			e->waiting = 1;
			(void)listener_conn_write(e->c, "WAITING\r\n", 9);
		} else if (it.len == 5 && memcmp(it.p, "SHORT", 5) == 0) {
			listener_conn_set_idle(e->c, 200);
			(void)listener_conn_write(e->c, "SHORTENED\r\n", 11);
		} else if (it.len == 4 && memcmp(it.p, "HOLD", 4) == 0) {
			/* An explicit pause longer than the idle timeout must not time out. */
			listener_conn_pause(e->c);
			e->wait.data = e;
			e->held = 1;
			uv_timer_start(&e->wait, on_wait_done, 600, 0);
		} else if (it.len == 4 && memcmp(it.p, "QUIT", 4) == 0) {
			(void)listener_conn_write(e->c, "BYE\r\n", 5);
			listener_conn_close(e->c);
			break;
		} else if (it.len == 5 && memcmp(it.p, "FLOOD", 5) == 0) {
			for (i = 0; i < 64; i++) {
				int r = listener_conn_write(e->c, big, sizeof(big));
				if (r != 0) {
					flood_limit_seen = r == SOTTO_ERR_LIMIT;
					break;
				}
			}
			break;
		}
	}
	if (e->waiting) {
		e->wait.data = e;
		uv_timer_start(&e->wait, on_wait_done, 50, 0);
	}
	return cur_pos(&c);
}

static void
free_echo(uv_handle_t *h)
{
	free(h->data);
}

static void
echo_closed(void *state, int why)
{
	struct echo *e = state;

	(void)why;
	closed_count++;
	lineio_free(&e->lio);
	e->wait.data = e;
	uv_close((uv_handle_t *)&e->wait, free_echo);
}

static const struct listener_ops echo_ops = { echo_open, echo_read, echo_closed };

static int start_rc;

static void
start(void *arg)
{
	struct listener_config cfg = {
		.host = "127.0.0.1", .max_conns = 2, .idle_ms = 20000,
		.out_max = 65536, .busy_reply = "BUSY\r\n",
	};
	char why[200];

	(void)arg;
	start_rc = listener_start(&lst, &ut.loop, &cfg, &echo_ops, NULL, why,
	    sizeof(why));
	if (start_rc == 0)
		port = listener_port(lst);
	cfg.idle_ms = 300;
	if (start_rc == 0)
		start_rc = listener_start(&lst_idle, &ut.loop, &cfg, &echo_ops, NULL, why,
		    sizeof(why));
	if (start_rc == 0)
		idle_port = listener_port(lst_idle);
}

static void
read_counts(void *arg)
{
	int *v = arg;

	v[0] = opened;
	v[1] = closed_count;
}

/* The server has seen every connection of the tests go. */
static int
all_closed(void *arg)
{
	int *counts = arg;

	uvthread_call(&ut, read_counts, counts);
	return counts[0] == counts[1];
}

TEST(listener_echo_split_and_pipelined_with_pause)
{
	char buf[512];
	int fd = uvthread_connect(port);

	REQUIRE(fd >= 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "HELLO\r\n"), 0);
	CHECK_EQ_INT(uvthread_send(fd, "ECHO ab"), 0);
	usleep(20000);
	CHECK_EQ_INT(uvthread_send(fd, "c\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "abc\r\n"), 0);
	/* Lines after WAIT are held until the engine resumes, then answered in order. */
	CHECK_EQ_INT(uvthread_send(fd, "WAIT\r\nECHO one\r\nECHO two\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "two\r\n"), 0);
	CHECK(strstr(buf, "WAITING\r\nRESUMED\r\none\r\ntwo\r\n") != NULL);
	CHECK_EQ_INT(uvthread_send(fd, "ECHO 0123456789012345678901234567890123456789"
	    "012345678901234567890123456789\r\nECHO ok\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "ok\r\n"), 0);
	CHECK(strstr(buf, "TOOLONG\r\nok\r\n") != NULL);
	CHECK_EQ_INT(uvthread_send(fd, "QUIT\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "BYE\r\n"), 0);
	CHECK(uvthread_wait_eof(fd));
	close(fd);
}

TEST(listener_refuses_over_max_conns)
{
	char buf[512];
	int a = uvthread_connect(port), b = uvthread_connect(port), c, counts[2];

	REQUIRE(a >= 0 && b >= 0);
	CHECK_EQ_INT(uvthread_read_until(a, buf, sizeof(buf), "HELLO\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(b, buf, sizeof(buf), "HELLO\r\n"), 0);
	c = uvthread_connect(port);
	REQUIRE(c >= 0);
	CHECK_EQ_INT(uvthread_read_until(c, buf, sizeof(buf), "BUSY\r\n"), 0);
	CHECK(uvthread_wait_eof(c));
	close(a);
	close(b);
	close(c);
	/* the server sees them go before the next test connects */
	CHECK(wait_until(all_closed, counts, 5000));
}

TEST(listener_idle_timeout_closes)
{
	char buf[512];
	int fd = uvthread_connect(idle_port);

	REQUIRE(fd >= 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "HELLO\r\n"), 0);
	CHECK(uvthread_wait_eof(fd));   /* within the 5 s receive timeout, after 300 ms */
	close(fd);
}

TEST(listener_per_connection_idle_timeout)
{
	char buf[512];
	int fd = uvthread_connect(port);    /* the 20 s listener */

	REQUIRE(fd >= 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "HELLO\r\n"), 0);
	CHECK_EQ_INT(uvthread_send(fd, "SHORT\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "SHORTENED\r\n"), 0);
	CHECK(uvthread_wait_eof(fd));   /* well within the 5 s receive timeout */
	close(fd);
}

TEST(listener_pause_outlasts_idle_timeout)
{
	char buf[512];
	int fd = uvthread_connect(idle_port);

	REQUIRE(fd >= 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "HELLO\r\n"), 0);
	CHECK_EQ_INT(uvthread_send(fd, "HOLD\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "RESUMED\r\n"), 0);
	CHECK_EQ_INT(uvthread_send(fd, "ECHO after\r\n"), 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "after\r\n"), 0);
	CHECK(uvthread_wait_eof(fd));   /* and the idle timer runs again afterwards */
	close(fd);
}

static void
read_flood_flag(void *arg)
{
	*(int *)arg = flood_limit_seen;
}

TEST(listener_output_cap_drops_a_peer_that_does_not_read)
{
	char buf[512];
	int seen = 0;
	int fd = uvthread_connect(port);

	REQUIRE(fd >= 0);
	CHECK_EQ_INT(uvthread_read_until(fd, buf, sizeof(buf), "HELLO\r\n"), 0);
	CHECK_EQ_INT(uvthread_send(fd, "FLOOD\r\n"), 0);
	CHECK(uvthread_wait_eof(fd));
	/* The socket is closed inside the failing write, before the engine sees its result:
	 * read the flag from the loop thread, after that read callback has returned. */
	uvthread_call(&ut, read_flood_flag, &seen);
	CHECK(seen);
	close(fd);
}

TEST(listener_host_rule)
{
	char why[300];

	CHECK_EQ_INT(listener_check_host("127.0.0.1", NULL, why, sizeof(why)), 0);
	CHECK_EQ_INT(listener_check_host("127.3.4.5", NULL, why, sizeof(why)), 0);
	CHECK_EQ_INT(listener_check_host("::1", NULL, why, sizeof(why)), 0);
	CHECK_EQ_INT(listener_check_host(NULL, NULL, why, sizeof(why)), 0);
	CHECK_EQ_INT(listener_check_host("0.0.0.0", NULL, why, sizeof(why)), SOTTO_ERR_AUTH);
	CHECK(strstr(why, "no TLS key") != NULL);
	CHECK_EQ_INT(listener_check_host("192.168.1.2", "", why, sizeof(why)), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(listener_check_host("::", "/k.pem", why, sizeof(why)), SOTTO_ERR_UNSUPPORTED);
	CHECK(strstr(why, "STARTTLS") != NULL);
	CHECK_EQ_INT(listener_check_host("mail.example", NULL, why, sizeof(why)),
	    SOTTO_ERR_INVALID_ARG);
}

TEST(listener_parse_addr_forms)
{
	char host[64];
	uint16_t p = 0;

	CHECK_EQ_INT(listener_parse_addr("127.0.0.1:1025", host, sizeof(host), &p), 0);
	CHECK(strcmp(host, "127.0.0.1") == 0 && p == 1025);
	CHECK_EQ_INT(listener_parse_addr("[::1]:1143", host, sizeof(host), &p), 0);
	CHECK(strcmp(host, "::1") == 0 && p == 1143);
	CHECK_EQ_INT(listener_parse_addr("localhost:25", host, sizeof(host), &p), 0);
	CHECK_EQ_INT(listener_parse_addr("::1:25", host, sizeof(host), &p), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("127.0.0.1", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("127.0.0.1:", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("127.0.0.1:0", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("127.0.0.1:65536", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("127.0.0.1:0065535", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("127.0.0.1:1x", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr(":25", host, sizeof(host), &p), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("mail.example:25", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("[::1:25", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("127.0.0.1:25", host, 4, &p), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("[::1]1143", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("[::1]", host, sizeof(host), &p), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("[]:25", host, sizeof(host), &p), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("", host, sizeof(host), &p), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("127.0.0.1:1:2", host, sizeof(host), &p),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(listener_parse_addr("127.0.0.1:65535", host, sizeof(host), &p), 0);
	CHECK(strcmp(host, "127.0.0.1") == 0 && p == 65535);
}

static void
stop(void *arg)
{
	(void)arg;
	listener_stop(lst, NULL, NULL);
	listener_stop(lst_idle, NULL, NULL);
}

int
main(void)
{
	int counts[2];

	if (uvthread_start(&ut) != 0)
		return 1;
	uvthread_call(&ut, start, NULL);
	if (start_rc != 0)
		return 1;
	RUN(listener_echo_split_and_pipelined_with_pause);
	RUN(listener_refuses_over_max_conns);
	RUN(listener_idle_timeout_closes);
	RUN(listener_per_connection_idle_timeout);
	RUN(listener_pause_outlasts_idle_timeout);
	RUN(listener_output_cap_drops_a_peer_that_does_not_read);
	RUN(listener_host_rule);
	RUN(listener_parse_addr_forms);
	wait_until(all_closed, counts, 5000);
	check_begin("listener_every_open_is_closed_once");
	CHECK_EQ_INT(counts[0], counts[1]);
	CHECK(counts[0] >= 5);
	check_end();
	uvthread_call(&ut, stop, NULL);
	uvthread_stop(&ut);
	return check_summary();
}
