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

/* The partition table the first two sectors of a disk show (buf holds at
 * least 2 * lss bytes), for disk images, which libblkid cannot probe:
 * "gpt" (a GPT header at LBA 1 with a valid CRC) or "dos" (an MBR boot
 * signature, no GPT), with the PTUUID as blkid prints it (the disk GUID;
 * the MBR disk signature as 8 hex digits). Both NULL when neither; 0 or
 * -ENOMEM. */
int lb_gpt_probe(const uint8_t *buf, size_t len, unsigned lss, char **ret_pttype, char **ret_ptuuid);

#endif
