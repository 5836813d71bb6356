/*
 * recgate's batched file writes: the recordings' positional writes of one event-loop turn go
 * to the libuv threadpool as ONE job (or a few, see recorder/batchWrite.ts), which pwrite(2)s
 * them one after the other.
 *
 * Why: every sink flushes at the same clock boundaries (recorder/FileSink.ts), so at 800
 * recordings the event loop submitted about 3,200 fs.write requests a second, each an
 * FSReqCallback object, a threadpool queue lock and a wake-up, and each completion a callback
 * of its own. In a CPU profile of 800 loaded calls that submission (`writeBuffer`) was 7 % of
 * the event loop's time, about 20 µs a write on a contended core. A batch costs one
 * submission and one completion for all of them.
 *
 * JavaScript API:
 *   writeBatch(fds: Int32Array, bufs: Uint8Array[], lengths: Int32Array, positions: Float64Array,
 *              count: number, results: Float64Array, done: () => void)
 *     Writes bufs[i][0, lengths[i]) at positions[i] of fds[i], for i < count, in order, on a
 *     threadpool thread; then calls done() on the event loop. results[i] is then the number of
 *     bytes written (all of them: short writes are continued) or -errno. The caller must not
 *     touch the arrays until done() ran: the job holds references to all of them, and their
 *     memory is read and written by the thread meanwhile.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* Arguments held by the job: fds, bufs, lengths, positions, results, done. */
#define HELD 6

typedef struct {
  napi_async_work work;
  napi_ref held[HELD];
  uint32_t count;
  const int32_t *fds;
  const int32_t *lengths;
  const double *positions;
  double *results;
  /* Each buffer's bytes, read on the event loop (the thread must not call N-API). */
  uint8_t **data;
} batch_t;

static void batch_free(napi_env env, batch_t *b) {
  for (int i = 0; i < HELD; i++)
    if (b->held[i] != NULL) napi_delete_reference(env, b->held[i]);
  if (b->work != NULL) napi_delete_async_work(env, b->work);
  free(b->data);
  free(b);
}

/* On a threadpool thread: no N-API here. */
static void batch_execute(napi_env env, void *arg) {
  (void)env;
  batch_t *b = arg;
  for (uint32_t i = 0; i < b->count; i++) {
    const uint8_t *p = b->data[i];
    size_t left = (size_t)b->lengths[i];
    off_t at = (off_t)b->positions[i];
    size_t done = 0;
    double result = 0;
    while (done < left) {
      ssize_t n = pwrite(b->fds[i], p + done, left - done, at + (off_t)done);
      if (n < 0) {
        if (errno == EINTR) continue;
        result = -(double)errno;
        break;
      }
      if (n == 0) {
        /* A regular file never takes 0 bytes of a non-empty write without an error. */
        result = -(double)EIO;
        break;
      }
      done += (size_t)n;
    }
    b->results[i] = result < 0 ? result : (double)done;
  }
}

static void batch_complete(napi_env env, napi_status status, void *arg) {
  batch_t *b = arg;
  if (status == napi_ok) {
    napi_value done, global;
    if (napi_get_reference_value(env, b->held[5], &done) == napi_ok && napi_get_global(env, &global) == napi_ok) {
      napi_call_function(env, global, done, 0, NULL, NULL);
    }
  }
  /* The environment is ending (napi_cancelled): nobody waits for the results. */
  batch_free(env, b);
}

/* Whether v is a typed array of type `want` with at least `min` elements; its data and length. */
static int typed(napi_env env, napi_value v, napi_typedarray_type want, size_t min, void **data, size_t *length) {
  bool is = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok) return 0;
  return type == want && *length >= min;
}

static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t count = 0;
  napi_valuetype t;
  if (argc < 7 || napi_get_value_uint32(env, argv[4], &count) != napi_ok || napi_typeof(env, argv[6], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "writeBatch(fds, bufs, lengths, positions, count, results, done)");
    return NULL;
  }
  batch_t *b = calloc(1, sizeof *b);
  if (b == NULL) {
    napi_throw_error(env, "ERR_IO", "out of memory");
    return NULL;
  }
  b->count = count;
  b->data = calloc(count > 0 ? count : 1, sizeof *b->data);
  void *fds, *lengths, *positions, *results;
  size_t n;
  bool isArray = false;
  uint32_t nbufs = 0;
  if (b->data == NULL || !typed(env, argv[0], napi_int32_array, count, &fds, &n) || !typed(env, argv[2], napi_int32_array, count, &lengths, &n) ||
      !typed(env, argv[3], napi_float64_array, count, &positions, &n) || !typed(env, argv[5], napi_float64_array, count, &results, &n) ||
      napi_is_array(env, argv[1], &isArray) != napi_ok || !isArray || napi_get_array_length(env, argv[1], &nbufs) != napi_ok || nbufs < count) {
    batch_free(env, b);
    napi_throw_type_error(env, "ERR_INVALID_ARG", "writeBatch: fds/lengths Int32Array, positions/results Float64Array and bufs an Array, each of at least count");
    return NULL;
  }
  b->fds = fds;
  b->lengths = lengths;
  b->positions = positions;
  b->results = results;
  for (uint32_t i = 0; i < count; i++) {
    napi_value buf;
    void *data;
    size_t length = 0;
    if (napi_get_element(env, argv[1], i, &buf) != napi_ok || !typed(env, buf, napi_uint8_array, 0, &data, &length) || b->lengths[i] < 0 ||
        (size_t)b->lengths[i] > length || b->positions[i] < 0 || b->fds[i] < 0) {
      batch_free(env, b);
      napi_throw_range_error(env, "ERR_INVALID_ARG", "writeBatch: an entry's buffer, length, position or fd is out of range");
      return NULL;
    }
    b->data[i] = data;
  }
  napi_value name;
  napi_create_string_utf8(env, "recgate:writeBatch", NAPI_AUTO_LENGTH, &name);
  int at[HELD] = {0, 1, 2, 3, 5, 6};
  for (int i = 0; i < HELD; i++) {
    if (napi_create_reference(env, argv[at[i]], 1, &b->held[i]) != napi_ok) {
      batch_free(env, b);
      napi_throw_error(env, "ERR_IO", "writeBatch: cannot hold the arguments");
      return NULL;
    }
  }
  if (napi_create_async_work(env, NULL, name, batch_execute, batch_complete, b, &b->work) != napi_ok || napi_queue_async_work(env, b->work) != napi_ok) {
    batch_free(env, b);
    napi_throw_error(env, "ERR_IO", "writeBatch: cannot queue the job");
    return NULL;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"writeBatch", NULL, js_write_batch, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
