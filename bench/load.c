/*
 * sottod load generator (issue 3, Performance). Starts a sottod (pinned to CPU 0, the load
 * on CPU 1), opens N client connections that each complete the Noise handshake and register,
 * then has every client send sealed 256-byte envelopes to random other clients and acknowledge
 * what is pushed to it. Reports handshakes/s, server RSS per idle connection, delivered
 * messages/s, p50/p99 send-to-delivery latency and server CPU microseconds per message.
 * Between registration and the message phase, every client logs in twice more, timed: once
 * with a full Noise_XX handshake and once resuming with its ticket (Noise_NNpsk0,
 * wire/ticket.h); a login ends when the TICKET response (the new ticket) arrives.
 *
 *   load [-n CLIENTS] [-t SECONDS] [-r OFFERED_MSG_PER_S (0: as fast as possible)]
 *        [-w WINDOW per client] [-d full|normal]
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "wire/address.h"
#include "wire/frame.h"
#include "wire/msgid.h"
#include "wire/noise.h"
#include "wire/proto.h"
#include "wire/ticket.h"

#define ENV_LEN 256
#define MAX_LAT (1u << 22)

struct client {
	uv_tcp_t tcp;
	uv_connect_t creq;
	int idx;
	int state;                      /* 0 handshake, 1 registering or logging in, 2 ready */
	int resume;                     /* this login uses the ticket below */
	int login;                      /* a timed login: ask for a ticket right away */
	uint8_t ticket[TICKET_LEN];
	uint8_t psk[TICKET_PSK_LEN];    /* secret */
	int has_ticket;
	uint64_t login_gen;             /* LOGIN: the generation to present next */
	struct noise_hs hs;
	struct noise_transport tr;
	struct frame_decoder dec;
	struct frame_reasm reasm;
	uint8_t dev_sk[32], dev_pk[32], id_pk[32], id_sk[64];
	uint8_t e_sk[32];               /* ephemeral key, drawn before the timed handshakes */
	uint32_t next_id;
	uint32_t outstanding;
	uint64_t acks[PROTO_MAX_RECEIVED];
	size_t n_acks;
	struct buf out;                 /* frames of this loop turn, written by on_check */
	int dirty;
	struct client *dirty_next;      /* g.dirty list */
	int acks_queued;
	struct client *acks_next;       /* g.ack_list */
};

static struct {
	uv_loop_t *loop;
	struct client *c;
	int n;
	int handshaken, ready, ticketed, closed;
	int running;
	uint32_t window;
	double rate;
	uint64_t sent, delivered, acked_sends, errors;
	uint64_t *lat;                  /* ns */
	size_t n_lat;
	uint8_t server_pk[32];
	uint8_t server_x[32];           /* its X25519 form, converted once */
	struct client *dirty;           /* clients with output this loop turn */
	struct client *ack_list;        /* clients holding unsent RECEIVED ids */
	char host[ADDRESS_HOST_MAX + 1];
	int port;
	uint8_t scratch[FRAME_MAX];
	uv_timer_t tick;
	uv_check_t check;
	double credit;
	uint64_t last_tick;
} g;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "load: %s\n", what);
	exit(1);
}

static void
on_write(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void
flush_client(struct client *c)
{
	uv_write_t *w;
	uv_buf_t b;

	if (c->out.len == 0)
		return;
	if ((w = malloc(sizeof(*w) + c->out.len)) == NULL)
		die("out of memory");
	memcpy(w + 1, c->out.p, c->out.len);
	b = uv_buf_init((char *)(w + 1), (unsigned)c->out.len);
	if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0)
		die("write");
	buf_reset(&c->out);
}

/* Only the clients with output are visited at the end of the loop turn. */
static void
mark_dirty(struct client *c)
{
	if (c->dirty)
		return;
	c->dirty = 1;
	c->dirty_next = g.dirty;
	g.dirty = c;
}

static void
write_bytes(struct client *c, const uint8_t *p, size_t n)
{
	if (c->out.max == 0)
		buf_init_dyn(&c->out, 64u << 20);
	buf_put(&c->out, p, n);
	if (buf_status(&c->out) != 0)
		die("output buffer");
	mark_dirty(c);
}

static void flush_acks(struct client *c);

