/*
 * loadgen: drives one server with N clients of one protocol and prints one RESULT line.
 *
 *   loadgen --proto sotto|mqtt|xmpp --port P[,P...] [--host 127.0.0.1] [--server sotto://...]
 *           [--domain localhost] [--xmpp-auth anonymous|plain] [--server-pid PID[,PID...]]
 *           [--db-pid PID]
 *           --scenario closed|open|conns [--clients N] [--window W] [--rate R]
 *           [--warmup S] [--duration S] [--concurrency C] [--messages M]
 *
 * closed  every client keeps W messages in flight (sent, not yet delivered to their
 *         recipient); -> delivered msg/s, server CPU us per message, latency percentiles
 * open    R messages/s offered in total, round robin over the clients, each to a random
 *         other client, whatever the server does; -> p50/p99/max send-to-delivery latency
 *         of the messages sent during the measured interval, and how many did not arrive
 * conns   N clients connect and log in (Sotto: register), all close; then N connect again
 *         with at most C logins in progress -> setups/s; idle, the server's RSS growth
 *         per connection (VmRSS of --server-pid)
 * fanout  N clients log in and become members of one group (Sotto: client 0 creates it and
 *         adds the others in one Commit) or subscribers of one topic (MQTT); then client 0
 *         sends --messages M messages one at a time, each once the previous one reached
 *         all N (client 0 included) -> per message the time until the last member has
 *         it (median over the M; deliveries/s = N / that time), and the server CPU over
 *         all M with their acknowledgements, per delivery
 * Server figures come from /proc/PID/stat (utime+stime, all threads) and /proc/PID/status.
 * Several ports: client i connects to the (i mod n)th (several nodes of one server); the
 * server's CPU is then the sum over every --server-pid (RSS: the first's). --db-pid: a
 * database's main process (PostgreSQL's postmaster): its CPU and its children's, per
 * message, as db_cpu_us_per_msg (closed and open; -1 without it).
 */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#include "lg.h"
#include "net.h"

static struct lg G;
static uv_timer_t tick;
static uint32_t next_to_start, start_limit, max_in_progress;
static uint64_t rng_state;

/* Recording window for latencies (payload send times inside it are recorded). */
static uint64_t rec_from_ns, rec_to_ns;
static uint64_t delivered_in_window, sent_in_window;

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64*: not for secrets, only to pick recipients */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32) % n;
}

