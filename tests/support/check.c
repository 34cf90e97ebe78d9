#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *current;
static int current_failed;
static int passed, failed;

void
check_begin(const char *name)
{
	current = name;
	current_failed = 0;
}

void
check_fail(const char *file, int line, const char *expr)
{
	if (!current_failed)
		printf("FAIL - %s: %s:%d: %s\n", current ? current : "?", file, line, expr);
	else
		printf("     also %s:%d: %s\n", file, line, expr);
	fflush(stdout);
	current_failed = 1;
}

void
check_fail_int(const char *file, int line, const char *expr, long long a, long long b)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s (%lld != %lld)", expr, a, b);
	check_fail(file, line, buf);
}

int
check_failed_now(void)
{
	return current_failed;
}

void
check_end(void)
{
	if (current_failed)
		failed++;
	else {
		passed++;
		printf("ok - %s\n", current);
	}
	fflush(stdout);
	current = NULL;
}

int
check_summary(void)
{
	printf("# %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

void
check_count(const char *what, size_t ok, size_t total, size_t expected)
{
	char name[512];

	if (total != expected) {
		snprintf(name, sizeof(name), "%zu entries, expected %zu", total, expected);
		check_fail(__FILE__, __LINE__, name);
	}
	if (ok != total && !check_failed_now())
		check_fail(__FILE__, __LINE__, "an entry failed");
	if (check_failed_now()) {
		printf("# %s: %zu of %zu entries\n", what, ok, total);
		check_end();
		return;
	}
	/* the one pass line carries the count */
	snprintf(name, sizeof(name), "%s: %zu of %zu entries", what, ok, total);
	check_begin(name);
	check_end();
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
check_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex), i;

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

const char *
check_vector_path(const char *relative)
{
	static char path[1024];
	const char *root = getenv("SOTTO_VECTORS");

	if (root == NULL)
		root = "/usr/lib/python3/dist-packages/cryptography_vectors";
	snprintf(path, sizeof(path), "%s/%s", root, relative);
	return path;
}
