#include "uvthread.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "waitfor.h"

static void
on_async(uv_async_t *a)
{
	struct uvthread *t = a->data;
	void (*fn)(void *);
	void *arg;

	uv_mutex_lock(&t->mu);
	fn = t->fn;
	arg = t->arg;
	uv_mutex_unlock(&t->mu);
	if (fn != NULL)
		fn(arg);
	uv_mutex_lock(&t->mu);
	t->fn = NULL;
	t->pending = 0;
	uv_cond_signal(&t->cond);
	uv_mutex_unlock(&t->mu);
}

static void
run(void *arg)
{
	struct uvthread *t = arg;

	uv_run(&t->loop, UV_RUN_DEFAULT);
}

int
uvthread_start(struct uvthread *t)
{
	memset(t, 0, sizeof(*t));
	if (uv_loop_init(&t->loop) != 0)
		return -1;
	uv_mutex_init(&t->mu);
	uv_cond_init(&t->cond);
	uv_async_init(&t->loop, &t->async, on_async);
	t->async.data = t;
	return uv_thread_create(&t->thread, run, t) == 0 ? 0 : -1;
}

void
uvthread_call(struct uvthread *t, void (*fn)(void *), void *arg)
{
	uv_mutex_lock(&t->mu);
	while (t->pending)
		uv_cond_wait(&t->cond, &t->mu);
	t->fn = fn;
	t->arg = arg;
	t->pending = 1;
	uv_async_send(&t->async);
	while (t->pending)
		uv_cond_wait(&t->cond, &t->mu);
	uv_mutex_unlock(&t->mu);
}

static void
close_async(void *arg)
{
	struct uvthread *t = arg;

	uv_close((uv_handle_t *)&t->async, NULL);
}

void
uvthread_stop(struct uvthread *t)
{
	uvthread_call(t, close_async, t);
	uv_thread_join(&t->thread);
	uv_loop_close(&t->loop);
	uv_mutex_destroy(&t->mu);
	uv_cond_destroy(&t->cond);
}

int
uvthread_connect(unsigned short port)
{
	struct sockaddr_in a;
	struct timeval tv = { .tv_sec = wait_scaled_ms(5000) / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
uvthread_read_until(int fd, char *buf, size_t cap, const char *want)
{
	size_t len = 0;

	buf[0] = '\0';
	while (strstr(buf, want) == NULL) {
		ssize_t n;

		if (len + 1 >= cap)
			return -1;
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return 0;
}

int
uvthread_send(int fd, const char *s)
{
	size_t n = strlen(s), off = 0;

	while (off < n) {
		ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

int
uvthread_wait_eof(int fd)
{
	char b[256];

	for (;;) {
		ssize_t n = recv(fd, b, sizeof(b), 0);
		if (n == 0)
			return 1;
		if (n < 0)
			return 0;
	}
}
