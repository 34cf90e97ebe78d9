/* The interop test groups; interop_main.c runs them all. */
#ifndef SOTTO_INTEROP_TESTS_H
#define SOTTO_INTEROP_TESTS_H

void interop_run_oracle_tests(void);
void interop_run_session_tests(void);
void interop_run_safety_tests(void);

#endif
