// udp-batch: batched UDP I/O for natscope's servers (Linux recvmmsg(2) / sendmmsg(2)), as a Node-API addon.
//
// Why it exists (issue 10): Node's dgram costs 20-25 us of CPU per datagram on the 2-core test machine (a
// syscall, a JS callback and two objects per datagram), more than coturn spends per response in all. This addon
// moves only the I/O out of JS: it reads up to BATCH datagrams per syscall into a receive area that JS owns, calls
// JS once per batch, and sends the answers JS wrote into a send area with one sendmmsg(2). Every decision stays in
// the Sans-IO TypeScript protocol.
//
// The shared layout (one record per datagram, RECORD_BYTES each, in an ArrayBuffer that JS allocates):
//   int32 [0] length (-1: the datagram was longer than SLOT_BYTES and was cut; it must be dropped)
//   int32 [1] address family: 4 or 6
//   int32 [2] port
//   bytes [12..28) the IP address in network order (4 or 16 bytes)
// Datagram i lives at i * SLOT_BYTES of a receive area and at i * SEND_SLOT_BYTES of a send area (an answer may be a
// little longer than its request: RFC 5780 PADDING is echoed, plus the server's own attributes).
//
// JS API:
//   open(family, addressBytes, port, receiveBufferBytes, reusePort) -> fd
//                                                                   bind a non-blocking UDP socket (SO_REUSEPORT if
//                                                                   asked: the kernel spreads flows over the sockets
//                                                                   bound so), throws on error
//   localPort(fd) -> port
//   poll(fd, data, records, onBatch) -> handle                      onBatch(count) for every batch read
//   send(fd, data, records, count) -> sent                          sendmmsg, never blocks; unsent ones are lost
//   stop(handle)                                                    stop reading, close the fd
//   closeFd(fd)                                                     close an fd that no poll owns
//   constants: BATCH, SLOT_BYTES, SEND_SLOT_BYTES, RECORD_BYTES
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 64
#define SLOT_BYTES 2048
#define SEND_SLOT_BYTES 4096
#define RECORD_BYTES 32
// At most this many batches per readable event, so that timers and other sockets get their turn.
#define BATCHES_PER_WAKEUP 16

typedef struct {
  uv_poll_t poll;
  int fd;
  int closing;
  napi_env env;
  napi_ref on_batch;
  napi_ref data_ref;
  napi_ref records_ref;
  napi_async_context context;
  uint8_t *data;
  uint8_t *records;
} batch_socket;

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, "ERR_UDP_BATCH", "udp-batch: " #call " failed"); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value code, msg, error;
  const char *name = err == EADDRINUSE ? "EADDRINUSE" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EACCES ? "EACCES" : err == EINVAL ? "EINVAL" : "ESYSCALL";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static int32_t get_int(napi_env env, napi_value v) {
  int32_t out = 0;
  napi_get_value_int32(env, v, &out);
  return out;
}

// A typed array's bytes (any element type), or NULL.
static uint8_t *bytes_of(napi_env env, napi_value v, size_t *length) {
  napi_typedarray_type type;
  size_t count, offset;
  void *data;
  napi_value buffer;
  if (napi_get_typedarray_info(env, v, &type, &count, &data, &buffer, &offset) != napi_ok) return NULL;
  size_t element = type == napi_int32_array || type == napi_uint32_array || type == napi_float32_array ? 4 : type == napi_int16_array || type == napi_uint16_array ? 2 : type == napi_float64_array || type == napi_bigint64_array || type == napi_biguint64_array ? 8 : 1;
  *length = count * element;
  return data;
}

