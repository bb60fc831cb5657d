/* ssh.c - local port forwarding through a bastion with libssh2.
 *
 * The session is set up on the caller's thread (so every failure is raised
 * there), then handed to one forwarding thread that owns it until close.
 * That thread never logs: log lines redact with the registered secrets,
 * which the main thread may be adding to meanwhile.  Its first error is
 * kept and logged by dw_ssh_tunnel_close. */
#include "db/ssh.h"
#include "base/buf.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FORWARDS 16
#define CHUNK 16384

struct forward {
	int fd;
	LIBSSH2_CHANNEL *ch;
};

struct dw_ssh_tunnel {
	LIBSSH2_SESSION *session;
	int sock;          /* to the bastion */
	int listen_fd;     /* 127.0.0.1:port */
	int port;
	int wake[2];       /* a byte on wake[1] stops the thread */
	pthread_t thread;
	int running;
	char *target_host;
	int target_port;
	struct forward fwd[MAX_FORWARDS];
	int n_fwd;
	unsigned long forwarded;
	pthread_mutex_t lock; /* guards error */
	char error[512];   /* the thread's first error */
};

static int ssh_error(struct dw_ssh_tunnel *t, const char *doing)
{
	char *msg = NULL;

	libssh2_session_last_error(t->session, &msg, NULL, 0);
	return dw_fail("SSHError", "%s: %s", doing, msg && *msg ? msg : "unknown error");
}

/* connect() with a time limit: an unreachable bastion must not hang the
 * launch for minutes. */
static int connect_within(int fd, const struct sockaddr *addr, socklen_t len,
			  unsigned timeout_s)
{
	int flags = fcntl(fd, F_GETFL), err = 0;
	socklen_t elen = sizeof(err);
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, addr, len) != 0) {
		if (errno != EINPROGRESS)
			return -1;
		int ready = poll(&p, 1, (int)timeout_s * 1000);
		if (ready <= 0) {
			errno = ready == 0 ? ETIMEDOUT : errno;
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
			errno = err ? err : errno;
			return -1;
		}
	}
	fcntl(fd, F_SETFL, flags);
	return 0;
}

static int connect_tcp(const char *host, int port, unsigned timeout_s, int *out)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char service[16];
	int fd = -1, rc;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc)
		return dw_fail("SSHError", "cannot resolve SSH host %s: %s", host, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect_within(fd, ai->ai_addr, ai->ai_addrlen, timeout_s) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return dw_fail("SSHError", "cannot connect to SSH host %s:%d: %s", host, port,
			       strerror(errno));
	*out = fd;
	return 0;
}

static int known_host_key_type(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

static int check_host_key(struct dw_ssh_tunnel *t, const struct dw_ssh_tunnel_config *cfg,
			  int port)
{
	LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(t->session);
	size_t len;
	int type, rc;

	if (!kh)
		return ssh_error(t, "cannot read known hosts");
	if (libssh2_knownhost_readfile(kh, cfg->known_hosts_file,
				       LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
		libssh2_knownhost_free(kh);
		return dw_invalid("ssh_tunnel.known_hosts_file", "cannot read known hosts file %s",
				  cfg->known_hosts_file);
	}
	const char *key = libssh2_session_hostkey(t->session, &len, &type);
	if (!key) {
		libssh2_knownhost_free(kh);
		return ssh_error(t, "no host key from the SSH server");
	}
	rc = libssh2_knownhost_checkp(kh, cfg->host, port, key, len,
				      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
				      known_host_key_type(type), NULL);
	libssh2_knownhost_free(kh);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		return 0;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		return dw_fail("SSHHostKeyMismatch",
			       "the host key of %s:%d does not match %s: refusing to connect "
			       "(a changed server, or someone in between)", cfg->host, port,
			       cfg->known_hosts_file);
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		return dw_fail("SSHHostKeyUnknown",
			       "%s:%d is not in %s: refusing to connect to an unknown host",
			       cfg->host, port, cfg->known_hosts_file);
	default:
		return ssh_error(t, "checking the host key");
	}
}

static int start_session(struct dw_ssh_tunnel *t, const struct dw_ssh_tunnel_config *cfg)
{
	int port = cfg->port ? cfg->port : 22;
	unsigned timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;

	if (connect_tcp(cfg->host, port, timeout_s, &t->sock))
		return -1;
	t->session = libssh2_session_init();
	if (!t->session)
		return dw_fail("SSHError", "cannot create an SSH session");
	libssh2_session_set_blocking(t->session, 1);
	libssh2_session_set_timeout(t->session, (long)timeout_s * 1000);
	if (libssh2_session_handshake(t->session, t->sock))
		return ssh_error(t, "SSH handshake failed");
	if (check_host_key(t, cfg, port))
		return -1;
	if (libssh2_userauth_publickey_fromfile_ex(t->session, cfg->user,
						   (unsigned)strlen(cfg->user), NULL,
						   cfg->private_key_file, NULL))
		return ssh_error(t, "SSH public key authentication failed");
	return 0;
}

static int listen_local(struct dw_ssh_tunnel *t)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);

	t->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->listen_fd < 0 || bind(t->listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(t->listen_fd, 8) || getsockname(t->listen_fd, (struct sockaddr *)&a, &alen))
		return dw_fail("SSHError", "cannot listen on 127.0.0.1: %s", strerror(errno));
	t->port = ntohs(a.sin_port);
	return 0;
}

