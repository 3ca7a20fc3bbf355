/* The rules of a tree's unix sockets: which sets the restore can make again exactly. The
 * dump applies them to what it saw (and refuses, naming the task and fd, what breaks one),
 * the restore to what the images say (and refuses the images). One place, so the two
 * never disagree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "files/unix_diag.h"
#include "files/unix_sk.h"

bool unix_msg_apart(const UnixMsg *m)
{
	return m->n_fds || (m->has_oob && m->oob);
}

bool unix_msg_same_creds(const UnixMsg *a, const UnixMsg *b)
{
	if (a->has_cred_pid != b->has_cred_pid)
		return false;
	return !a->has_cred_pid || (a->cred_pid == b->cred_pid && a->cred_uid == b->cred_uid &&
				    a->cred_gid == b->cred_gid);
}

const char *unix_name_str(const uint8_t *name, size_t len, char *buf, size_t cap)
{
	size_t o = 0;
	if (!len) {
		snprintf(buf, cap, "(unnamed)");
		return buf;
	}
	if (name[0] == 0) {
		/* abstract: @ and the bytes, unprintable ones as \xNN */
		o = snprintf(buf, cap, "@");
		for (size_t i = 1; i < len && o + 5 < cap; i++)
			o += (name[i] >= 0x20 && name[i] < 0x7f)
				 ? (size_t)snprintf(buf + o, cap - o, "%c", name[i])
				 : (size_t)snprintf(buf + o, cap - o, "\\x%02x", name[i]);
		return buf;
	}
	snprintf(buf, cap, "%.*s", (int)strnlen((const char *)name, len), (const char *)name);
	return buf;
}

static bool is_conn(int type)
{
	return type == SOCK_STREAM || type == SOCK_SEQPACKET;
}

static bool same_name(const UnixSk *a, const UnixSk *b)
{
	return a->has_name && b->has_name && a->name.len == b->name.len &&
	       !memcmp(a->name.data, b->name.data, a->name.len) &&
	       !strcmp(a->name_dir ? a->name_dir : "", b->name_dir ? b->name_dir : "");
}

bool unix_mutual(UnixSk *const *sks, uint32_t n, const UnixSk *s)
{
	const UnixSk *p;
	if (s->state != UNIX_ST_CONNECTED || !s->has_peer || s->peer >= n || s->has_listener)
		return false;
	p = sks[s->peer];
	return p->state == UNIX_ST_CONNECTED && p->has_peer && p->peer == s->id && !p->has_listener;
}

