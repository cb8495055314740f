/* What a machine is, for the callback's started event and for telling
 * machines apart in a rack: hostname, CPU, memory, DMI identity, disks and
 * NICs (MAC, link, addresses), read from sysfs and procfs (the lb_root()
 * roots, so fixture trees can stand in) and getifaddrs(). */
#ifndef LB_INVENTORY_H
#define LB_INVENTORY_H

#include <stddef.h>

#include "disk.h"

struct json_object;

/* {"hostname","lifeboat","kernel","cpu":{"model","count"},"memory_bytes",
 *  "dmi":{"sys_vendor","product_name","product_serial","product_uuid",
 *         "board_serial"},
 *  "disks":[{"name","path","size","model","vendor","serial","wwn",
 *            "transport","rotational","by_path"}],
 *  "nics":[{"name","mac","driver","carrier","operstate","speed_mbps",
 *           "addresses":["10.0.2.15/24",...]}]}
 * Members that cannot be read are null (or left out of a list); disks are
 * those of l of type "disk" (l may be NULL). NULL only without memory. */
struct json_object *lb_inventory_json(const struct lb_disk_list *l);

/* A stable id for this machine: the MAC of the first physical NIC (by
 * name), which is what PXE and per-machine configs key on; else the DMI
 * product UUID unless it is a placeholder (all 0 or all F); else -ENOENT. */
int lb_inventory_machine_id(char *buf, size_t size);

#endif
