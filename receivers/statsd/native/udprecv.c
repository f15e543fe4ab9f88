/*
 * udprecv: drain a UDP socket in one call (Linux recvmmsg), for the statsd
 * receiver. Built by `npm run build` (scripts/build-native.mjs) into
 * dist/receivers/statsd/native/udprecv.node; without it the receiver reads
 * through node:dgram (receivers/statsd/udpbatch.ts).
 *
 *   recv(fd, buffer, slotSize, lengths: Int32Array) -> n
 *
 * Reads up to min(buffer.length / slotSize, lengths.length, 256) datagrams
 * without blocking: datagram i lands at buffer[i * slotSize ..] and its size
 * in lengths[i]. Returns how many were read (0: none waiting), or -errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define MAX_BATCH 256

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value Recv(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return fail(env, "recv(fd, buffer, slotSize, lengths)");
  int32_t fd, slot;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return fail(env, "fd: a file descriptor");
  void *data = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) return fail(env, "buffer: a Buffer");
  if (napi_get_value_int32(env, argv[2], &slot) != napi_ok || slot <= 0) return fail(env, "slotSize: a positive integer");
  napi_typedarray_type type;
  size_t nlen = 0;
  void *ldata = NULL;
  if (napi_get_typedarray_info(env, argv[3], &type, &nlen, &ldata, NULL, NULL) != napi_ok || type != napi_int32_array)
    return fail(env, "lengths: an Int32Array");
  size_t vlen = len / (size_t)slot;
  if (vlen > nlen) vlen = nlen;
  if (vlen > MAX_BATCH) vlen = MAX_BATCH;
  int32_t r = 0;
  if (vlen > 0) {
    struct mmsghdr msgs[MAX_BATCH];
    struct iovec iov[MAX_BATCH];
    memset(msgs, 0, vlen * sizeof(struct mmsghdr));
    for (size_t i = 0; i < vlen; i++) {
      iov[i].iov_base = (char *)data + i * (size_t)slot;
      iov[i].iov_len = (size_t)slot;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int got;
    do got = recvmmsg(fd, msgs, (unsigned int)vlen, MSG_DONTWAIT, NULL);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
      r = (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    } else {
      int32_t *lengths = (int32_t *)ldata;
      for (int i = 0; i < got; i++) lengths[i] = (int32_t)msgs[i].msg_len;
      r = got;
    }
  }
  napi_value out;
  napi_create_int32(env, r, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "recv", NAPI_AUTO_LENGTH, Recv, NULL, &fn);
  napi_set_named_property(env, exports, "recv", fn);
  return exports;
}