int unix_check_one(const UnixSk *s, char *why, size_t len)
{
	size_t bytes = 0, pending = SIZE_MAX; /* the message of the pending urgent byte */

	if (s->type != SOCK_STREAM && s->type != SOCK_DGRAM && s->type != SOCK_SEQPACKET)
		return snprintf(why, len, "type %u is not a unix socket's", s->type), -1;
	if (s->state != UNIX_ST_CONNECTED && s->state != UNIX_ST_CLOSE &&
	    s->state != UNIX_ST_LISTEN)
		return snprintf(why, len, "state %u is invalid", s->state), -1;
	if (s->has_name) {
		const uint8_t *d = s->name.data;
		size_t l = s->name.len;
		if (l < 1 || l > UNIX_NAME_MAX)
			return snprintf(why, len, "a name of %zu bytes", l), -1;
		/* a path: NUL-terminated, with no NUL before its end */
		if (d[0] && (l < 2 || d[l - 1] || strnlen((const char *)d, l) != l - 1))
			return snprintf(why, len, "a path name that is not one string"), -1;
		if (s->name_dir && (!d[0] ? true : d[0] == '/' || s->name_dir[0] != '/'))
			return snprintf(why, len, "a directory for a name not relative"), -1;
		if (d[0] && d[0] != '/' && !s->name_dir)
			return snprintf(why, len, "a relative name without its directory"), -1;
	} else if (s->name_dir || s->has_file_mode) {
		return snprintf(why, len, "a file for a socket without a name"), -1;
	}
	if (s->has_file_mode && s->file_mode > 07777)
		return snprintf(why, len, "file mode %#o is invalid", s->file_mode), -1;
	if (s->has_ext_peer) {
		const uint8_t *d = s->ext_peer.data;
		size_t l = s->ext_peer.len;
		if (s->type != SOCK_DGRAM || s->has_peer || s->peer_gone || s->n_queue || l < 1 ||
		    l > UNIX_NAME_MAX ||
		    (d[0] &&
		     (d[0] != '/' || l < 2 || d[l - 1] || strnlen((const char *)d, l) != l - 1)))
			return snprintf(why, len, "an invalid peer outside the tree"), -1;
	}
	if ((s->has_peer || s->peer_gone || s->has_listener) && s->state != UNIX_ST_CONNECTED)
		return snprintf(why, len, "a peer, but not connected"), -1;
	if (s->has_peer && s->peer_gone)
		return snprintf(why, len, "a peer that is there and gone"), -1;
	if (s->state == UNIX_ST_CONNECTED && !s->has_peer && !s->peer_gone && !s->has_pending_on &&
	    is_conn(s->type))
		return snprintf(why, len, "connected, to no peer"), -1;
	if (s->state == UNIX_ST_LISTEN &&
	    (!is_conn(s->type) || !s->has_backlog || s->backlog > UNIX_BACKLOG_MAX || !s->has_name))
		return snprintf(why, len, "listening, but not a named stream with a backlog"), -1;
	if (s->state != UNIX_ST_LISTEN && s->has_backlog)
		return snprintf(why, len, "a backlog, but not listening"), -1;
	if (s->has_pending_on && (!is_conn(s->type) || s->has_peer || s->peer_gone ||
				  s->has_listener || s->n_queue || s->state != UNIX_ST_CONNECTED))
		return snprintf(why, len, "waiting to be accepted, but not an unaccepted client"),
		       -1;
	if (s->n_pending && (s->state != UNIX_ST_LISTEN || s->n_pending > UNIX_BACKLOG_MAX))
		return snprintf(why, len, "connections waiting, but not listening"), -1;
	if (s->has_listener && (!is_conn(s->type) || !s->has_name || s->peer_gone))
		return snprintf(why, len, "accepted, but not a named connected stream"), -1;
	if (s->shutdown > (UNIX_RCV_SHUTDOWN | UNIX_SEND_SHUTDOWN))
		return snprintf(why, len, "shutdown %u is invalid", s->shutdown), -1;
	if (s->n_queue > UNIX_QUEUE_MAX_MSGS)
		return snprintf(why, len, "%zu messages queued", s->n_queue), -1;
	for (size_t i = 0; i < s->n_queue; i++) {
		const UnixMsg *m = s->queue[i];
		bytes += m->data.len;
		if (bytes > UNIX_QUEUE_MAX_BYTES)
			return snprintf(why, len, "more than %u bytes queued",
					UNIX_QUEUE_MAX_BYTES),
			       -1;
		if (!m->data.len && s->type != SOCK_STREAM)
			return snprintf(why, len, "an empty message queued"), -1;
		/* urgent data: a stream's, one byte (pending: only the last such), or none
		 * (the buffer of one read), never with descriptors */
		if (m->has_oob && m->oob) {
			if (s->type != SOCK_STREAM || m->data.len > 1 || m->n_fds)
				return snprintf(why, len, "message %zu: urgent data of %zu bytes%s",
						i, m->data.len,
						m->n_fds ? " with descriptors" : ""),
				       -1;
			if (pending < i)
				return snprintf(why, len,
						"message %zu: urgent data after the "
						"pending urgent byte (message %zu)",
						i, pending),
				       -1;
			if (m->data.len)
				pending = i;
		}
		if (m->has_from && (s->type != SOCK_DGRAM || m->from.len > UNIX_NAME_MAX))
			return snprintf(why, len, "a message with an invalid sender"), -1;
		/* credentials: all three or none, a pid the kernel can number, no id -1 */
		if (m->has_cred_pid != m->has_cred_uid || m->has_cred_pid != m->has_cred_gid)
			return snprintf(why, len,
					"message %zu: credentials without their pid, "
					"uid or gid",
					i),
			       -1;
		if (m->has_cred_pid && (!m->cred_pid || m->cred_pid > UNIX_CRED_PID_MAX ||
					m->cred_uid == (uint32_t)-1 || m->cred_gid == (uint32_t)-1))
			return snprintf(why, len,
					"message %zu: credentials pid %u uid %u gid %u are invalid",
					i, m->cred_pid, m->cred_uid, m->cred_gid),
			       -1;
		/* a stream's messages are cut where the credentials change, and around the
		 * buffers of their own (descriptors, urgent data): never two plain ones in a
		 * row with the same */
		if (s->type == SOCK_STREAM && i && !unix_msg_apart(m) &&
		    !unix_msg_apart(s->queue[i - 1]) && unix_msg_same_creds(m, s->queue[i - 1]))
			return snprintf(why, len,
					"messages %zu and %zu of a stream with the same "
					"credentials",
					i - 1, i),
			       -1;
		if (m->n_fds > 253)
			return snprintf(why, len, "message %zu: %zu descriptors in flight", i,
					m->n_fds),
			       -1;
		if (s->type == SOCK_STREAM && !m->data.len && !(m->has_oob && m->oob))
			return snprintf(why, len, "an empty part of a stream queued"), -1;
	}
	if (s->n_queue &&
	    (s->state == UNIX_ST_LISTEN || (is_conn(s->type) && s->state != UNIX_ST_CONNECTED)))
		return snprintf(why, len, "data queued on a socket that cannot receive"), -1;
	return 0;
}

