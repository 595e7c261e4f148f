/* A program built against the installed libzklock-dev only (tests/package/run compiles it with
 * `cc lockclient.c $(pkg-config --cflags --libs zabkeeper-lock)`): takes and releases a mutex on
 * the server HOST:PORT and prints the fencing token. Exit 0 when the lock was held. */
#include <stdio.h>

#include <zklock.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s HOST:PORT\n", argv[0]);
        return 2;
    }
    int status = ZKL_OK;
    zkl_client *c = zkl_client_new(argv[1], 10000, 10000, &status);
    if (!c) {
        fprintf(stderr, "lockclient: connect: %s\n", zkl_strerror(status));
        return 1;
    }
    int rc = 1;
    zkl_lock *lock = zkl_mutex_new(c, "/pkgtest/lock");
    if (!lock) {
        fprintf(stderr, "lockclient: zkl_mutex_new failed\n");
        goto out;
    }
    int64_t token = 0;
    status = zkl_lock_acquire(lock, 10000, &token);
    if (status != ZKL_OK) {
        fprintf(stderr, "lockclient: acquire: %s\n", zkl_strerror(status));
        goto out;
    }
    printf("held %s, token %lld, state %s\n", zkl_lock_node(lock), (long long)token,
           zkl_lock_state_name(zkl_lock_state(lock)));
    status = zkl_lock_release(lock);
    if (status != ZKL_OK) {
        fprintf(stderr, "lockclient: release: %s\n", zkl_strerror(status));
        goto out;
    }
    rc = token > 0 ? 0 : 1;
out:
    if (lock)
        zkl_lock_free(lock);
    zkl_client_free(c);
    return rc;
}