static void
on_check(uv_check_t *h)
{
	struct client *c, *next;

	(void)h;
	/* A client acknowledges what one read brought, as libsotto does once it stored it. */
	for (c = g.ack_list, g.ack_list = NULL; c != NULL; c = next) {
		next = c->acks_next;
		c->acks_queued = 0;
		flush_acks(c);
	}
	for (c = g.dirty, g.dirty = NULL; c != NULL; c = next) {
		next = c->dirty_next;
		c->dirty = 0;
		flush_client(c);
	}
}

static void
send_msg(struct client *c, struct proto_msg *m)
{
	static uint8_t enc[PROTO_ENVELOPE_MAX + 1024];
	struct buf e;

	buf_init_fixed(&e, enc, sizeof(enc));
	if (proto_encode(m, &e) != 0 || buf_status(&e) != 0)
		die("encode");
	if (c->out.max == 0)
		buf_init_dyn(&c->out, 64u << 20);
	/* Padded as libsotto pads (conn.c): SENDs cost the server what a real client's do. */
	if (frame_seal_padded(&c->tr, e.p, e.len, proto_padding(m), &c->out) != 0 ||
	    buf_status(&c->out) != 0)
		die("seal");
	mark_dirty(c);
}

static void
send_one(struct client *c)
{
	static struct proto_msg m;
	uint8_t env[ENV_LEN];
	uint64_t t = now_ns();
	int to;

	do
		to = (int)randombytes_uniform((uint32_t)g.n);
	while (to == c->idx && g.n > 1);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_SEND;
	m.id = ++c->next_id;
	snprintf(m.u.send.recipient, sizeof(m.u.send.recipient), "u%d@localhost", to);
	msgid_new_now(m.u.send.client_msg_id);
	memset(env, 0xab, sizeof(env));
	memcpy(env, &t, sizeof(t));
	m.u.send.envelope = env;
	m.u.send.envelope_len = sizeof(env);
	send_msg(c, &m);
	c->outstanding++;
	g.sent++;
}

static void
flush_acks(struct client *c)
{
	static struct proto_msg m;

	if (c->n_acks == 0)
		return;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_RECEIVED;
	m.id = ++c->next_id;
	m.u.received.n = c->n_acks;
	memcpy(m.u.received.ids, c->acks, c->n_acks * sizeof(uint64_t));
	send_msg(c, &m);
	c->n_acks = 0;
}

static void
do_register(struct client *c)
{
	static struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_REGISTER;
	m.id = ++c->next_id;
	snprintf(m.u.reg.address, sizeof(m.u.reg.address), "u%d@localhost", c->idx);
	memcpy(m.u.reg.identity_pk, c->id_pk, 32);
	memcpy(m.u.reg.device_pk, c->dev_pk, 32);
	if (proto_register_sign(&m.u.reg, c->id_sk) != 0)
		die("sign");
	send_msg(c, &m);
}

/* LOGIN, as libsotto sends it first on every connection: the login generation is checked
 * and advanced (one small write per group commit) and the answer carries the next ticket. */
static void
ask_ticket(struct client *c)
{
	static struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_LOGIN;
	m.id = ++c->next_id;
	m.u.login.generation = c->login_gen;
	send_msg(c, &m);
}

static void
on_message(struct client *c, const uint8_t *p, size_t len)
{
	static struct proto_msg m;

	if (proto_decode(p, len, &m) != 0)
		die("bad message from server");
	if (m.type == (PROTO_RESPONSE | PROTO_REGISTER)) {
		if (m.status != 0)
			die("register refused");
		c->state = 2;
		g.ready++;
	} else if (m.type == (PROTO_RESPONSE | PROTO_SEND)) {
		c->outstanding--;
		if (m.status == 0)
			g.acked_sends++;
		else
			g.errors++;
		if (g.running && g.rate == 0)
			while (c->outstanding < g.window)
				send_one(c);
	} else if (m.type == PROTO_PUSH) {
		uint64_t t;
		if (m.u.push.envelope_len == ENV_LEN) {
			memcpy(&t, m.u.push.envelope, sizeof(t));
			if (g.running && g.n_lat < MAX_LAT)
				g.lat[g.n_lat++] = now_ns() - t;
			if (g.running)
				g.delivered++;
		}
		c->acks[c->n_acks++] = m.u.push.envelope_id;
		if (c->n_acks >= 32) {
			flush_acks(c);
		} else if (!c->acks_queued) {
			c->acks_queued = 1;
			c->acks_next = g.ack_list;
			g.ack_list = c;
		}
	} else if (m.type == (PROTO_RESPONSE | PROTO_TICKET)) {
		if (m.status != 0)
			die("ticket refused");
		memcpy(c->ticket, m.u.ticket.ticket, TICKET_LEN);
		memcpy(c->psk, m.u.ticket.psk, TICKET_PSK_LEN);
		sodium_memzero(&m.u.ticket, sizeof(m.u.ticket));
		c->has_ticket = 1;
		c->state = 2;
		g.ticketed++;
	} else if (m.type == (PROTO_RESPONSE | PROTO_LOGIN)) {
		if (m.status != 0 || !m.u.logged_in.has_ticket)
			die("login refused");
		c->login_gen = m.u.logged_in.generation;
		memcpy(c->ticket, m.u.logged_in.ticket.ticket, TICKET_LEN);
		memcpy(c->psk, m.u.logged_in.ticket.psk, TICKET_PSK_LEN);
		sodium_memzero(&m.u.logged_in, sizeof(m.u.logged_in));
		c->has_ticket = 1;
		c->state = 2;
		g.ticketed++;
	} else if (m.type == (PROTO_RESPONSE | PROTO_RECEIVED)) {
		if (m.status != 0)
			g.errors++;
	}
}