/* The socket of the tree bound to this name (a datagram's sender), or NULL. */
static const UnixSk *named(UnixSk *const *sks, uint32_t n, const ProtobufCBinaryData *from)
{
	for (uint32_t i = 0; i < n; i++)
		if (sks[i]->type == SOCK_DGRAM && sks[i]->has_name &&
		    sks[i]->name.len == from->len &&
		    !memcmp(sks[i]->name.data, from->data, from->len))
			return sks[i];
	return NULL;
}

int unix_check_set(UnixSk *const *sks, uint32_t n, char *why, size_t len, uint32_t *bad)
{
	char nm[UNIX_NAME_MAX * 4 + 8];

	for (uint32_t i = 0; i < n; i++) {
		const UnixSk *s = sks[i], *p = NULL;
		*bad = i;
		if (s->id != i)
			return snprintf(why, len, "socket %u is numbered %u", i, s->id), -1;
		if (s->has_peer) {
			if (s->peer >= n)
				return snprintf(why, len, "its peer %u is not a socket of the tree",
						s->peer),
				       -1;
			p = sks[s->peer];
			if (p->type != s->type || p == s)
				return snprintf(why, len, "its peer %u is not of its type",
						s->peer),
				       -1;
		}
		if (s->has_pending_on) {
			/* on its listener's list exactly once */
			const UnixSk *l = s->pending_on < n ? sks[s->pending_on] : NULL;
			size_t times = 0;
			for (size_t k = 0; l && k < l->n_pending; k++)
				times += l->pending[k] == s->id;
			if (!l || l->type != s->type || times != 1)
				return snprintf(why, len,
						"waiting on %u, which does not list it once",
						s->pending_on),
				       -1;
		}
		for (size_t k = 0; k < s->n_pending; k++)
			if (s->pending[k] >= n || !sks[s->pending[k]]->has_pending_on ||
			    sks[s->pending[k]]->pending_on != s->id)
				return snprintf(why, len,
						"its waiting connection %u does not wait on it",
						s->pending[k]),
				       -1;
		if (s->has_listener) {
			const UnixSk *l = s->listener < n ? sks[s->listener] : NULL;
			if (!l || l->state != UNIX_ST_LISTEN || l->type != s->type ||
			    !same_name(l, s))
				return snprintf(why, len,
						"accepted from %u, not a listening socket "
						"of its name",
						s->listener),
				       -1;
			if (!p || !p->has_peer || p->peer != s->id || p->has_listener)
				return snprintf(why, len,
						"accepted, but its client is not "
						"connected to it alone"),
				       -1;
		}
		if (p && is_conn(s->type) && !s->has_listener && !p->has_listener &&
		    !unix_mutual(sks, n, s))
			return snprintf(why, len, "connected to a stream (%u) connected elsewhere",
					s->peer),
			       -1;
		if (p && !unix_mutual(sks, n, s) && !s->has_listener && !p->has_listener &&
		    !p->has_name)
			return snprintf(why, len,
					"connected to an unnamed socket (%u) connected "
					"elsewhere",
					s->peer),
			       -1;
		/* a name is bound once; accepted sockets share their listener's */
		for (uint32_t j = 0; j < i && s->has_name && !s->has_listener; j++)
			if (!sks[j]->has_listener && same_name(sks[j], s))
				return snprintf(
					   why, len, "bound to %s, as socket %u is",
					   unix_name_str(s->name.data, s->name.len, nm, sizeof(nm)),
					   j),
				       -1;
		/* datagrams: who can send them again */
		for (size_t q = 0; q < s->n_queue && s->type == SOCK_DGRAM; q++) {
			const UnixMsg *m = s->queue[q];
			bool from_named = m->has_from && m->from.len;
			if (unix_mutual(sks, n, s) || s->peer_gone) {
				if (from_named != (p && p->has_name) ||
				    (from_named &&
				     (p->name.len != m->from.len ||
				      memcmp(p->name.data, m->from.data, m->from.len))))
					return snprintf(why, len,
							"a datagram from another socket "
							"than its peer is queued"),
					       -1;
				continue;
			}
			if (!s->has_name)
				return snprintf(why, len,
						"datagrams queued on an unnamed socket "
						"not connected to its sender"),
				       -1;
			if (p && (!from_named || p->name.len != m->from.len ||
				  memcmp(p->name.data, m->from.data, m->from.len)))
				return snprintf(why, len,
						"a datagram from another socket than its "
						"peer is queued"),
				       -1;
			if (from_named && !named(sks, n, &m->from))
				return snprintf(why, len,
						"a datagram from %s, a socket not in the "
						"tree, is queued",
						unix_name_str(m->from.data, m->from.len, nm,
							      sizeof(nm))),
				       -1;
		}
	}
	return 0;
}

