#include "check.h"
#include "interop_tests.h"

void
interop_run_session_tests(void)
{
}
