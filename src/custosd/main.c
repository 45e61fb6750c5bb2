/* custosd: the custos daemon.  Argument parsing and wiring only. */
#include "custos/server.h"
#include "console_wiring.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void healthz(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    (void)ud;
    (void)req;
    cu_http_text(resp, 200, "application/json", "{\"status\":\"ok\",\"version\":\"" CUSTOS_VERSION "\"}\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: custosd [--listen ADDR] [--port N] [--port-file FILE]\n"
               "  --listen ADDR     address to bind (default 127.0.0.1)\n"
               "  --port N          TCP port (default 8340; 0 picks a free one)\n"
               "  --port-file FILE  write the port actually bound to FILE\n");
    fputs(cud_console_usage, f);
}

int main(int argc, char **argv)
{
    cu_server_opts opts = {.bind_addr = "127.0.0.1", .port = 8340};
    const char *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            opts.bind_addr = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            long p = strtol(argv[++i], &end, 10);
            if (errno || *end || p < 0 || p > 65535) {
                fprintf(stderr, "custosd: bad port %s\n", argv[i]);
                return 2;
            }
            opts.port = (uint16_t)p;
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else if (cud_console_arg(argc, argv, i) != 0) {
            int used = cud_console_arg(argc, argv, i);
            if (used < 0) {
                fprintf(stderr, "custosd: bad value for %s\n", argv[i]);
                return 2;
            }
            i += used - 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "custosd: unknown argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    /* Block the signals we wait for before any thread starts, so that only
     * sigwait() below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    cu_server *srv = NULL;
    cu_rc rc = cu_server_new(&opts, &srv);
    if (!rc)
        rc = cu_server_route(srv, "GET", "/healthz", healthz, NULL);
    if (!rc)
        rc = cud_console_start(srv);
    if (!rc && cud_list_routes(srv)) {
        cu_server_free(srv);
        cud_console_stop();
        return 0;
    }
    if (!rc)
        rc = cu_server_start(srv);
    if (rc) {
        fprintf(stderr, "custosd: %s: %s\n", cu_strerror(rc), cu_err_detail());
        cu_server_free(srv);
        cud_console_stop();
        return 1;
    }
    unsigned port = cu_server_port(srv);
    if (port_file) {
        char txt[16];
        int n = snprintf(txt, sizeof txt, "%u\n", port);
        if (cu_file_write_atomic(port_file, txt, (size_t)n, 0644)) {
            fprintf(stderr, "custosd: %s\n", cu_err_detail());
            cu_server_free(srv);
            return 1;
        }
    }
    cu_log(CU_LOG_INFO, "custosd %s listening on %s:%u", CUSTOS_VERSION, opts.bind_addr, port);

    int sig = 0;
    sigwait(&set, &sig);
    cu_log(CU_LOG_INFO, "custosd: signal %d, stopping", sig);
    cu_server_free(srv);
    cud_console_stop();
    cu_log(CU_LOG_INFO, "custosd: stopped");
    return 0;
}
