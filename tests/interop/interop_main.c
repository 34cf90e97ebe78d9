/*
 * The interop oracle: Sotto's ratchet core, speaking the Signal-v3 suite, against Debian's
 * libsignal-protocol-c. One binary (build/tests/interop), never part of libsotto.
 */
#include <sodium.h>
#include <stdio.h>

#include "check.h"
#include "interop_tests.h"

int
main(void)
{
	if (sodium_init() < 0) {
		printf("FAIL - interop/sodium_init\n");
		return 1;
	}
	interop_run_oracle_tests();
	interop_run_session_tests();
	interop_run_safety_tests();
	return check_summary();
}
