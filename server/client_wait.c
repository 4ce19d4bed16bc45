/*
 * client_wait.c — waiting for whole (non-streamed) answers while watching the client: a client
 * that closed its connection is noticed between tokens and its requests are cancelled (their
 * slots and KV blocks freed at the scheduler's next step) instead of running to the end for
 * nobody. Streams need none of this: libmicrohttpd frees a stream's response when its write
 * fails, which cancels the request (generate.c, sse.c).
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "server_internal.h"

/* How often a waiting handler looks at its socket when no token arrives (seconds). */
#define CLIENT_CHECK_S 0.1

int qs_client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return 1;
    /* Readable while we owe an answer: either the client closed (recv sees the end, 0) or sent
     * more bytes (a pipelined request: still there). */
    char b;
    ssize_t got = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

int qs_wait_answers(qs_server *s, struct MHD_Connection *c, qs_req **reqs, size_t n) {
    int gone = 0;
    qs_sched_lock(s->sched);
    for (size_t i = 0; i < n && !gone; i++)
        while (reqs[i]->state != QS_DONE) {
            qs_sched_wait(s->sched, CLIENT_CHECK_S);
            if (reqs[i]->state != QS_DONE && qs_client_gone(c)) {
                gone = 1;
                break;
            }
        }
    qs_sched_unlock(s->sched);
    return gone;
}
