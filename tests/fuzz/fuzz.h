/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c): each one feeds
 * one parser of data from the network and checks what must hold of what
 * it accepts; ASan and UBSan catch the rest.
 *
 * lb_log()'s lines still get formatted (that code runs on hostile input
 * too), but into /dev/null: at thousands of inputs a second they would
 * drown libFuzzer's own output, which keeps its own stream, as do the
 * sanitizers' reports (fd 2). */
#ifndef LB_FUZZ_H
#define LB_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_QUIET_LOG()                                                                            \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                                           \
	{                                                                                           \
		FILE *null = fopen("/dev/null", "w");                                               \
		(void)argc, (void)argv;                                                             \
		if (null && !getenv("LB_FUZZ_LOG"))                                                 \
			stderr = null;                                                              \
		return 0;                                                                           \
	}

/* A property of accepted input that does not hold: a bug, found. */
#define FUZZ_ASSERT(cond)                                                                           \
	do {                                                                                        \
		if (!(cond)) {                                                                      \
			fprintf(stdout, "fuzz: %s:%d: %s does not hold\n", __FILE__, __LINE__, #cond); \
			fflush(stdout);                                                             \
			abort();                                                                    \
		}                                                                                   \
	} while (0)

#endif