static void
on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	static uint8_t rbuf[FRAME_MAX + 2];

	(void)h, (void)sz;
	*b = uv_buf_init((char *)rbuf, sizeof(rbuf));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct client *c = s->data;
	const uint8_t *in = (const uint8_t *)b->base, *frame, *msg;
	size_t left = n > 0 ? (size_t)n : 0, used, flen, mlen;
	uint8_t out[128], pl[8];
	struct buf ob;
	int r;

	if (n < 0)
		die("server closed a connection");
	while (left > 0) {
		r = frame_decoder_feed(&c->dec, in, left, &used, &frame, &flen);
		if (r < 0)
			die("bad frame");
		in += used;
		left -= used;
		if (r == 0)
			break;
		if (c->state == 0 && c->resume) {
			size_t k;
			/* <- e, ee: the server read the ticket; confirm with the first request. */
			if (noise_hs_read(&c->hs, frame, flen, pl, 0, &k) != 0 ||
			    noise_hs_split(&c->hs, &c->tr) != 0)
				die("resumption handshake");
			noise_hs_wipe(&c->hs);
			frame_decoder_transport(&c->dec);
			c->state = 1;
			g.handshaken++;
			ask_ticket(c);
			continue;
		}
		if (c->state == 0) {
			size_t k;
			if (noise_hs_read(&c->hs, frame, flen, pl, 0, &k) != 0 ||
			    noise_hs_write(&c->hs, NULL, 0, out + 2, sizeof(out) - 2, &k) != 0 ||
			    noise_hs_split(&c->hs, &c->tr) != 0)
				die("handshake");
			noise_hs_wipe(&c->hs);
			buf_init_fixed(&ob, out, sizeof(out));
			if (frame_put_handshake(&ob, out + 2, k) != 0)
				die("frame");
			write_bytes(c, ob.p, ob.len);
			frame_decoder_transport(&c->dec);
			c->state = 1;
			g.handshaken++;
			if (c->login)
				ask_ticket(c);
			continue;
		}
		r = frame_open(&c->tr, &c->reasm, frame, flen, g.scratch, &msg, &mlen);
		if (r < 0)
			die("frame open");
		if (r == 1)
			on_message(c, msg, mlen);
	}
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct client *c = req->data;
	uint8_t m1[64], out[70];
	struct buf ob;
	size_t k;

	if (status != 0)
		die("connect");
	frame_decoder_init(&c->dec);
	if (c->resume) {
		/* ticket || -> e (psk0), the ticket bound as the prologue */
		uint8_t prologue[sizeof(TICKET_PROLOGUE) - 1 + TICKET_LEN];
		uint8_t f1[FRAME_HDR_LEN + TICKET_FRAME1_LEN];

		memcpy(prologue, TICKET_PROLOGUE, sizeof(TICKET_PROLOGUE) - 1);
		memcpy(prologue + sizeof(TICKET_PROLOGUE) - 1, c->ticket, TICKET_LEN);
		if (noise_hs_init(&c->hs, TICKET_PATTERN, 1, prologue, sizeof(prologue), NULL,
		    NULL) != 0)
			die("resumption handshake");
		noise_hs_set_psk(&c->hs, c->psk);
		noise_hs_fix_ephemeral(&c->hs, c->e_sk);
		sodium_memzero(c->e_sk, sizeof(c->e_sk));
		memcpy(f1 + FRAME_HDR_LEN, c->ticket, TICKET_LEN);
		if (noise_hs_write(&c->hs, NULL, 0, f1 + FRAME_HDR_LEN + TICKET_LEN,
		    TICKET_MSG1_LEN, &k) != 0)
			die("resumption handshake");
		f1[0] = TICKET_FRAME1_LEN >> 8;
		f1[1] = TICKET_FRAME1_LEN & 0xff;
		frame_decoder_expect(&c->dec, TICKET_MSG2_LEN);
		frame_reasm_init(&c->reasm, FRAME_MSG_MAX_DEFAULT);
		write_bytes(c, f1, sizeof(f1));
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
		return;
	}
	if (noise_sotto_initiator_keys(&c->hs, c->dev_sk, c->dev_pk, g.server_x) != 0)
		die("handshake");
	noise_hs_fix_ephemeral(&c->hs, c->e_sk);
	sodium_memzero(c->e_sk, sizeof(c->e_sk));
	if (noise_hs_write(&c->hs, NULL, 0, m1, sizeof(m1), &k) != 0)
		die("handshake");
	buf_init_fixed(&ob, out, sizeof(out));
	if (frame_put_handshake(&ob, m1, k) != 0)
		die("frame");
	frame_decoder_expect(&c->dec, NOISE_SOTTO_MSG2_LEN);
	frame_reasm_init(&c->reasm, FRAME_MSG_MAX_DEFAULT);
	write_bytes(c, ob.p, ob.len);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void
