/*
 * daemon.h: process lifecycle in the main thread: signals (SIGHUP reload,
 * SIGTERM/SIGINT drain), sd_notify over $NOTIFY_SOCKET (no libsystemd), and
 * the reload sequence (load, validate, swap, notify).
 */
#ifndef SPARKGATE_DAEMON_H
#define SPARKGATE_DAEMON_H

/*
 * Runs sparkgate with the config at |path| in the foreground until SIGTERM
 * has drained every worker.  Returns the process exit status.
 */
int daemon_run(const char *path);

/*
 * Sends |state| ("READY=1\nSTATUS=...") to $NOTIFY_SOCKET if it is set.
 * Returns 0, or -1 when the socket is set but unusable.
 */
int daemon_notify(const char *state);

#endif
