/* SPDX-License-Identifier: MIT */
#ifndef REDSCOPE_KERNEL_H
#define REDSCOPE_KERNEL_H

#include <stdbool.h>

/*
 * Whether the running kernel has what the collectors' socket hooks need, asked
 * of its BTF before loading: the sock_recv_length and sock_send_length
 * tracepoints (Linux 6.3) and, with sendfile, sendfile going through
 * sock_sendmsg, which came with splice_to_socket (6.5).
 */
bool kernel__has_socket_hooks(bool sendfile);

#endif
