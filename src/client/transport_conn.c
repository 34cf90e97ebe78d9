/* The product's transport: client/conn.h. arg, if not NULL, is the struct conn_login kept
 * between connections: reconnecting resumes, and presents the login generation. */
#include "client/transport.h"

#include "client/conn.h"

static int
tc_open(void **t, void *arg, const char *server, const uint8_t device_sk[32], int timeout_ms)
{
	struct conn *c = NULL;
	int r;

	if (arg != NULL)
		r = conn_open_login(&c, server, device_sk, arg, timeout_ms);
	else
		r = conn_open(&c, server, device_sk, timeout_ms);
	if (r != 0)
		return r;
	*t = c;
	return 0;
}

static int
tc_request(void *t, struct proto_msg *req, struct proto_msg *resp, int timeout_ms)
{
	return conn_request(t, req, resp, timeout_ms);
}

static int
tc_next_event(void *t, struct proto_msg *ev, int timeout_ms)
{
	return conn_next_event(t, ev, timeout_ms);
}

static int
tc_fd(void *t)
{
	return conn_fd(t);
}

static void
tc_close(void *t)
{
	conn_close(t);
}

static int
tc_open_sealed(void **t, const char *server, int timeout_ms)
{
	struct conn *c = NULL;
	int r;

	if ((r = conn_open_sealed(&c, server, timeout_ms)) != 0)
		return r;
	*t = c;
	return 0;
}

const struct transport_ops transport_conn = {
	.open = tc_open,
	.request = tc_request,
	.next_event = tc_next_event,
	.fd = tc_fd,
	.close = tc_close,
	.open_sealed = tc_open_sealed,
};
