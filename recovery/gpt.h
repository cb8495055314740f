/* GPT fix-ups after a restore onto a larger disk. */
#ifndef LB_GPT_H
#define LB_GPT_H

#include <stdint.h>

#include "target.h"

/* The restored disk's GPT described a disk of src_size bytes. Put the
 * backup GPT (entries and header) at the end of the target, point the
 * primary header at it, grow the protective MBR entry, and zero the old
 * backup where the source disk ended. A disk that carries no valid primary
 * GPT is left alone (returns 0). 1 when moved, -errno on failure. */
int lb_gpt_move_backup(struct lb_target *t, unsigned lss, uint64_t src_size);

uint32_t lb_crc32(const void *data, size_t len);

#endif