static bool same_ids(const FdEntry *a, const FdEntry *b)
{
	if (a->has_unix_peer_uid != b->has_unix_peer_uid)
		return false;
	return !a->has_unix_peer_uid ||
	       (a->unix_peer_uid == b->unix_peer_uid && a->unix_peer_gid == b->unix_peer_gid &&
		a->n_unix_peer_groups == b->n_unix_peer_groups &&
		(!a->n_unix_peer_groups ||
		 !memcmp(a->unix_peer_groups, b->unix_peer_groups,
			 a->n_unix_peer_groups * sizeof(*a->unix_peer_groups))));
}

static int ids_str(const FdEntry *e, char *buf, size_t cap)
{
	if (!e->has_unix_peer_uid)
		return snprintf(buf, cap, "none");
	return snprintf(buf, cap, "uid %u gid %u, %zu groups", e->unix_peer_uid, e->unix_peer_gid,
			e->n_unix_peer_groups);
}

int unix_check_ids(UnixSk *const *sks, const FdEntry *const *ents, uint32_t n, char *why,
		   size_t len, uint32_t *bad)
{
	char a[64], b[64];

	for (uint32_t i = 0; i < n; i++) {
		const UnixSk *s = sks[i], *p = s->has_peer && s->peer < n ? sks[s->peer] : NULL;
		const FdEntry *e = ents[i], *want = NULL;
		const char *whose = NULL;
		*bad = i;
		if (unix_mutual(sks, n, s)) {
			want = ents[s->peer], whose = "its peer's, as a pair holds";
		} else if (p && p->has_listener && p->listener < n) {
			want = ents[p->listener], whose = "its listener's, as its client holds";
		} else if (s->has_pending_on && s->pending_on < n) {
			want = ents[s->pending_on], whose = "its listener's, as its client holds";
		} else if (!s->has_listener && !s->peer_gone && s->state != UNIX_ST_LISTEN &&
			   e->has_unix_peer_uid) {
			ids_str(e, a, sizeof(a));
			return snprintf(why, len,
					"peer credentials (%s) on a socket that neither a pair, a "
					"listen nor a connection through a listener of the tree "
					"gives them to",
					a),
			       -1;
		}
		if (want && !same_ids(e, want)) {
			ids_str(e, a, sizeof(a)), ids_str(want, b, sizeof(b));
			return snprintf(why, len, "peer credentials (%s) other than %s (%s)", a,
					whose, b),
			       -1;
		}
	}
	return 0;
}

