/* dw/ssh.h - an SSH tunnel (libssh2): a local port on 127.0.0.1 whose
 * connections are forwarded through a bastion to a target host and port,
 * like `ssh -L`.  The bastion's host key must be in known_hosts_file:
 * unknown or changed keys are refused. */
#ifndef DW_SSH_H
#define DW_SSH_H

#include <stddef.h>

struct dw_ssh_tunnel_config {
	const char *host;             /* the bastion */
	int port;                     /* 0: 22 */
	const char *user;
	const char *private_key_file; /* unencrypted, OpenSSH or PEM format */
	const char *known_hosts_file;
	const char *target_host;      /* as the bastion resolves it */
	int target_port;
	unsigned timeout_s;           /* connecting and authenticating; 0: 30 */
};

struct dw_ssh_tunnel;

/* Connect, check the host key, authenticate, and start forwarding on a
 * thread of its own. */
int dw_ssh_tunnel_open(struct dw_ssh_tunnel **out,
		       const struct dw_ssh_tunnel_config *cfg);
/* The local port to connect to (on 127.0.0.1). */
int dw_ssh_tunnel_port(const struct dw_ssh_tunnel *t);
/* The first error forwarding met so far ("" when none), e.g. the bastion
 * could not reach the target: why a connection through it was dropped. */
void dw_ssh_tunnel_error(struct dw_ssh_tunnel *t, char *out, size_t len);
/* Stop forwarding, close every connection and the session. */
void dw_ssh_tunnel_close(struct dw_ssh_tunnel *t);

#endif
