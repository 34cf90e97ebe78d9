/*
 * A minimal test harness. Each test binary defines tests with TEST(name), runs them from
 * main() with RUN(name), and returns check_summary(). Output is one line per test:
 *   ok - suite/name
 *   FAIL - suite/name: file:line: expression
 * scripts/run-tests counts these lines and prints "N passed, N failed".
 */
#ifndef SOTTO_TESTS_CHECK_H
#define SOTTO_TESTS_CHECK_H

#include <stddef.h>
#include <stdint.h>

void check_begin(const char *name);
void check_end(void);
void check_fail(const char *file, int line, const char *expr);
int check_summary(void);
int check_failed_now(void);

/* Hex helpers for vectors: returns decoded length, or -1 on bad hex / too long. */
long check_unhex(const char *hex, uint8_t *out, size_t cap);
/* Reports a vector file (or other counted set) as one test line, "ok - what: N of N entries",
 * or a FAIL line if an entry failed or there were not exactly `expected` of them (so a
 * truncated or missing file fails too); call it after check_begin(what) and the entries'
 * own check_fail()s. */
void check_count(const char *what, size_t ok, size_t total, size_t expected);
/* Path of a data file installed by a Debian package; skips nothing: missing is a failure. */
const char *check_vector_path(const char *relative);

#define TEST(name) static void name(void)
#define RUN(name) do { check_begin(#name); name(); check_end(); } while (0)

#define CHECK(expr) do { if (!(expr)) check_fail(__FILE__, __LINE__, #expr); } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { check_fail_int(__FILE__, __LINE__, #a " == " #b, _a, _b); } } while (0)
#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)
/* Stop the current test (after a failure that makes the rest meaningless). */
#define REQUIRE(expr) do { if (!(expr)) { check_fail(__FILE__, __LINE__, #expr); return; } } while (0)

void check_fail_int(const char *file, int line, const char *expr, long long a, long long b);

#endif