// Fills `out` with family (4 or 6), the address bytes and the port; returns the sockaddr's length.
static socklen_t fill_sockaddr(struct sockaddr_storage *out, int family, const uint8_t *address, int port) {
  memset(out, 0, sizeof *out);
  if (family == 6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    memcpy(&in6->sin6_addr, address, 16);
    return sizeof *in6;
  }
  struct sockaddr_in *in = (struct sockaddr_in *)out;
  in->sin_family = AF_INET;
  in->sin_port = htons((uint16_t)port);
  memcpy(&in->sin_addr, address, 4);
  return sizeof *in;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int family = get_int(env, argv[0]);
  bool reuse_port = false;
  if (argc >= 5) napi_get_value_bool(env, argv[4], &reuse_port);
  size_t length = 0;
  uint8_t *address = bytes_of(env, argv[1], &length);
  int port = get_int(env, argv[2]);
  int receive_buffer = get_int(env, argv[3]);
  if ((family != 4 && family != 6) || address == NULL || length != (family == 4 ? 4u : 16u) || port < 0 || port > 65535) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "udp-batch open(family, address bytes, port, receive buffer): bad arguments");
    return NULL;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (family == 6) {
    int on = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  if (receive_buffer > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  if (reuse_port) {
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, "setsockopt SO_REUSEPORT", err);
    }
  }
  struct sockaddr_storage me;
  socklen_t me_length = fill_sockaddr(&me, family, address, port);
  if (bind(fd, (struct sockaddr *)&me, me_length) < 0) {
    int err = errno;
    close(fd);
    char what[96];
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(family == 4 ? AF_INET : AF_INET6, address, text, sizeof text);
    snprintf(what, sizeof what, family == 4 ? "bind %s:%d" : "bind [%s]:%d", text, port);
    return throw_errno(env, what, err);
  }
  napi_value result;
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_storage me;
  socklen_t length = sizeof me;
  if (getsockname(get_int(env, argv[0]), (struct sockaddr *)&me, &length) < 0) return throw_errno(env, "getsockname", errno);
  int port = me.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&me)->sin_port) : ntohs(((struct sockaddr_in6 *)&me)->sin6_port);
  napi_value result;
  CHECK(napi_create_int32(env, port, &result));
  return result;
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  batch_socket *s = (batch_socket *)poll->data;
  if (s->closing || status < 0 || !(events & UV_READABLE)) return;
  struct mmsghdr messages[BATCH];
  struct iovec vectors[BATCH];
  struct sockaddr_storage sources[BATCH];
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver;
  napi_get_reference_value(env, s->on_batch, &callback);
  napi_get_global(env, &receiver); // MakeCallback needs an object as its receiver
  for (int round = 0; round < BATCHES_PER_WAKEUP && !s->closing; round += 1) {
    for (int i = 0; i < BATCH; i += 1) {
      vectors[i].iov_base = s->data + (size_t)i * SLOT_BYTES;
      vectors[i].iov_len = SLOT_BYTES;
      memset(&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
      messages[i].msg_hdr.msg_name = &sources[i];
      messages[i].msg_hdr.msg_namelen = sizeof sources[i];
    }
    int count = recvmmsg(s->fd, messages, BATCH, MSG_DONTWAIT, NULL);
    if (count <= 0) break; // EAGAIN (drained), or an error such as ICMP feedback: the next wakeup goes on
    for (int i = 0; i < count; i += 1) {
      int32_t *record = (int32_t *)(s->records + (size_t)i * RECORD_BYTES);
      uint8_t *address = s->records + (size_t)i * RECORD_BYTES + 12;
      record[0] = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)messages[i].msg_len;
      if (sources[i].ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sources[i];
        record[1] = 6;
        record[2] = ntohs(in6->sin6_port);
        memcpy(address, &in6->sin6_addr, 16);
      } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&sources[i];
        record[1] = 4;
        record[2] = ntohs(in->sin_port);
        memcpy(address, &in->sin_addr, 4);
      }
    }
    napi_value argv[1], result;
    napi_create_int32(env, count, &argv[0]);
    if (napi_make_callback(env, s->context, receiver, callback, 1, argv, &result) != napi_ok) {
      // The JS side catches its own errors; anything left is reported as an uncaught exception by Node.
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value error;
        napi_get_and_clear_last_exception(env, &error);
        napi_fatal_exception(env, error);
      }
      break;
    }
    if (count < BATCH) break;
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_poll(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t data_length = 0, records_length = 0;
  uint8_t *data = bytes_of(env, argv[1], &data_length);
  uint8_t *records = bytes_of(env, argv[2], &records_length);
  napi_valuetype type;
  napi_typeof(env, argv[3], &type);
  if (data == NULL || records == NULL || data_length < (size_t)BATCH * SLOT_BYTES || records_length < (size_t)BATCH * RECORD_BYTES || type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "udp-batch poll(fd, data, records, onBatch): the areas are too small or onBatch is not a function");
    return NULL;
  }
  batch_socket *s = calloc(1, sizeof *s);
  s->fd = get_int(env, argv[0]);
  s->env = env;
  s->data = data;
  s->records = records;
  CHECK(napi_create_reference(env, argv[1], 1, &s->data_ref));
  CHECK(napi_create_reference(env, argv[2], 1, &s->records_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &s->on_batch));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "natscope:udp-batch", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &s->context));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (uv_poll_init_socket(loop, &s->poll, s->fd) != 0) {
    napi_throw_error(env, "ERR_UDP_BATCH", "udp-batch: uv_poll_init_socket failed");
    return NULL;
  }
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  napi_value handle;
  CHECK(napi_create_external(env, s, NULL, NULL, &handle));
  return handle;
}

