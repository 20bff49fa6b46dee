// SPDX-License-Identifier: MIT
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kernel.h"

bool kernel__has_socket_hooks(bool sendfile)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (libbpf_get_error(btf))
		return false;
	ok = btf__find_by_name_kind(btf, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) > 0 &&
	     btf__find_by_name_kind(btf, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) > 0 &&
	     (!sendfile || btf__find_by_name_kind(btf, "splice_to_socket", BTF_KIND_FUNC) > 0);
	btf__free(btf);
	return ok;
}
