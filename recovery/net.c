/* The network (net.h). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

#define RESOLV_CONF "/etc/resolv.conf"

static int cmp_if(const void *a, const void *b)
{
	return strcmp(((const struct lb_netif *)a)->name, ((const struct lb_netif *)b)->name);
}

static unsigned prefix_len(const struct sockaddr *mask)
{
	const unsigned char *p;
	size_t len;
	unsigned bits = 0;

	if (!mask)
		return 0;
	if (mask->sa_family == AF_INET) {
		p = (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr;
		len = 4;
	} else {
		p = (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
		len = 16;
	}
	for (size_t i = 0; i < len; i++)
		for (unsigned char b = p[i]; b; b <<= 1)
			bits += (b & 0x80) ? 1 : 0;
	return bits;
}

static struct lb_netif *find_if(struct lb_net *n, const char *name)
{
	for (size_t i = 0; i < n->n; i++)
		if (!strcmp(n->ifs[i].name, name))
			return &n->ifs[i];
	return NULL;
}

static int add_addrs(struct lb_net *n)
{
	struct ifaddrs *ifa = NULL;
	int r = 0;

	if (getifaddrs(&ifa) < 0) {
		lb_log("list network addresses: %s", strerror(errno));
		return -errno;
	}
	for (struct ifaddrs *a = ifa; a && r == 0; a = a->ifa_next) {
		struct lb_netif *i = find_if(n, a->ifa_name);
		char ip[INET6_ADDRSTRLEN], *s;
		const void *src;

		if (!i || !a->ifa_addr || (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
			continue;
		if (a->ifa_addr->sa_family == AF_INET) {
			src = &((const struct sockaddr_in *)a->ifa_addr)->sin_addr;
		} else {
			const struct in6_addr *a6 = &((const struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;

			/* fe80:: is on every link and reaches no object store */
			if (IN6_IS_ADDR_LINKLOCAL(a6))
				continue;
			src = a6;
		}
		if (!inet_ntop(a->ifa_addr->sa_family, src, ip, sizeof(ip)))
			continue;
		s = lb_strdupf("%s/%u", ip, prefix_len(a->ifa_netmask));
		r = s ? lb_strv_add_unique(&i->addrs, s) : -ENOMEM;
		free(s);
	}
	freeifaddrs(ifa);
	return r;
}

/* Default routes from the kernel's tables (IPv4 and IPv6). */
static int add_routes(struct lb_net *n)
{
	char *path = lb_strdupf("%s/net/route", lb_root(LB_ROOT_PROC)), *buf = NULL, *line, *save = NULL;
	int r = path ? lb_read_file(path, LB_READ_MAX, &buf) : -ENOMEM;

	free(path);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char ifn[IF_NAMESIZE + 1], gw[INET_ADDRSTRLEN], *s;
		unsigned long dst, gwv, mask;
		struct in_addr a;

		if (sscanf(line, "%16s %lx %lx %*x %*d %*d %*d %lx", ifn, &dst, &gwv, &mask) != 4 || dst || mask)
			continue;
		a.s_addr = (in_addr_t)gwv; /* the kernel prints the raw network-order word */
		if (!inet_ntop(AF_INET, &a, gw, sizeof(gw)))
			continue;
		s = gwv ? lb_strdupf("%s via %s", gw, ifn) : lb_strdupf("on link %s", ifn);
		r = s ? lb_strv_add_unique(&n->routes, s) : -ENOMEM;
		free(s);
		if (r < 0)
			break;
	}
	free(buf);
	buf = NULL;
	if (r < 0)
		return r;
	path = lb_strdupf("%s/net/ipv6_route", lb_root(LB_ROOT_PROC));
	r = path ? lb_read_file(path, LB_READ_MAX, &buf) : -ENOMEM;
	free(path);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = 0;
	save = NULL;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char dst[33], plen[3], hop[33], ifn[IF_NAMESIZE + 1], txt[INET6_ADDRSTRLEN], *s;
		struct in6_addr a;

		if (sscanf(line, "%32s %2s %*s %*s %32s %*s %*s %*s %*s %16s", dst, plen, hop, ifn) != 4 ||
		    strcmp(dst, "00000000000000000000000000000000") || strcmp(plen, "00") || !strcmp(ifn, "lo"))
			continue;
		for (int i = 0; i < 16; i++) {
			unsigned v;

			sscanf(hop + 2 * i, "%2x", &v);
			a.s6_addr[i] = (unsigned char)v;
		}
		if (IN6_IS_ADDR_UNSPECIFIED(&a) || !inet_ntop(AF_INET6, &a, txt, sizeof(txt)))
			continue;
		s = lb_strdupf("%s via %s", txt, ifn);
		r = s ? lb_strv_add_unique(&n->routes, s) : -ENOMEM;
		free(s);
		if (r < 0)
			break;
	}
	free(buf);
	return r;
}