static void on_closed(uv_handle_t *handle) { free(handle->data); }

static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  batch_socket *s = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&s) != napi_ok || s == NULL || s->closing) return NULL;
  s->closing = 1;
  // uv_poll_stop takes the fd out of epoll at once (uv__platform_invalidate_fd), so it may be closed now: the port
  // is free when stop() returns, not an event-loop turn later.
  uv_poll_stop(&s->poll);
  close(s->fd);
  s->fd = -1;
  napi_delete_reference(env, s->on_batch);
  napi_delete_reference(env, s->data_ref);
  napi_delete_reference(env, s->records_ref);
  napi_async_destroy(env, s->context);
  uv_close((uv_handle_t *)&s->poll, on_closed);
  return NULL;
}

static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = get_int(env, argv[0]);
  if (fd > 2) close(fd);
  return NULL;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = get_int(env, argv[0]);
  size_t data_length = 0, records_length = 0;
  uint8_t *data = bytes_of(env, argv[1], &data_length);
  uint8_t *records = bytes_of(env, argv[2], &records_length);
  int count = get_int(env, argv[3]);
  if (data == NULL || records == NULL || count < 0 || count > BATCH || data_length < (size_t)count * SEND_SLOT_BYTES || records_length < (size_t)count * RECORD_BYTES) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "udp-batch send(fd, data, records, count): bad arguments");
    return NULL;
  }
  struct mmsghdr messages[BATCH];
  struct iovec vectors[BATCH];
  struct sockaddr_storage targets[BATCH];
  for (int i = 0; i < count; i += 1) {
    int32_t *record = (int32_t *)(records + (size_t)i * RECORD_BYTES);
    uint8_t *address = records + (size_t)i * RECORD_BYTES + 12;
    int32_t length = record[0];
    if (length < 0 || length > SEND_SLOT_BYTES) length = 0;
    vectors[i].iov_base = data + (size_t)i * SEND_SLOT_BYTES;
    vectors[i].iov_len = (size_t)length;
    memset(&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
    messages[i].msg_hdr.msg_namelen = fill_sockaddr(&targets[i], record[1] == 6 ? 6 : 4, address, record[2]);
    messages[i].msg_hdr.msg_name = &targets[i];
    messages[i].msg_hdr.msg_iov = &vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  int sent = 0;
  while (sent < count) {
    int n = sendmmsg(fd, messages + sent, count - sent, MSG_DONTWAIT);
    if (n > 0) {
      sent += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EAGAIN (a full send buffer) loses the rest, as UDP may; any other error (an unreachable destination) skips
    // that one datagram and goes on with the next.
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      sent += 1;
      continue;
    }
    break;
  }
  napi_value result;
  CHECK(napi_create_int32(env, sent, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"localPort", NULL, js_local_port, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poll", NULL, js_poll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  napi_value batch, slot, send_slot, record;
  napi_create_int32(env, BATCH, &batch);
  napi_create_int32(env, SLOT_BYTES, &slot);
  napi_create_int32(env, SEND_SLOT_BYTES, &send_slot);
  napi_create_int32(env, RECORD_BYTES, &record);
  napi_set_named_property(env, exports, "BATCH", batch);
  napi_set_named_property(env, exports, "SLOT_BYTES", slot);
  napi_set_named_property(env, exports, "SEND_SLOT_BYTES", send_slot);
  napi_set_named_property(env, exports, "RECORD_BYTES", record);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
