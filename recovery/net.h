/* The network as an operator needs to see it before reaching an object
 * store: every interface with its MAC, link and addresses, the default
 * routes and the DNS servers; and the two changes the console offers (DHCP
 * again on one interface, or a static address), made with BusyBox's ip and
 * udhcpc, the tools init itself uses.
 *
 * Sources: $LIFEBOAT_SYSFS/class/net (default /sys), getifaddrs(3),
 * $LIFEBOAT_PROC/net/route and ipv6_route (default /proc), /etc/resolv.conf. */
#ifndef LB_NET_H
#define LB_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define LB_UDHCPC_SCRIPT "/etc/lifeboat/udhcpc.script"

struct lb_netif {
	char *name;      /* "eth0" */
	char *mac;       /* "52:54:00:12:34:56", or NULL */
	char *operstate; /* "up", "down", "unknown", ... */
	int carrier;     /* 1 cable in, 0 no carrier, -1 unknown (interface down) */
	bool physical;   /* has a device behind it (not lo, bridges, tunnels) */
	struct lb_strv addrs; /* "10.0.2.15/24", "2001:db8::5/64"; no link-local */
};

struct lb_net {
	size_t n;
	struct lb_netif *ifs;   /* sorted by name; lo left out */
	struct lb_strv routes;  /* default routes: "10.0.2.2 via eth0" */
	struct lb_strv dns;     /* nameservers of /etc/resolv.conf */
};

int lb_net_scan(struct lb_net **ret);
void lb_net_free(struct lb_net *n);

/* Bring ifname up, wait up to 5 s for carrier, and ask DHCP for a lease
 * (udhcpc with init's script). 0 with a lease, -EIO without one, -ENOLINK
 * without carrier; said on stderr. */
int lb_net_dhcp(const char *ifname);

/* Set addr ("192.0.2.10/24"; IPv4) on ifname alone, gw (NULL: none) as the
 * default route, and dns (space-separated, NULL: keep resolv.conf) as the
 * nameservers. Everything is checked before anything changes: -EINVAL
 * (logged, naming what is wrong), else 0 or -EIO when a command failed. */
int lb_net_static(const char *ifname, const char *addr, const char *gw, const char *dns);

/* "192.0.2.10/24" (prefix 0-32 required) or, with prefix false, a bare
 * IPv4 address. */
bool lb_net_ipv4_ok(const char *s, bool prefix);

#endif