connect_client(struct client *c)
{
	struct sockaddr_in sin;

	uv_ip4_addr(g.host, g.port, &sin);
	uv_tcp_init(g.loop, &c->tcp);
	c->tcp.data = c;
	c->creq.data = c;
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&sin, on_connect) != 0)
		die("connect");
}

static void
on_tick(uv_timer_t *t)
{
	(void)t;
	if (g.rate > 0 && g.running) {
		/* Open loop: the offered rate by elapsed time, spread over random clients. */
		uint64_t now = now_ns();
		if (g.last_tick != 0)
			g.credit += g.rate * (double)(now - g.last_tick) / 1e9;
		g.last_tick = now;
		while (g.credit >= 1.0) {
			send_one(&g.c[randombytes_uniform((uint32_t)g.n)]);
			g.credit -= 1.0;
		}
		/* Written now: the check after the next poll may be a tick away, and the
		 * messages are stamped already. */
		on_check(NULL);
	}
}

static void
run_until(int (*done)(void), double max_s)
{
	uint64_t end = now_ns() + (uint64_t)(max_s * 1e9);

	while (!done() && now_ns() < end) {
		/* Output queued outside a loop turn would wait for the check after the poll. */
		on_check(NULL);
		uv_run(g.loop, UV_RUN_ONCE);
	}
}

static int all_handshaken(void) { return g.handshaken == g.n; }
static int all_ticketed(void) { return g.ticketed == g.n; }
static int all_closed(void) { return g.closed == g.n; }

static void
on_closed(uv_handle_t *h)
{
	(void)h;
	g.closed++;
}

/* Ends every connection (after its output went out) and waits until they are closed. */
static void
close_all(void)
{
	g.closed = 0;
	for (int i = 0; i < g.n; i++) {
		struct client *c = &g.c[i];

		uv_read_stop((uv_stream_t *)&c->tcp);
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		noise_transport_wipe(&c->tr);
		frame_decoder_free(&c->dec);
		frame_reasm_free(&c->reasm);
		buf_reset(&c->out);
		c->state = 0;
	}
	run_until(all_closed, 10);
}

static void connect_client(struct client *c);
static double cpu_s(pid_t pid);
static double self_cpu_s(void);

/*
 * Every client logs in again, full or resumed; timed from the first connect to the last
 * LOGIN response (with the next ticket), with each side's CPU.
 */
