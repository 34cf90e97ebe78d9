/*
 * The server's CPU per handshake, by kind: a login (Noise_XX, the device authenticated)
 * and an unidentified connection (Noise_NK, issue 15: SEND_SEALED). The client's side runs
 * in the same thread but only the server's calls are timed (wire_session_init, its
 * feeds and wire_session_free), so the figure is what one core of sottod spends per
 * handshake, without the kernel's TCP work.
 *
 *   build/bench/handshake [N [xx|nk]]   N handshakes of each kind (default 20000), or of one
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "base/buf.h"
#include "wire/frame.h"
#include "wire/noise.h"
#include "wire/session.h"

static uint8_t scratch[FRAME_MAX];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "handshake: %s\n", what);
	exit(1);
}

/* Feeds one handshake frame to the server, timed; its answer (if any) is left in out. */
static int
server_feed(struct wire_session *ws, const uint8_t *msg, size_t n, struct buf *out,
    double *spent)
{
	uint8_t frame[FRAME_HDR_LEN + NOISE_MSG_MAX];
	const uint8_t *m;
	size_t used, mlen;
	double t0;
	int r;

	frame[0] = (uint8_t)(n >> 8);
	frame[1] = (uint8_t)n;
	memcpy(frame + FRAME_HDR_LEN, msg, n);
	buf_reset(out);
	t0 = now_s();
	r = wire_session_feed(ws, frame, FRAME_HDR_LEN + n, &used, out, &m, &mlen);
	*spent += now_s() - t0;
	return r;
}

/* One handshake of the kind (sealed: NK, else XX); returns the server's seconds. */
static double
one(const struct noise_keypair *kp, const uint8_t ed_pk[32], const uint8_t dev_sk[32],
    int sealed, struct buf *out)
{
	struct wire_session ws;
	struct noise_hs hs;
	uint8_t msg[128], pl[8];
	size_t n, pn;
	double spent = 0, t0;
	int r;

	if ((sealed ? noise_sealed_initiator(&hs, ed_pk) :
	    noise_sotto_initiator(&hs, dev_sk, ed_pk)) != 0 ||
	    noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &n) != 0)
		die("client msg1");
	t0 = now_s();
	if (wire_session_init(&ws, kp, scratch) != 0)
		die("session init");
	wire_session_enable_sealed(&ws);
	spent += now_s() - t0;
	r = server_feed(&ws, msg, n, out, &spent);
	if (sealed ? r != WIRE_HANDSHAKE_DONE : r != WIRE_NEED_MORE)
		die("server msg1");
	if (noise_hs_read(&hs, out->p + FRAME_HDR_LEN, out->len - FRAME_HDR_LEN, pl, sizeof(pl),
	    &pn) != 0)
		die("client msg2");
	if (!sealed) {
		if (noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &n) != 0)
			die("client msg3");
		if (server_feed(&ws, msg, n, out, &spent) != WIRE_HANDSHAKE_DONE)
			die("server msg3");
	}
	t0 = now_s();
	wire_session_free(&ws);
	spent += now_s() - t0;
	noise_hs_wipe(&hs);
	return spent;
}

int
main(int argc, char **argv)
{
	static const char *const kind[2] = { "login (Noise_XX)", "unidentified (Noise_NK)" };
	struct noise_keypair kp;
	uint8_t ed_pk[32], ed_sk[64], dev_sk[32];
	struct buf out;
	long n = argc > 1 ? atol(argv[1]) : 20000;
	/* A second argument, "xx" or "nk", runs that kind only (for callgrind's counts). */
	int first = argc > 2 && strcmp(argv[2], "nk") == 0 ? 1 : 0;
	int last = argc > 2 && strcmp(argv[2], "xx") == 0 ? 0 : 1;

	if (sodium_init() < 0 || n <= 0)
		die("init");
	crypto_sign_keypair(ed_pk, ed_sk);
	randombytes_buf(dev_sk, sizeof(dev_sk));
	if (noise_keypair_from_ed25519(&kp, ed_sk) != 0)
		die("server key");
	buf_init_dyn(&out, 4096);
	for (int sealed = first; sealed <= last; sealed++) {
		double spent = 0;

		for (long i = 0; i < n; i++)
			spent += one(&kp, ed_pk, dev_sk, sealed, &out);
		printf("%-26s %8.0f handshakes/s per core of the server, %6.1f us each (%ld)\n",
		    kind[sealed], (double)n / spent, spent * 1e6 / (double)n, n);
	}
	buf_free(&out);
	noise_keypair_wipe(&kp);
	sodium_memzero(ed_sk, sizeof(ed_sk));
	return 0;
}
