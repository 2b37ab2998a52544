// epoll and memmem for the fan-out client tool: Swift's Glibc module leaves these GNU/Linux
// headers out.
#ifndef CEPOLL_H
#define CEPOLL_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <string.h>
#include <sys/epoll.h>
#endif