static long
server_ticks(int pid)
{
	char path[64], line[2048], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL)
		return -1;
	/* after "pid (comm)": state is field 3; utime 14, stime 15 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

/* The CPU ticks of pid and of every process whose parent it is (PostgreSQL's backends). */
static long
tree_ticks(int pid)
{
	char path[300], line[2048], *p;
	struct dirent *e;
	long sum, t;
	int ppid;
	DIR *d;
	FILE *f;

	if ((sum = server_ticks(pid)) < 0 || (d = opendir("/proc")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		if (p == NULL || (p = strrchr(line, ')')) == NULL ||
		    sscanf(p + 2, "%*c %d", &ppid) != 1 || ppid != pid)
			continue;
		if ((t = server_ticks(atoi(e->d_name))) > 0)
			sum += t;
	}
	closedir(d);
	return sum;
}

static long
server_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void
start_more(void)
{
	while (next_to_start < start_limit && G.n_connecting < max_in_progress) {
		struct lg_client *c = &G.clients[next_to_start++];

		if (net_connect(c) != 0)
			G.st.errors++;
	}
}

/* Round 1 of the conns scenario: log in and leave at once, so that at most `concurrency`
 * connections exist and the server's memory for them is reused, not kept, in round 2. */
static int close_on_ready;

void
lg_ready(struct lg_client *c)
{
	c->state = LG_READY;
	G.n_ready++;
	if (G.n_connecting > 0)
		G.n_connecting--;
	G.st.ready_events++;
	if (close_on_ready)
		net_close(c);
	start_more();
}

static void
send_one(struct lg_client *c, uint64_t t_ns)
{
	uint8_t payload[LG_PAYLOAD_LEN];
	uint32_t to;

	if (G.n < 2)
		return;
	to = rnd(G.n - 1);
	if (to >= c->idx)
		to++;
	if (G.clients[to].state != LG_READY)
		return;
	lg_payload_make(payload, t_ns, c->idx, ++c->seq);
	if (G.drv->send(c, &G.clients[to], payload, sizeof(payload)) != 0) {
		lg_fail(c, "send encoding failed", -1);
		return;
	}
	c->inflight++;
	c->sent++;
	G.st.sent++;
	if (t_ns >= rec_from_ns && t_ns < rec_to_ns)
		sent_in_window++;
	net_mark(c);
}

static void
record_latency(double us)
{
	struct lg_stats *st = &G.st;

	if (st->n_lat == st->cap_lat) {
		size_t nc = st->cap_lat ? st->cap_lat * 2 : 65536;
		double *n = realloc(st->lat_us, nc * sizeof(*n));

		if (n == NULL)
			return;
		st->lat_us = n;
		st->cap_lat = nc;
	}
	st->lat_us[st->n_lat++] = us;
}

void
lg_delivered(struct lg_client *c, const uint8_t *payload, size_t len)
{
	uint64_t t, now = lg_now_ns();
	uint32_t sender, seq;
	struct lg_client *s;

	(void)c;
	if (lg_payload_parse(payload, len, &t, &sender, &seq) != 0 || sender >= G.n) {
		G.st.bad_payload++;
		return;
	}
	G.st.delivered++;
	if (t >= rec_from_ns && t < rec_to_ns) {
		delivered_in_window++;
		record_latency((double)(now > t ? now - t : 0) / 1000.0);
	}
	s = &G.clients[sender];
	if (s->inflight > 0)
		s->inflight--;
	if (G.closed_loop && s->state == LG_READY)
		send_one(s, now);
}

void
lg_joined(struct lg_client *c)
{
	(void)c;
	G.joined++;
}

void
lg_acked(struct lg_client *c)
{
	c->acked++;
	G.st.acked++;
}

static void
on_tick(uv_timer_t *t)
{
	(void)t;
	start_more();
	net_flush_all();
}

/* Runs the loop until done() or ms pass. */
static int
run_until(int (*done)(void), uint64_t ms)
{
	uint64_t end = lg_now_ns() + ms * 1000000u;

	while (!(done != NULL && done()) && lg_now_ns() < end)
		uv_run(G.loop, UV_RUN_ONCE);
	return done != NULL && done();
}

static int
all_started_ready(void)
{
	return next_to_start == start_limit && G.n_connecting == 0;
}

static int
all_closed(void)
{
	for (uint32_t i = 0; i < G.n; i++)
		if (G.clients[i].handle_open)
			return 0;
	return 1;
}

/* Connects clients [0, n) with at most `conc` logins in progress. Returns the seconds it
 * took, or -1 if not all were ready within the timeout. */
static double
connect_all(uint32_t n, uint32_t conc, uint64_t timeout_ms)
{
	uint64_t t0 = lg_now_ns(), r0 = G.st.ready_events;

	next_to_start = 0;
	start_limit = n;
	max_in_progress = conc;
	start_more();
	net_flush_all();
	run_until(all_started_ready, timeout_ms);
	if (G.st.ready_events - r0 != n) {
		uint32_t by_state[LG_CLOSING + 1] = { 0 };

		for (uint32_t i = 0; i < n; i++)
			by_state[G.clients[i].state]++;
		fprintf(stderr, "loadgen: %u of %u clients ready after %.1f s (idle %u, connecting %u, "
		    "login %u, ready %u, closing %u)\n", (uint32_t)(G.st.ready_events - r0), n,
		    (double)(lg_now_ns() - t0) / 1e9, by_state[LG_IDLE], by_state[LG_CONNECTING],
		    by_state[LG_LOGIN], by_state[LG_READY], by_state[LG_CLOSING]);
		return -1;
	}
	return (double)(lg_now_ns() - t0) / 1e9;
}

static void
close_all(void)
{
	G.closed_loop = 0;
	for (uint32_t i = 0; i < G.n; i++)
		net_close(&G.clients[i]);
	run_until(all_closed, 10000);
	G.n_ready = 0;
	G.n_connecting = 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(double p)
{
	size_t i;

	if (G.st.n_lat == 0)
		return -1;
	i = (size_t)(p / 100.0 * (double)(G.st.n_lat - 1) + 0.5);
	return G.st.lat_us[i];
}

#define LG_PIDS_MAX 8

struct opts {
	const char *proto, *scenario;
	int server_pid;                 /* the first of server_pids */
	int server_pids[LG_PIDS_MAX];
	size_t n_server_pids;
	int db_pid;
	uint32_t window, concurrency, messages;
	double rate, warmup, duration;
};

/* The ticks of every server process, -1 if one cannot be read. */
static long
servers_ticks(const struct opts *o)
{
	long sum = 0, t;

	if (o->n_server_pids == 0)
		return -1;
	for (size_t i = 0; i < o->n_server_pids; i++) {
		if ((t = server_ticks(o->server_pids[i])) < 0)
			return -1;
		sum += t;
	}
	return sum;
}

/* us of CPU per message between two tick readings, -1 if unknown. */
static double
per_msg_us(long tk0, long tk1, uint64_t msgs)
{
	if (tk0 < 0 || tk1 < 0 || msgs == 0)
		return -1;
	return (double)(tk1 - tk0) * 1e6 / (double)sysconf(_SC_CLK_TCK) / (double)msgs;
}

/* Waits (up to 30 s) until the server has been idle for half a second: work queued by a
 * previous overloaded scenario must not be measured as this one's. */
static void
wait_server_quiet(const struct opts *o)
{
	long a, b;

	for (int i = 0; i < 60; i++) {
		a = servers_ticks(o);
		run_until(NULL, 500);
		b = servers_ticks(o);
		if (a < 0 || b < 0 || b - a <= (long)sysconf(_SC_CLK_TCK) / 50)
			return;
	}
	fprintf(stderr, "loadgen: server still busy after 30 s; measuring anyway\n");
}

static int
scenario_closed(const struct opts *o)
{
	long tk0, tk1, db0, db1;
	uint64_t d0, d1, t0, t1;
	double secs, rate, cpu_us;

	if (connect_all(G.n, o->concurrency, 60000) < 0)
		return 1;
	G.closed_loop = 1;
	for (uint32_t w = 0; w < G.window; w++)
		for (uint32_t i = 0; i < G.n; i++)
			send_one(&G.clients[i], lg_now_ns());
	net_flush_all();
	run_until(NULL, (uint64_t)(o->warmup * 1000));
	rec_from_ns = lg_now_ns();
	rec_to_ns = UINT64_MAX;
	t0 = lg_now_ns();
	d0 = G.st.delivered;
	tk0 = servers_ticks(o);
	db0 = o->db_pid > 0 ? tree_ticks(o->db_pid) : -1;
	run_until(NULL, (uint64_t)(o->duration * 1000));
	tk1 = servers_ticks(o);
	db1 = o->db_pid > 0 ? tree_ticks(o->db_pid) : -1;
	d1 = G.st.delivered;
	t1 = lg_now_ns();
	secs = (double)(t1 - t0) / 1e9;
	rate = (double)(d1 - d0) / secs;
	cpu_us = per_msg_us(tk0, tk1, d1 - d0);
	qsort(G.st.lat_us, G.st.n_lat, sizeof(double), cmp_double);
	printf("RESULT proto=%s scenario=closed clients=%u window=%u msgs_per_s=%.0f "
	    "cpu_us_per_msg=%.2f server_cpu_pct=%.1f db_cpu_us_per_msg=%.2f p50_us=%.0f "
	    "p99_us=%.0f errors=%" PRIu64 "\n",
	    o->proto, G.n, G.window, rate, cpu_us,
	    tk0 >= 0 ? (double)(tk1 - tk0) * 100.0 / (double)sysconf(_SC_CLK_TCK) / secs : -1,
	    per_msg_us(db0, db1, d1 - d0), pct(50), pct(99), G.st.errors);
	close_all();
	return 0;
}

static uint64_t open_start_ns, open_sent, open_end_ns;
static uint32_t open_next;
static double open_rate;

static void
on_open_tick(uv_timer_t *t)
{
	uint64_t now = lg_now_ns(), due;

	(void)t;
	if (now >= open_end_ns)
		now = open_end_ns;
	due = (uint64_t)((double)(now - open_start_ns) / 1e9 * open_rate);
	/* A message is stamped when it is written, not at its slot on the 1 ms tick: the
	 * generator never waits for the server, so no delay of the server is hidden. */
	while (open_sent < due) {
		struct lg_client *c = &G.clients[open_next++ % G.n];

		open_sent++;
		if (c->state == LG_READY)
			send_one(c, lg_now_ns());
	}
	net_flush_all();
}

static int
scenario_open(const struct opts *o)
{
	uv_timer_t ot;
	long tk0, tk1, db0, db1;
	double secs;

	if (connect_all(G.n, o->concurrency, 120000) < 0)
		return 1;
	open_rate = o->rate;
	open_start_ns = lg_now_ns();
	open_end_ns = open_start_ns + (uint64_t)((o->warmup + o->duration) * 1e9);
	rec_from_ns = open_start_ns + (uint64_t)(o->warmup * 1e9);
	rec_to_ns = open_end_ns;
	uv_timer_init(G.loop, &ot);
	uv_timer_start(&ot, on_open_tick, 1, 1);
	run_until(NULL, (uint64_t)(o->warmup * 1000));
	tk0 = servers_ticks(o);
	db0 = o->db_pid > 0 ? tree_ticks(o->db_pid) : -1;
	run_until(NULL, (uint64_t)(o->duration * 1000));
	tk1 = servers_ticks(o);
	db1 = o->db_pid > 0 ? tree_ticks(o->db_pid) : -1;
	uv_timer_stop(&ot);
	uv_close((uv_handle_t *)&ot, NULL);
	/* stragglers: up to 3 s more */
	for (int i = 0; i < 30 && delivered_in_window < sent_in_window; i++)
		run_until(NULL, 100);
	secs = o->duration;
	qsort(G.st.lat_us, G.st.n_lat, sizeof(double), cmp_double);
	printf("RESULT proto=%s scenario=open clients=%u offered_per_s=%.0f delivered_per_s=%.0f "
	    "p50_us=%.0f p99_us=%.0f max_us=%.0f lost=%" PRId64 " cpu_us_per_msg=%.2f "
	    "db_cpu_us_per_msg=%.2f errors=%" PRIu64 "\n",
	    o->proto, G.n, o->rate, (double)delivered_in_window / secs, pct(50), pct(99),
	    pct(100), (int64_t)sent_in_window - (int64_t)delivered_in_window,
	    per_msg_us(tk0, tk1, delivered_in_window), per_msg_us(db0, db1, delivered_in_window),
	    G.st.errors);
	close_all();
	return 0;
}

static int
scenario_conns(const struct opts *o)
{
	long rss0, rss1, tk0, tk1;
	double secs;

	/* Round 1: first logins (Sotto registers here), each leaving once logged in. */
	close_on_ready = 1;
	if (connect_all(G.n, o->concurrency, 120000) < 0)
		return 1;
	close_all();
	close_on_ready = 0;
	run_until(NULL, 1500);
	rss0 = server_rss_kb(o->server_pid);
	tk0 = servers_ticks(o);
	secs = connect_all(G.n, o->concurrency, 120000);
	tk1 = servers_ticks(o);
	if (secs < 0)
		return 1;
	run_until(NULL, 2000);
	rss1 = server_rss_kb(o->server_pid);
	printf("RESULT proto=%s scenario=conns clients=%u concurrency=%u setups_per_s=%.0f "
	    "cpu_us_per_setup=%.1f rss0_kb=%ld rss1_kb=%ld rss_per_conn_b=%.0f errors=%" PRIu64 "\n",
	    o->proto, G.n, o->concurrency, (double)G.n / secs,
	    tk0 >= 0 ? (double)(tk1 - tk0) * 1e6 / (double)sysconf(_SC_CLK_TCK) / G.n : -1,
	    rss0, rss1, rss0 >= 0 ? (double)(rss1 - rss0) * 1024.0 / G.n : -1, G.st.errors);
	close_all();
	return 0;
}

static uint64_t fanout_target;

static int
fanout_all_joined(void)
{
	return G.joined >= G.n;
}

static int
fanout_all_delivered(void)
{
	return G.st.delivered >= fanout_target;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n == 0 ? -1 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
scenario_fanout(const struct opts *o)
{
	double *ms = calloc(o->messages, sizeof(double)), cpu;
	uint8_t payload[LG_PAYLOAD_LEN];
	long tk0, tk1;
	uint32_t m;
	int rc = 1;

	if (ms == NULL || G.drv->fanout_send == NULL)
		goto out;
	if (connect_all(G.n, o->concurrency, 300000) < 0)
		goto out;
	if (G.drv->fanout_setup != NULL) {
		if (G.drv->fanout_setup(&G.clients[0]) != 0)
			goto out;
		net_mark(&G.clients[0]);
		net_flush_all();
		if (!run_until(fanout_all_joined, 120000)) {
			fprintf(stderr, "loadgen: %u of %u members joined\n", G.joined, G.n);
			goto out;
		}
	}
	wait_server_quiet(o);
	rec_from_ns = 0;
	rec_to_ns = UINT64_MAX;
	/* Server CPU over all messages, their acknowledgements included (a tick is 10 ms,
	 * more than one message takes). */
	tk0 = servers_ticks(o);
	for (m = 0; m < o->messages; m++) {
		uint64_t t0 = lg_now_ns(), t1;

		fanout_target = G.st.delivered + G.n;
		lg_payload_make(payload, t0, 0, ++G.clients[0].seq);
		if (G.drv->fanout_send(&G.clients[0], payload, sizeof(payload)) != 0)
			goto out;
		G.st.sent++;
		net_mark(&G.clients[0]);
		net_flush_all();
		if (!run_until(fanout_all_delivered, 60000)) {
			fprintf(stderr, "loadgen: message %u reached %" PRIu64 " of %u\n", m,
			    G.st.delivered + G.n - fanout_target, G.n);
			goto out;
		}
		t1 = lg_now_ns();
		ms[m] = (double)(t1 - t0) / 1e6;
		/* Acknowledgements and the server's bookkeeping settle before the next one. */
		run_until(NULL, 200);
	}
	tk1 = servers_ticks(o);
	cpu = tk0 >= 0 && tk1 >= 0 ? (double)(tk1 - tk0) * 1e6 / (double)sysconf(_SC_CLK_TCK) /
	    ((double)G.n * o->messages) : -1;
	qsort(G.st.lat_us, G.st.n_lat, sizeof(double), cmp_double);
	{
		double all_ms = median(ms, o->messages);

		printf("RESULT proto=%s scenario=fanout clients=%u messages=%u all_have_it_ms=%.1f "
		    "deliveries_per_s=%.0f cpu_us_per_delivery=%.2f p50_us=%.0f p99_us=%.0f "
		    "errors=%" PRIu64 "\n", o->proto, G.n, o->messages, all_ms,
		    all_ms > 0 ? G.n / (all_ms / 1000) : -1, cpu, pct(50),
		    pct(99), G.st.errors);
	}
	rc = 0;
	close_all();
out:
	free(ms);
	return rc;
}

/* "1,2,3" into out (at most max): 0, or -1 if it is not such a list. */
static int
int_list(const char *s, int *out, size_t max, size_t *n)
{
	char *end;
	long v;

	*n = 0;
	for (;;) {
		v = strtol(s, &end, 10);
		if (end == s || v <= 0 || v > INT32_MAX || *n == max)
			return -1;
		out[(*n)++] = (int)v;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen --proto sotto|mqtt|xmpp --port P[,P...] --scenario "
	    "closed|open|conns [--host H] [--server sotto://...] [--domain D]\n"
	    "       [--xmpp-auth anonymous|plain] [--server-pid PID[,PID...]] [--db-pid PID] "
	    "[--clients N] "
	    "[--window W] [--rate R]\n"
	    "       [--warmup S] [--duration S] [--concurrency C] [--messages M]\n");
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "proto", 1, NULL, 'p' }, { "host", 1, NULL, 'H' }, { "port", 1, NULL, 'P' },
		{ "server", 1, NULL, 's' }, { "domain", 1, NULL, 'd' },
		{ "xmpp-auth", 1, NULL, 'a' }, { "server-pid", 1, NULL, 'S' },
		{ "scenario", 1, NULL, 'c' }, { "clients", 1, NULL, 'n' },
		{ "window", 1, NULL, 'w' }, { "rate", 1, NULL, 'r' }, { "warmup", 1, NULL, 'W' },
		{ "duration", 1, NULL, 'D' }, { "concurrency", 1, NULL, 'C' },
		{ "messages", 1, NULL, 'M' }, { "db-pid", 1, NULL, 'B' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { .window = 8, .concurrency = 100, .rate = 10000, .warmup = 1,
	    .duration = 5, .messages = 10 };
	struct rlimit rl;
	struct sockaddr_in sin;
	int port_list[LG_PORTS_MAX];
	const char *ports = NULL;
	uint32_t n = 100;
	int ch, rc;

	G.host = "127.0.0.1";
	G.domain = "localhost";
	G.xmpp_auth = "anonymous";
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': o.proto = optarg; break;
		case 'H': G.host = optarg; break;
		case 'P': ports = optarg; break;
		case 's': G.server = optarg; break;
		case 'd': G.domain = optarg; break;
		case 'a': G.xmpp_auth = optarg; break;
		case 'S':
			if (int_list(optarg, o.server_pids, LG_PIDS_MAX, &o.n_server_pids) != 0) {
				usage();
				return 2;
			}
			o.server_pid = o.server_pids[0];
			break;
		case 'B': o.db_pid = atoi(optarg); break;
		case 'c': o.scenario = optarg; break;
		case 'n': n = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'w': o.window = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': o.rate = atof(optarg); break;
		case 'W': o.warmup = atof(optarg); break;
		case 'D': o.duration = atof(optarg); break;
		case 'C': o.concurrency = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'M': o.messages = (uint32_t)strtoul(optarg, NULL, 10); break;
		default: usage(); return 2;
		}
	}
	if (ports != NULL && int_list(ports, port_list, LG_PORTS_MAX, &G.n_sa) == 0)
		G.port = port_list[0];
	for (size_t i = 0; i < G.n_sa; i++)
		if (port_list[i] <= 0 || port_list[i] > 65535)
			G.port = 0;
	if (o.proto == NULL || o.scenario == NULL || G.port <= 0 || G.port > 65535 || n < 2 ||
	    n > 100000 || o.window < 1 || o.concurrency < 1 || o.rate <= 0 ||
	    o.duration <= 0 || o.warmup < 0 || o.messages < 1 || o.messages > 100000) {
		usage();
		return 2;
	}
	if (strcmp(o.proto, "sotto") == 0)
		G.drv = &lg_driver_sotto;
	else if (strcmp(o.proto, "mqtt") == 0)
		G.drv = &lg_driver_mqtt;
	else if (strcmp(o.proto, "xmpp") == 0)
		G.drv = &lg_driver_xmpp;
	else {
		usage();
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	/* Room for every client's socket. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (size_t i = 0; i < G.n_sa; i++) {
		if (uv_ip4_addr(G.host, port_list[i], &sin) != 0) {
			fprintf(stderr, "loadgen: bad host %s\n", G.host);
			return 2;
		}
		memcpy(&G.sa[i], &sin, sizeof(sin));
	}
	G.loop = uv_default_loop();
	G.n = n;
	G.fanout = strcmp(o.scenario, "fanout") == 0;
	G.window = o.window;
	randombytes_buf(&rng_state, sizeof(rng_state));
	rng_state |= 1;
	{
		uint8_t t[4];

		randombytes_buf(t, sizeof(t));
		snprintf(G.tag, sizeof(G.tag), "%02x%02x%02x%02x", t[0], t[1], t[2], t[3]);
	}
	if ((G.clients = calloc(n, sizeof(*G.clients))) == NULL)
		return 1;
	for (uint32_t i = 0; i < n; i++) {
		struct lg_client *c = &G.clients[i];

		c->g = &G;
		c->idx = i;
		buf_init_dyn(&c->out, LG_OUT_MAX);
		buf_init_dyn(&c->in, LG_IN_MAX);
		if ((c->ds = calloc(1, G.drv->state_size)) == NULL)
			return 1;
	}
	if (G.drv->prepare(&G) != 0)
		return 1;
	wait_server_quiet(&o);
	uv_timer_init(G.loop, &tick);
	uv_timer_start(&tick, on_tick, 10, 10);
	rec_from_ns = UINT64_MAX;
	rec_to_ns = 0;
	if (strcmp(o.scenario, "closed") == 0)
		rc = scenario_closed(&o);
	else if (strcmp(o.scenario, "open") == 0)
		rc = scenario_open(&o);
	else if (strcmp(o.scenario, "conns") == 0)
		rc = scenario_conns(&o);
	else if (G.fanout)
		rc = scenario_fanout(&o);
	else {
		usage();
		return 2;
	}
	if (rc != 0)
		printf("RESULT proto=%s scenario=%s clients=%u failed=1 errors=%" PRIu64 "\n",
		    o.proto, o.scenario, G.n, G.st.errors);
	fflush(stdout);
	return rc;
}
