// SPDX-License-Identifier: MIT
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kernel.h"

/* Asked of the BTF once, though both collectors ask: parsing it takes ~12 ms.
 * (Collectors start one after another, from the main thread.) */
static int sock_tracepoints = -1, splice_to_socket;

bool kernel__has_socket_hooks(bool sendfile)
{
	struct btf *btf;

	if (sock_tracepoints < 0) {
		sock_tracepoints = 0;
		btf = btf__load_vmlinux_btf();
		if (!libbpf_get_error(btf)) {
			sock_tracepoints = btf__find_by_name_kind(btf, "btf_trace_sock_recv_length",
								  BTF_KIND_TYPEDEF) > 0 &&
					   btf__find_by_name_kind(btf, "btf_trace_sock_send_length",
								  BTF_KIND_TYPEDEF) > 0;
			splice_to_socket =
			    btf__find_by_name_kind(btf, "splice_to_socket", BTF_KIND_FUNC) > 0;
			btf__free(btf);
		}
	}
	return sock_tracepoints && (!sendfile || splice_to_socket);
}
