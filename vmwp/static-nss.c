// SPDX-License-Identifier: MIT
/* Name-service functions of the static worker (VM_STATIC_WORKER only; see
 * vmwp/CMakeLists.txt): they fail without looking anything up.
 *
 * Why: the worker reaches libnl only through netvsp's tap code
 * (rtnl_link_get_kernel, rtnl_link_change: interfaces by index and name in
 * the kernel, never a host or protocol name). libnl's link.o still needs
 * addr.o and utils.o, and their name helpers (nl_addr_info, nl_addr_resolve,
 * nl_ip_proto2str, nl_str2ip_proto) call getaddrinfo, getnameinfo,
 * getprotobynumber and getprotobyname. The archives are not built with
 * -ffunction-sections, so --gc-sections cannot drop those callers, and in a
 * static link glibc's versions bring in NSS: code that would dlopen the
 * libnss_* modules of the glibc version we linked against at run time, and
 * the linker's "requires at runtime the shared libraries" warnings.
 *
 * Why this is safe: nothing in the worker resolves names (accounts come from
 * /etc/passwd, vmwp/sandbox-creds.c), the worker runs in an empty network
 * namespace with no /etc/hosts, /etc/protocols or resolver to consult, and
 * libnl's helpers handle the failure: numbers are printed as numbers and
 * nl_str2ip_proto still parses numeric protocols. Defined here, these
 * symbols keep glibc's getaddrinfo.o, getnameinfo.o, getproto.o and
 * getprtname.o (and NSS with them) out of the link; vmwp is linked with
 * --fatal-warnings in the presets, so a new NSS user fails the build. */
#include <netdb.h>
#include <stddef.h>

int getaddrinfo(const char *restrict node, const char *restrict service, const struct addrinfo *restrict hints,
                struct addrinfo **restrict res) {
        *res = NULL;
        return EAI_FAIL;
}

/* getaddrinfo above never returns a list: nothing to free. Defined because
 * glibc's freeaddrinfo lives in getaddrinfo.o and would bring it back. */
void freeaddrinfo(struct addrinfo *res) {
}

int getnameinfo(const struct sockaddr *restrict addr, socklen_t addrlen, char *restrict host, socklen_t hostlen,
                char *restrict serv, socklen_t servlen, int flags) {
        return EAI_FAIL;
}

struct protoent *getprotobyname(const char *name) {
        return NULL;
}

struct protoent *getprotobynumber(int proto) {
        return NULL;
}