/* ---- the forwarding thread -------------------------------------------- */

static void note_error(struct dw_ssh_tunnel *t, const char *doing)
{
	char *msg = NULL;

	libssh2_session_last_error(t->session, &msg, NULL, 0);
	pthread_mutex_lock(&t->lock);
	if (!t->error[0])
		snprintf(t->error, sizeof(t->error), "%s: %s", doing,
			 msg && *msg ? msg : "unknown error");
	pthread_mutex_unlock(&t->lock);
}

/* Wait until the session's socket can move in the direction it is stuck. */
static void wait_session(struct dw_ssh_tunnel *t)
{
	struct pollfd p = { .fd = t->sock };
	int dir = libssh2_session_block_directions(t->session);

	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		p.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		p.events |= POLLOUT;
	poll(&p, 1, 100);
}

static void forward_close(struct dw_ssh_tunnel *t, int i)
{
	struct forward *f = &t->fwd[i];

	if (f->ch) {
		while (libssh2_channel_close(f->ch) == LIBSSH2_ERROR_EAGAIN)
			wait_session(t);
		libssh2_channel_free(f->ch);
	}
	close(f->fd);
	t->fwd[i] = t->fwd[--t->n_fwd];
}

static void accept_one(struct dw_ssh_tunnel *t)
{
	int fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	LIBSSH2_CHANNEL *ch;

	if (fd < 0)
		return;
	if (t->n_fwd == MAX_FORWARDS) {
		close(fd);
		return;
	}
	while (!(ch = libssh2_channel_direct_tcpip_ex(t->session, t->target_host, t->target_port,
						      "127.0.0.1", t->port)) &&
	       libssh2_session_last_errno(t->session) == LIBSSH2_ERROR_EAGAIN)
		wait_session(t);
	if (!ch) {
		note_error(t, "opening a forwarded connection");
		close(fd);
		return;
	}
	t->fwd[t->n_fwd++] = (struct forward){ fd, ch };
	t->forwarded++;
}