static int view_of(const struct unix_task_view *tv, int nt, pid_t pid)
{
	for (int k = 0; k < nt; k++)
		if (tv[k].pid == pid)
			return k;
	return -1;
}

/* Is task d the task a or below it? */
static bool below(const struct unix_task_view *tv, int nt, int d, int a)
{
	for (int hops = 0; d >= 0 && hops <= nt; hops++, d = tv[d].parent)
		if (d == a)
			return true;
	return false;
}

/* The socket an entry of task k names: its id, or -1. */
static int64_t entry_socket(const FdEntry *e, pid_t pid, const int *owner, const int *owner_fd,
			    const struct unix_task_view *tv, uint32_t n)
{
	if (e->unix_sk)
		return e->unix_sk->id < n ? (int64_t)e->unix_sk->id : -1;
	if (!e->has_dup_of)
		return -1;
	pid_t op = e->has_dup_of_pid ? (pid_t)e->dup_of_pid : pid;
	for (uint32_t i = 0; i < n; i++)
		if (owner[i] >= 0 && tv[owner[i]].pid == op && owner_fd[i] == e->dup_of)
			return i;
	return -1;
}

/* A pair a maker makes: connected to each other (both ends its), or one end left by a closed
 * peer; unbound, or bound to an abstract name (a datagram socket with SO_PASSCRED that sends
 * binds itself to one). */
static bool maker_pair(UnixSk *const *sks, uint32_t n, const UnixSk *s)
{
	if ((s->has_name && (!s->name.len || s->name.data[0])) || s->has_listener ||
	    s->has_pending_on || s->n_pending || s->has_ext_peer || s->state != UNIX_ST_CONNECTED)
		return false;
	if (s->peer_gone)
		return true;
	return unix_mutual(sks, n, s) && sks[s->peer]->has_maker && sks[s->peer]->maker == s->maker;
}

/* A listening socket a maker makes: bound (listen caller's credentials), nothing waiting. */
static bool maker_listener(const UnixSk *s)
{
	return s->state == UNIX_ST_LISTEN && s->has_name && !s->n_pending && !s->has_ext_peer &&
	       !s->has_peer && !s->n_queue;
}