static void
timed_logins(pid_t pid, int resume)
{
	double t0, t1, cpu0, cpu1, lcpu0, lcpu1;

	close_all();
	for (int i = 0; i < g.n; i++) {
		g.c[i].resume = resume;
		g.c[i].login = 1;
		randombytes_buf(g.c[i].e_sk, sizeof(g.c[i].e_sk));
	}
	usleep(100000);         /* let the server finish closing */
	g.handshaken = g.ticketed = 0;
	t0 = (double)now_ns() / 1e9;
	cpu0 = cpu_s(pid);
	lcpu0 = self_cpu_s();
	for (int i = 0; i < g.n; i++)
		connect_client(&g.c[i]);
	run_until(all_ticketed, 60);
	t1 = (double)now_ns() / 1e9;
	cpu1 = cpu_s(pid);
	lcpu1 = self_cpu_s();
	if (g.ticketed != g.n)
		die("not every client logged in");
	printf("logins/s %-15s %.0f (%d in %.3f s; server busy %.0f%%, %.1f us CPU per login;"
	    " load generator %.0f%%)\n", resume ? "resumed NNpsk0" : "full XX",
	    g.ticketed / (t1 - t0), g.ticketed, t1 - t0, (cpu1 - cpu0) * 100 / (t1 - t0),
	    (cpu1 - cpu0) * 1e6 / g.ticketed, (lcpu1 - lcpu0) * 100 / (t1 - t0));
	for (int i = 0; i < g.n; i++)
		g.c[i].resume = g.c[i].login = 0;
}
static int all_ready(void) { return g.ready == g.n; }
static int never(void) { return 0; }

static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static double
cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return 0;
	}
	fclose(f);
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* fields after the name: state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

