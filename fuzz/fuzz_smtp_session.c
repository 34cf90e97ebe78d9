/*
 * The whole SMTP session state machine over arbitrary client bytes, without sockets: this
 * harness supplies its own listener (every listener_* symbol the engine uses, so the real
 * listener.o is never linked in), a synchronous backend, and runs libuv only to complete
 * password checks. Checks that every reply is a well-formed line and that the session is
 * freed (ASan reports leaks and use-after-free).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/auth.h"
#include "bridge/listener.h"
#include "smtp/smtp.h"

struct listener {
	struct listener_ops ops;
	void *arg;
};

struct listener_conn {
	int closing;
	int paused;
};

static struct listener fake;

int
listener_start(struct listener **out, uv_loop_t *loop, const struct listener_config *cfg,
    const struct listener_ops *ops, void *arg, char *why, size_t whylen)
{
	(void)loop;
	(void)cfg;
	(void)why;
	(void)whylen;
	fake.ops = *ops;
	fake.arg = arg;
	*out = &fake;
	return 0;
}

uint16_t
listener_port(const struct listener *l)
{
	(void)l;
	return 25;
}

void
listener_stop(struct listener *l, void (*done)(void *), void *arg)
{
	(void)l;
	if (done != NULL)
		done(arg);
}

int
listener_conn_write(struct listener_conn *c, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (c->closing)
		return SOTTO_ERR_CLOSED;
	/* One reply line per write: "DDD" then " " or "-", CRLF at the end only. */
	if (n < 6 || n > 1024 || b[n - 2] != '\r' || b[n - 1] != '\n')
		abort();
	if (b[0] < '2' || b[0] > '5' || b[1] < '0' || b[1] > '9' || b[2] < '0' || b[2] > '9' ||
	    (b[3] != ' ' && b[3] != '-'))
		abort();
	if (memchr(b, '\n', n - 1) != NULL || memchr(b, '\r', n - 2) != NULL)
		abort();
	if (getenv("SOTTO_FUZZ_TRACE") != NULL)
		fwrite(p, 1, n, stderr);
	return 0;
}

void
listener_conn_close(struct listener_conn *c)
{
	c->closing = 1;
}

void
listener_conn_abort(struct listener_conn *c)
{
	c->closing = 1;
}

void
listener_conn_pause(struct listener_conn *c)
{
	c->paused = 1;
}

void
listener_conn_resume(struct listener_conn *c)
{
	c->paused = 0;
}

const char *
listener_conn_peer(const struct listener_conn *c)
{
	(void)c;
	return "127.0.0.1";
}

int
listener_conn_closing(const struct listener_conn *c)
{
	return c->closing;
}

static void
be_check_rcpt(void *arg, const char *addr, smtp_rcpt_done done, void *ctx)
{
	(void)arg;
	done(ctx, (enum smtp_rcpt_verdict)((unsigned char)(addr[0] - 'b') % 4), "reason\r\nX");
}

static void
be_deliver(void *arg, const struct smtp_mail *m, size_t i, smtp_deliver_done done, void *ctx)
{
	(void)arg;
	if (m->copy_len > m->original_len)
		abort();
	done(ctx, (enum smtp_deliver_result)((unsigned char)(m->rcpts[i][0] - 'b') % 3), NULL);
}

#define USER "alice@a.example"
#define PW "pw"
/* "EHLO x", then AUTH PLAIN with "\0alice@a.example\0pw" */
static const char login[] = "EHLO x\r\nAUTH PLAIN AGFsaWNlQGEuZXhhbXBsZQBwdw==\r\n";

static uv_loop_t loop;
static struct smtp_server *srv;
static struct bridge_auth *auth;

static void
setup(void)
{
	static char hash[BRIDGE_AUTH_HASH_BYTES];
	struct bridge_auth_config ac = {
		.user = USER, .pw_hash = hash, .fail_delay_ms = 1, .delay_max_ms = 1,
		.free_failures = 1000000,
	};
	struct smtp_config sc = { .user = USER, .max_size = 4096, .max_rcpts = 3 };
	struct smtp_backend be = { NULL, be_check_rcpt, be_deliver };
	char why[200];

	uv_loop_init(&loop);
	if (bridge_auth_hash_password(PW, 2, crypto_pwhash_OPSLIMIT_MIN,
	    crypto_pwhash_MEMLIMIT_MIN, hash) != 0 ||
	    bridge_auth_new(&auth, &loop, &ac) != 0 ||
	    smtp_server_start(&srv, &loop, &sc, &be, auth, why, sizeof(why)) != 0)
		abort();
}

static void
feed(struct listener_conn *c, void *state, const uint8_t *p, size_t n, size_t step)
{
	size_t off = 0;

	while (off < n && !c->closing) {
		size_t chunk = n - off < step ? n - off : step, used;

		if (c->paused) {
			uv_run(&loop, UV_RUN_DEFAULT);
			if (c->paused)
				abort();        /* nothing left that could resume it */
			continue;
		}
		used = fake.ops.read(state, p + off, chunk);
		if (used > chunk)
			abort();
		off += used;
		if (used < chunk && !c->paused && !c->closing)
			abort();        /* held bytes back without waiting for anything */
	}
	uv_run(&loop, UV_RUN_DEFAULT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct listener_conn c = { 0, 0 };
	void *state;
	size_t step;

	if (srv == NULL)
		setup();
	if (size < 1 || size > 16384)
		return 0;
	step = 1 + (data[0] >> 1) * 8;
	state = fake.ops.open(fake.arg, &c);
	if (state == NULL)
		abort();
	if (data[0] & 1)
		feed(&c, state, (const uint8_t *)login, sizeof(login) - 1, 1000);
	feed(&c, state, data + 1, size - 1, step);
	fake.ops.closed(state, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	return 0;
}