int unix_check_makers(UnixSk *const *sks, const int *owner, const int *owner_fd, uint32_t n,
		      const struct unix_task_view *tv, int nt, char *why, size_t len, uint32_t *bad)
{
	int *maker = malloc((n ? n : 1) * sizeof(*maker));
	bool any = false;
	int ret = 0;

	if (!maker)
		return snprintf(why, len, "out of memory"), -1;
	for (uint32_t i = 0; i < n && !ret; i++) {
		const UnixSk *s = sks[i];
		maker[i] = -1;
		if (!s->has_maker)
			continue;
		any = true;
		*bad = i;
		int m = view_of(tv, nt, (pid_t)s->maker);
		if (m <= 0)
			ret = snprintf(
			    why, len, "made by process %u, %s (peer credentials, SO_PEERCRED)",
			    s->maker, m ? "which is not a task of the tree" : "the root");
		else if (tv[m].zombie)
			ret = snprintf(why, len,
				       "made by task %u (peer credentials, SO_PEERCRED), which has "
				       "exited (a zombie)",
				       s->maker);
		else if (tv[m].files_shared)
			ret = snprintf(why, len,
				       "made by task %u (peer credentials, SO_PEERCRED), which "
				       "shares its descriptor table with its parent",
				       s->maker);
		else if (s->has_peer && s->peer < n && sks[s->peer]->has_listener)
			ret = snprintf(why, len,
				       "connected through a listening socket task %u made (the "
				       "root makes it before that task exists)",
				       s->maker);
		else if (!maker_pair(sks, n, s) && !maker_listener(s))
			ret = snprintf(why, len,
				       "peer credentials (SO_PEERCRED) of task %u, which is not "
				       "the tree's root, on a socket that is neither a pair nor a "
				       "listening socket with nothing waiting (only the root makes "
				       "accepted sockets and sockets bound to a path again)",
				       s->maker);
		for (size_t q = 0; !ret && q < s->n_queue; q++) {
			const UnixMsg *msg = s->queue[q];
			int c = msg->has_cred_pid ? view_of(tv, nt, (pid_t)msg->cred_pid) : -1;
			bool group = false;
			for (int k = 0; c < 0 && msg->has_cred_pid && k < nt; k++)
				group |= tv[k].sid == (pid_t)msg->cred_pid ||
					 tv[k].pgid == (pid_t)msg->cred_pid;
			if (msg->n_fds)
				ret = snprintf(why, len,
					       "a pair made by task %u, with descriptors in flight "
					       "in its queue",
					       s->maker);
			else if ((c >= 0 && !below(tv, nt, m, c) && !below(tv, nt, c, m)) || group)
				ret = snprintf(why, len,
					       "a pair made by task %u, with a message from pid %u "
					       "queued, a process the restore makes elsewhere",
					       s->maker, msg->cred_pid);
		}
		maker[i] = m;
	}
	/* names no other socket reaches: none was accepted from a maker's listening socket or
	 * waits on it, none is connected to a maker's socket, nor has a datagram from one queued
	 * (those are made elsewhere, before or apart from it) */
	for (uint32_t i = 0; any && !ret && i < n; i++) {
		const UnixSk *o = sks[i];
		*bad = i;
		if ((o->has_listener && o->listener < n && maker[o->listener] >= 0) ||
		    (o->has_pending_on && o->pending_on < n && maker[o->pending_on] >= 0))
			ret = snprintf(why, len,
				       "connected through a listening socket task %u made (the "
				       "root makes it before that task exists)",
				       sks[o->has_listener ? o->listener : o->pending_on]->maker);
		else if (o->has_peer && o->peer < n && maker[o->peer] >= 0 &&
			 maker[i] != maker[o->peer])
			ret = snprintf(why, len,
				       "connected to a socket of a pair task %u made, which it "
				       "does not make",
				       sks[o->peer]->maker);
		for (size_t q = 0; !ret && q < o->n_queue; q++) {
			const UnixMsg *msg = o->queue[q];
			for (uint32_t k = 0; msg->has_from && msg->from.len && !ret && k < n; k++)
				if (k != i && maker[k] >= 0 && maker[k] != maker[i] &&
				    sks[k]->has_name && sks[k]->name.len == msg->from.len &&
				    !memcmp(sks[k]->name.data, msg->from.data, msg->from.len))
					ret = snprintf(why, len,
						       "a datagram queued from a socket of a "
						       "pair task %u made",
						       sks[k]->maker);
		}
	}
	/* who holds them: the maker and the tasks below it only (also in flight: nobody) */
	for (int k = 0; any && !ret && k < nt; k++) {
		const Files *f = tv[k].files;
		for (size_t j = 0; f && !ret && j < f->n_fds + f->n_inflight; j++) {
			bool flight = j >= f->n_fds;
			const FdEntry *e = flight ? f->inflight[j - f->n_fds] : f->fds[j];
			int64_t i = entry_socket(e, tv[k].pid, owner, owner_fd, tv, n);
			if (i < 0 || maker[i] < 0)
				continue;
			*bad = (uint32_t)i;
			if (flight)
				ret =
				    snprintf(why, len,
					     "a pair made by task %u, in flight in a queue of task "
					     "%d",
					     sks[i]->maker, tv[k].pid);
			else if (!below(tv, nt, k, maker[i]))
				ret = snprintf(why, len,
					       "a pair made by task %u, held by task %d (fd %d), "
					       "which is not below it in the tree",
					       sks[i]->maker, tv[k].pid, e->fd);
		}
	}
	free(maker);
	return ret ? -1 : 0;
}