static pid_t
start_server(char *dir, const char *durability, char *address, size_t cap)
{
	char path[PATH_MAX], bin[PATH_MAX - 16], exe[PATH_MAX - 32];
	const char *b = getenv("SOTTO_BUILD");
	ssize_t n;
	FILE *f;
	pid_t pid;

	if (b != NULL) {
		snprintf(bin, sizeof(bin), "%s/sottod", b);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			die("readlink");
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(bin, sizeof(bin), "%s/sottod", exe);
	}
	snprintf(path, sizeof(path), "%s/sottod.conf", dir);
	if ((f = fopen(path, "w")) == NULL)
		die("conf");
	fprintf(f, "listen = 127.0.0.1:0\nregistration = open\nlog_level = warn\n"
	    "durability = %s\nconn_rate = 1000000\nconn_burst = 1000000\n"
	    "account_rate = 1000000\naccount_burst = 1000000\nconn_rate_preauth = 1000\n"
	    "max_conns_per_addr = 100000\naccept_rate = 0\nmax_conns = 100000\nmailbox_max = 1000000\n"
	    "mailbox_max_mib = 4096\n"
	    "push_window = 1024\n", durability);
	fclose(f);
	if ((pid = fork()) == 0) {
		pin(0);
		execl(bin, bin, "run", "--data", dir, (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/sottod.address", dir);
	for (int i = 0; i < 500; i++) {
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(address, (int)cap, f) != NULL) {
				fclose(f);
				address[strcspn(address, "\n")] = '\0';
				return pid;
			}
			fclose(f);
		}
		usleep(10000);
	}
	die("sottod did not start");
	return -1;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/sotto-bench-XXXXXX", address[400], cmd[128];
	const char *durability = "full";
	struct address_server as;
	double secs = 3, t0, t1, cpu0, cpu1, lcpu0, lcpu1;
	long rss0, rss1;
	pid_t pid;
	int opt;

	g.n = 200;
	g.window = 4;
	while ((opt = getopt(argc, argv, "n:t:r:w:d:")) != -1) {
		switch (opt) {
		case 'n': g.n = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'r': g.rate = atof(optarg); break;
		case 'w': g.window = (uint32_t)atoi(optarg); break;
		case 'd': durability = optarg; break;
		default:
			fprintf(stderr, "usage: load [-n clients] [-t seconds] [-r msg/s] [-w window]"
			    " [-d full|normal]\n");
			return 2;
		}
	}
	if (g.n < 2 || sodium_init() < 0 || mkdtemp(dir) == NULL)
		die("setup");
	signal(SIGPIPE, SIG_IGN);
	pid = start_server(dir, durability, address, sizeof(address));
	pin(1);
	if (address_server_parse(address, &as) != 0)
		die("address");
	memcpy(g.server_pk, as.key, 32);
	if (crypto_sign_ed25519_pk_to_curve25519(g.server_x, g.server_pk) != 0)
		die("server key");
	snprintf(g.host, sizeof(g.host), "%s", as.host);
	g.port = as.port;
	g.loop = uv_default_loop();
	uv_check_init(g.loop, &g.check);
	uv_check_start(&g.check, on_check);
	uv_unref((uv_handle_t *)&g.check);
	if ((g.c = calloc((size_t)g.n, sizeof(*g.c))) == NULL ||
	    (g.lat = malloc(MAX_LAT * sizeof(uint64_t))) == NULL)
		die("memory");
	for (int i = 0; i < g.n; i++) {
		g.c[i].idx = i;
		crypto_box_keypair(g.c[i].dev_pk, g.c[i].dev_sk);
		crypto_sign_keypair(g.c[i].id_pk, g.c[i].id_sk);
		randombytes_buf(g.c[i].e_sk, sizeof(g.c[i].e_sk));
	}
	usleep(200000);
	rss0 = rss_kb(pid);

	t0 = (double)now_ns() / 1e9;
	cpu0 = cpu_s(pid);
	lcpu0 = self_cpu_s();
	for (int i = 0; i < g.n; i++)
		connect_client(&g.c[i]);
	run_until(all_handshaken, 60);
	t1 = (double)now_ns() / 1e9;
	cpu1 = cpu_s(pid);
	lcpu1 = self_cpu_s();
	printf("clients                 %d (durability %s)\n", g.n, durability);
	printf("handshakes/s            %.0f (%d in %.3f s; server busy %.0f%%, load generator"
	    " %.0f%%)\n", g.handshaken / (t1 - t0), g.handshaken, t1 - t0,
	    (cpu1 - cpu0) * 100 / (t1 - t0), (lcpu1 - lcpu0) * 100 / (t1 - t0));
	for (int i = 0; i < g.n; i++)
		do_register(&g.c[i]);
	run_until(all_ready, 120);
	if (g.ready != g.n)
		die("not every client registered");
	/* A first ticket for everyone, then the timed logins of known devices. */
	g.ticketed = 0;
	for (int i = 0; i < g.n; i++)
		ask_ticket(&g.c[i]);
	run_until(all_ticketed, 60);
	if (g.ticketed != g.n)
		die("no tickets (is ticket_lifetime 0?)");
	timed_logins(pid, 0);
	timed_logins(pid, 1);
	uv_timer_init(g.loop, &g.tick);
	uv_timer_start(&g.tick, on_tick, 1, 1);
	{
		uint64_t end = now_ns() + 300000000ull;
		while (now_ns() < end)
			uv_run(g.loop, UV_RUN_ONCE);
	}
	rss1 = rss_kb(pid);
	printf("server RSS per idle conn %.2f KiB (%ld KiB -> %ld KiB, includes the account)\n",
	    (double)(rss1 - rss0) / g.n, rss0, rss1);

	g.running = 1;
	cpu0 = cpu_s(pid);
	lcpu0 = self_cpu_s();
	t0 = (double)now_ns() / 1e9;
	if (g.rate == 0)
		for (int i = 0; i < g.n; i++)
			while (g.c[i].outstanding < g.window)
				send_one(&g.c[i]);
	{
		uint64_t end = now_ns() + (uint64_t)(secs * 1e9);
		while (now_ns() < end)
			uv_run(g.loop, UV_RUN_ONCE);
	}
	g.running = 0;
	t1 = (double)now_ns() / 1e9;
	cpu1 = cpu_s(pid);
	lcpu1 = self_cpu_s();
	qsort(g.lat, g.n_lat, sizeof(uint64_t), cmp_u64);
	printf("offered                 %s\n", g.rate > 0 ? "fixed rate" : "closed loop");
	if (g.rate > 0)
		printf("offered msg/s           %.0f\n", g.rate);
	printf("sent / acked / errors   %llu / %llu / %llu\n", (unsigned long long)g.sent,
	    (unsigned long long)g.acked_sends, (unsigned long long)g.errors);
	printf("delivered msg/s         %.0f\n", g.delivered / (t1 - t0));
	if (g.n_lat > 0) {
		printf("latency p50             %.3f ms\n", g.lat[g.n_lat / 2] / 1e6);
		printf("latency p99             %.3f ms\n", g.lat[g.n_lat * 99 / 100] / 1e6);
	}
	if (g.delivered > 0)
		printf("server CPU per msg      %.1f us (server busy %.0f%%, load generator %.0f%%)\n",
		    (cpu1 - cpu0) * 1e6 / g.delivered, (cpu1 - cpu0) * 100 / (t1 - t0),
		    (lcpu1 - lcpu0) * 100 / (t1 - t0));
	(void)run_until(never, 0.0);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "load: cannot remove %s\n", dir);
	return 0;
}