static int add_dns(struct lb_net *n)
{
	char *buf = NULL, *line, *save = NULL;
	int r = lb_read_file(RESOLV_CONF, LB_READ_MAX, &buf);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = 0;
	for (line = strtok_r(buf, "\n", &save); line && r == 0; line = strtok_r(NULL, "\n", &save)) {
		char ns[INET6_ADDRSTRLEN + 1];

		if (sscanf(line, " nameserver %46s", ns) == 1)
			r = lb_strv_add_unique(&n->dns, ns);
	}
	free(buf);
	return r;
}

int lb_net_scan(struct lb_net **ret)
{
	char *dir = lb_strdupf("%s/class/net", lb_root(LB_ROOT_SYSFS));
	struct lb_net *n = calloc(1, sizeof(*n));
	DIR *d = NULL;
	struct dirent *e;
	int r = -ENOMEM;

	if (!dir || !n)
		goto fail;
	d = opendir(dir);
	if (!d) {
		r = -errno;
		lb_log("list network interfaces %s: %s", dir, strerror(errno));
		goto fail;
	}
	while ((e = readdir(d))) {
		struct lb_netif *i, *v;
		char *p;
		uint64_t carrier;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, "lo"))
			continue;
		v = realloc(n->ifs, (n->n + 1) * sizeof(*n->ifs));
		if (!v) {
			r = -ENOMEM;
			goto fail;
		}
		n->ifs = v;
		i = &n->ifs[n->n++];
		memset(i, 0, sizeof(*i));
		i->carrier = -1;
		if (!(i->name = strdup(e->d_name)))
			goto fail;
		/* Missing attributes stay NULL: a virtual interface has no MAC. */
		if ((p = lb_strdupf("%s/%s/address", dir, e->d_name)))
			lb_read_str(p, &i->mac);
		free(p);
		if ((p = lb_strdupf("%s/%s/operstate", dir, e->d_name)))
			lb_read_str(p, &i->operstate);
		free(p);
		/* carrier reads as EINVAL while the interface is down */
		if ((p = lb_strdupf("%s/%s/carrier", dir, e->d_name)) && lb_read_u64(p, &carrier) == 0)
			i->carrier = carrier ? 1 : 0;
		free(p);
		if ((p = lb_strdupf("%s/%s/device", dir, e->d_name)))
			i->physical = access(p, F_OK) == 0;
		free(p);
	}
	if (n->n > 1)
		qsort(n->ifs, n->n, sizeof(*n->ifs), cmp_if);
	/* Addresses, routes and DNS are for showing: a failure is logged and
	 * the rest still shown. */
	if ((r = add_addrs(n)) == -ENOMEM || (r = add_routes(n)) == -ENOMEM || (r = add_dns(n)) == -ENOMEM)
		goto fail;
	closedir(d);
	free(dir);
	*ret = n;
	return 0;
fail:
	if (d)
		closedir(d);
	free(dir);
	lb_net_free(n);
	return r;
}

void lb_net_free(struct lb_net *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		free(n->ifs[i].name);
		free(n->ifs[i].mac);
		free(n->ifs[i].operstate);
		lb_strv_clear(&n->ifs[i].addrs);
	}
	free(n->ifs);
	lb_strv_clear(&n->routes);
	lb_strv_clear(&n->dns);
	free(n);
}

bool lb_net_ipv4_ok(const char *s, bool prefix)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr a;
	size_t len = slash ? (size_t)(slash - s) : strlen(s);

	if ((slash != NULL) != prefix || len >= sizeof(ip))
		return false;
	memcpy(ip, s, len);
	ip[len] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return false;
	if (prefix) {
		char *end;
		unsigned long p = strtoul(slash + 1, &end, 10);

		if (!slash[1] || *end || p > 32)
			return false;
	}
	return true;
}

