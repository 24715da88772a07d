#define _GNU_SOURCE
/* Blocked-request client for scripts/bench_live_wakeup.py: opens N connections to 127.0.0.1,
 * sends one GET on each, prints READY, then waits for every response and prints one line per
 * response: the CLOCK_REALTIME second (with ns) at which its last byte arrived, and its status.
 * In C so that receiving 1,000 responses costs the shared 2-core machine next to nothing:
 * in production the players are on other machines. Usage: blocked_clients PORT COUNT PATH */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn { int fd; size_t got; long want; int status; char head[4096]; size_t head_len; };

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s PORT COUNT PATH\n", argv[0]); return 2; }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    struct rlimit rl; getrlimit(RLIMIT_NOFILE, &rl); rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl);
    char req[1024];
    int req_len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", argv[3]);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    int ep = epoll_create1(0);
    struct conn *conns = calloc(count, sizeof *conns);
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 1; }
        if (write(fd, req, req_len) != req_len) { perror("write"); return 1; }
        conns[i].fd = fd; conns[i].want = -1;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    printf("READY\n"); fflush(stdout);
    struct timespec *done = calloc(count, sizeof *done);
    int *status = calloc(count, sizeof *status);
    int finished = 0;
    struct epoll_event events[256];
    char buf[65536];
    while (finished < count) {
        int n = epoll_wait(ep, events, 256, 60000);
        if (n <= 0) { fprintf(stderr, "timeout: %d of %d answered\n", finished, count); break; }
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            ssize_t r = read(c->fd, buf, sizeof buf);
            struct timespec now; clock_gettime(CLOCK_REALTIME, &now);
            if (r <= 0) { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); done[finished] = now; status[finished++] = c->status; continue; }
            size_t off = 0;
            if (c->want < 0) {  /* still reading the head */
                size_t take = (size_t)r < sizeof c->head - c->head_len - 1 ? (size_t)r : sizeof c->head - c->head_len - 1;
                memcpy(c->head + c->head_len, buf, take); c->head_len += take; c->head[c->head_len] = 0;
                char *end = strstr(c->head, "\r\n\r\n");
                if (!end) continue;
                c->status = atoi(c->head + 9);
                char *cl = strcasestr(c->head, "\r\ncontent-length:");
                c->want = cl ? atol(cl + 17) : 0;
                size_t head_bytes = (size_t)(end + 4 - c->head);
                off = head_bytes - (c->head_len - take);
                c->got = (size_t)r - off;
            } else {
                c->got += (size_t)r;
            }
            if ((long)c->got >= c->want) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd);
                done[finished] = now; status[finished++] = c->status;
            }
        }
    }
    for (int i = 0; i < finished; i++) printf("%ld.%09ld %d\n", (long)done[i].tv_sec, done[i].tv_nsec, status[i]);
    return finished == count ? 0 : 1;
}