static int write_channel(struct dw_ssh_tunnel *t, LIBSSH2_CHANNEL *ch, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = libssh2_channel_write(ch, p, n);
		if (w == LIBSSH2_ERROR_EAGAIN) {
			wait_session(t);
			continue;
		}
		if (w < 0) {
			note_error(t, "writing to the tunnel");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Client to tunnel; -1 when the forward is finished. */
static int pump_up(struct dw_ssh_tunnel *t, struct forward *f)
{
	char buf[CHUNK];
	ssize_t n = recv(f->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		while (libssh2_channel_send_eof(f->ch) == LIBSSH2_ERROR_EAGAIN)
			wait_session(t);
		return -1;
	}
	return write_channel(t, f->ch, buf, (size_t)n);
}

/* Tunnel to client, everything libssh2 has; -1 when finished. */
static int pump_down(struct dw_ssh_tunnel *t, struct forward *f)
{
	char buf[CHUNK];

	for (;;) {
		ssize_t n = libssh2_channel_read(f->ch, buf, sizeof(buf));
		if (n == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (n < 0) {
			note_error(t, "reading from the tunnel");
			return -1;
		}
		if (n == 0)
			return libssh2_channel_eof(f->ch) ? -1 : 0;
		if (write_fd(f->fd, buf, (size_t)n))
			return -1;
	}
}

static void *forward_loop(void *arg)
{
	struct dw_ssh_tunnel *t = arg;

	libssh2_session_set_blocking(t->session, 0);
	for (;;) {
		struct pollfd p[3 + MAX_FORWARDS];
		int n = 0;

		p[n++] = (struct pollfd){ .fd = t->wake[0], .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = t->listen_fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = t->sock, .events = POLLIN };
		for (int i = 0; i < t->n_fwd; i++)
			p[n++] = (struct pollfd){ .fd = t->fwd[i].fd, .events = POLLIN };
		/* A short timeout: libssh2 may hold data it already read. */
		if (poll(p, (nfds_t)n, 50) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN)
			accept_one(t);
		for (int i = t->n_fwd - 1; i >= 0; i--) {
			int ready = 3 + i < n && (p[3 + i].revents & (POLLIN | POLLHUP | POLLERR));
			if ((ready && pump_up(t, &t->fwd[i])) || pump_down(t, &t->fwd[i]))
				forward_close(t, i);
		}
	}
	while (t->n_fwd > 0)
		forward_close(t, t->n_fwd - 1);
	return NULL;
}

/* ---- public ------------------------------------------------------------ */

int dw_ssh_tunnel_open(struct dw_ssh_tunnel **out,
		       const struct dw_ssh_tunnel_config *cfg)
{
	struct dw_ssh_tunnel *t = dw_xcalloc(1, sizeof(*t));

	*out = NULL;
	t->sock = t->listen_fd = t->wake[0] = t->wake[1] = -1;
	pthread_mutex_init(&t->lock, NULL);
	t->target_host = dw_xstrdup(cfg->target_host);
	t->target_port = cfg->target_port;
	/* OpenSSL initialises itself; libssh2_exit must not tear it down
	 * under libcurl. */
	if (libssh2_init(LIBSSH2_INIT_NO_CRYPTO)) {
		free(t->target_host);
		free(t);
		return dw_fail("SSHError", "cannot initialise libssh2");
	}
	if (start_session(t, cfg) || listen_local(t)) {
		dw_ssh_tunnel_close(t);
		return dw_error_context("SSH tunnel through %s@%s", cfg->user, cfg->host);
	}
	if (pipe2(t->wake, O_CLOEXEC) || pthread_create(&t->thread, NULL, forward_loop, t)) {
		dw_ssh_tunnel_close(t);
		return dw_fail("SSHError", "cannot start the SSH tunnel thread");
	}
	t->running = 1;
	dw_info("SSH tunnel 127.0.0.1:%d -> %s@%s -> %s:%d", t->port, cfg->user, cfg->host,
		cfg->target_host, cfg->target_port);
	*out = t;
	return 0;
}

int dw_ssh_tunnel_port(const struct dw_ssh_tunnel *t)
{
	return t->port;
}

void dw_ssh_tunnel_error(struct dw_ssh_tunnel *t, char *out, size_t len)
{
	pthread_mutex_lock(&t->lock);
	snprintf(out, len, "%s", t->error);
	pthread_mutex_unlock(&t->lock);
}

void dw_ssh_tunnel_close(struct dw_ssh_tunnel *t)
{
	if (!t)
		return;
	if (t->running) {
		ssize_t w = write(t->wake[1], "x", 1);
		(void)w;
		pthread_join(t->thread, NULL);
		dw_debug("SSH tunnel closed after %lu connection(s)", t->forwarded);
		if (t->error[0])
			dw_warn("SSH tunnel: %s", t->error);
	}
	if (t->session) {
		libssh2_session_set_blocking(t->session, 1);
		libssh2_session_disconnect(t->session, "closing the tunnel");
		libssh2_session_free(t->session);
	}
	for (int i = 0; i < 2; i++)
		if (t->wake[i] >= 0)
			close(t->wake[i]);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	if (t->sock >= 0)
		close(t->sock);
	free(t->target_host);
	pthread_mutex_destroy(&t->lock);
	free(t);
	libssh2_exit();
}