static bool ifname_ok(const char *ifname)
{
	char p[512];

	if (!*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/') || ifname[0] == '.')
		return false;
	snprintf(p, sizeof(p), "%s/class/net/%s", lb_root(LB_ROOT_SYSFS), ifname);
	return access(p, F_OK) == 0;
}

static int run(const char *const *argv)
{
	int r = lb_run(argv);

	if (r > 0)
		lb_log("%s %s %s: exit status %d", argv[0], argv[1], argv[2] ? argv[2] : "", r);
	return r == 0 ? 0 : -EIO;
}

int lb_net_dhcp(const char *ifname)
{
	const char *const up[] = { "ip", "link", "set", ifname, "up", NULL };
	/* init's options: give up after the tries instead of looping forever,
	 * and ask for NTP servers, which the script records. */
	const char *const dhcp[] = { "udhcpc", "-i", ifname, "-n", "-q", "-t", "4", "-T", "2", "-A", "1", "-O", "ntpsrv",
				     "-s", LB_UDHCPC_SCRIPT, NULL };
	char p[512];
	uint64_t carrier = 0;
	int r;

	if (!ifname_ok(ifname)) {
		lb_log("network: no interface %s", ifname);
		return -EINVAL;
	}
	if ((r = run(up)) < 0)
		return r;
	snprintf(p, sizeof(p), "%s/class/net/%s/carrier", lb_root(LB_ROOT_SYSFS), ifname);
	for (int i = 0; i < 50; i++) {
		const struct timespec tenth = { 0, 100000000L };

		if (lb_read_u64(p, &carrier) == 0 && carrier)
			break;
		nanosleep(&tenth, NULL);
	}
	if (!carrier) {
		lb_log("network: %s has no carrier (cable, switch port?) after 5 s", ifname);
		return -ENOLINK;
	}
	if (lb_run(dhcp) != 0) {
		lb_log("network: %s: no DHCP answer", ifname);
		return -EIO;
	}
	return 0;
}

int lb_net_static(const char *ifname, const char *addr, const char *gw, const char *dns)
{
	const char *const up[] = { "ip", "link", "set", ifname, "up", NULL };
	const char *const flush[] = { "ip", "-4", "addr", "flush", "dev", ifname, NULL };
	const char *const add[] = { "ip", "addr", "add", addr, "dev", ifname, NULL };
	/* replace: there is one default route, and the old one may not exist */
	const char *const route[] = { "ip", "route", "replace", "default", "via", gw, "dev", ifname, NULL };
	char *copy = NULL, *w, *save = NULL;
	FILE *f = NULL;
	int r;

	if (!ifname_ok(ifname)) {
		lb_log("network: no interface %s", ifname);
		return -EINVAL;
	}
	if (!lb_net_ipv4_ok(addr, true)) {
		lb_log("network: '%s' is not an IPv4 address with a prefix (like 192.0.2.10/24)", addr);
		return -EINVAL;
	}
	if (gw && *gw && !lb_net_ipv4_ok(gw, false)) {
		lb_log("network: gateway '%s' is not an IPv4 address", gw);
		return -EINVAL;
	}
	if (dns && *dns) {
		if (!(copy = strdup(dns)))
			return -ENOMEM;
		for (w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
			struct in6_addr a6;

			if (!lb_net_ipv4_ok(w, false) && inet_pton(AF_INET6, w, &a6) != 1) {
				lb_log("network: DNS server '%s' is not an IP address", w);
				free(copy);
				return -EINVAL;
			}
		}
		free(copy);
	}
	if ((r = run(up)) < 0 || (r = run(flush)) < 0 || (r = run(add)) < 0)
		return r;
	if (gw && *gw && (r = run(route)) < 0)
		return r;
	if (dns && *dns) {
		f = fopen(RESOLV_CONF, "w");
		if (!f) {
			lb_log("network: write %s: %s", RESOLV_CONF, strerror(errno));
			return -errno;
		}
		if (!(copy = strdup(dns))) {
			fclose(f);
			return -ENOMEM;
		}
		save = NULL;
		for (w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save))
			fprintf(f, "nameserver %s\n", w);
		free(copy);
		if (fclose(f) != 0) {
			lb_log("network: write %s: %s", RESOLV_CONF, strerror(errno));
			return -EIO;
		}
	}
	return 0;
}
