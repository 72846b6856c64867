//===- Collectives.cpp - NCCL behind the runtime's collectives ------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "Collectives.h"
#include "CudaRuntime.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <vector>

using namespace autopar::cuda;

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string systemError(const std::string &what) {
  return what + ": " + std::strerror(errno);
}

/// Sends or receives exactly `size` bytes, waiting at most until `deadline`.
std::string transfer(int fd, char *bytes, size_t size, bool send,
                     Clock::time_point deadline) {
  size_t done = 0;
  while (done < size) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(
                       deadline - Clock::now())
                       .count());
    if (left <= 0)
      return "timed out";
    pollfd p{fd, short(send ? POLLOUT : POLLIN), 0};
    int ready = ::poll(&p, 1, left);
    if (ready < 0 && errno != EINTR)
      return systemError("poll");
    if (ready <= 0)
      continue;
    ssize_t n = send ? ::send(fd, bytes + done, size - done, MSG_NOSIGNAL)
                     : ::recv(fd, bytes + done, size - done, 0);
    if (n == 0)
      return "the peer closed the connection";
    if (n < 0 && errno != EINTR && errno != EAGAIN)
      return systemError(send ? "send" : "recv");
    if (n > 0)
      done += size_t(n);
  }
  return {};
}

std::string serve(int port, int ranks, char *bytes, size_t size,
                  double timeoutSeconds) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return systemError("socket");
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(uint16_t(port));
  if (::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof(address)) ||
      ::listen(fd, ranks)) {
    std::string error = systemError("port " + std::to_string(port));
    ::close(fd);
    return error;
  }
  auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(timeoutSeconds));
  int arrived = 1;
  std::string error;
  while (error.empty() && arrived < ranks) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(
                       deadline - Clock::now())
                       .count());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, std::max(left, 0)) == 0) {
      error = "only " + std::to_string(arrived) + " of " +
              std::to_string(ranks) + " ranks arrived within " +
              std::to_string(int(timeoutSeconds)) + " s";
      break;
    }
    int peer = ::accept(fd, nullptr, nullptr);
    if (peer < 0) {
      if (errno != EINTR)
        error = systemError("accept");
      continue;
    }
    std::string sent = transfer(peer, bytes, size, /*send=*/true, deadline);
    ::close(peer);
    if (!sent.empty())
      error = "sending to a rank: " + sent;
    else
      ++arrived;
  }
  ::close(fd);
  return error;
}

std::string join(const std::string &host, int port, char *bytes, size_t size,
                 double timeoutSeconds) {
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(timeoutSeconds));
  addrinfo hints{}, *found = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (int e = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints,
                            &found))
    return "cannot resolve " + host + ": " + ::gai_strerror(e);
  std::string error = "no answer";
  // Rank 0 may not listen yet: retry until the deadline.
  while (secondsSince(start) < timeoutSeconds) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      error = systemError("socket");
      break;
    }
    if (::connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
      error = transfer(fd, bytes, size, /*send=*/false, deadline);
      ::close(fd);
      break;
    }
    error = systemError("connect");
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::freeaddrinfo(found);
  return error;
}

// NCCL's entry points (nccl.h), opened with dlopen.
constexpr int ncclSuccess = 0, ncclInProgress = 7;
struct UniqueId { // ncclUniqueId, passed by value
  char internal[128];
};
struct Nccl {
  int (*getUniqueId)(UniqueId *);
  int (*commInitRank)(void **, int, UniqueId, int);
  int (*allReduce)(const void *, void *, size_t, int, int, void *, void *);
  int (*groupStart)();
  int (*groupEnd)();
  int (*commGetAsyncError)(void *, int *);
  int (*commAbort)(void *);
  int (*commDestroy)(void *);
  const char *(*errorString)(int);
  std::string why; ///< why NCCL cannot be used
};
Nccl &nccl() {
  static Nccl n;
  static std::once_flag once;
  std::call_once(once, [] {
    void *library = nullptr;
    for (const char *name : {"libnccl.so.2", "libnccl.so"})
      if ((library = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        break;
    if (!library) {
      n.why = std::string("NCCL (libnccl.so.2) is not installed: ") + dlerror();
      return;
    }
    auto get = [&](auto &field, const char *name) {
      field = reinterpret_cast<std::remove_reference_t<decltype(field)>>(
          dlsym(library, name));
      if (!field && n.why.empty())
        n.why = std::string("NCCL lacks ") + name;
    };
    get(n.getUniqueId, "ncclGetUniqueId");
    get(n.commInitRank, "ncclCommInitRank");
    get(n.allReduce, "ncclAllReduce");
    get(n.groupStart, "ncclGroupStart");
    get(n.groupEnd, "ncclGroupEnd");
    get(n.commGetAsyncError, "ncclCommGetAsyncError");
    get(n.commAbort, "ncclCommAbort");
    get(n.commDestroy, "ncclCommDestroy");
    get(n.errorString, "ncclGetErrorString");
  });
  return n;
}

std::string ncclError(const char *call, int result) {
  return std::string(call) + " failed: " + nccl().errorString(result) + " (" +
         std::to_string(result) + ")";
}

} // namespace

std::string autopar::cuda::tcpBroadcast(const std::string &host, int port,
                                        int rank, int ranks, void *bytes,
                                        size_t size, double timeoutSeconds) {
  if (ranks < 1 || rank < 0 || rank >= ranks)
    return "rank " + std::to_string(rank) + " of " + std::to_string(ranks) +
           " is not a rank of the group";
  if (port <= 0 || port > 65535)
    return "port " + std::to_string(port) + " is not a TCP port";
  if (ranks == 1)
    return {};
  std::string where = host + ":" + std::to_string(port);
  std::string error =
      rank == 0
          ? serve(port, ranks, static_cast<char *>(bytes), size, timeoutSeconds)
          : join(host, port, static_cast<char *>(bytes), size, timeoutSeconds);
  return error.empty() ? error
                       : "the TCP store at " + where + " (rank " +
                             std::to_string(rank) + "): " + error;
}

int autopar::cuda::ncclTypeOf(const std::string &dtype) {
  if (dtype == "f32")
    return 7;
  if (dtype == "f64")
    return 8;
  if (dtype == "bf16")
    return 9;
  if (dtype == "f16")
    return 6;
  return -1;
}

std::unique_ptr<Communicator> Communicator::create(int rank, int ranks,
                                                   const Broadcast &broadcast,
                                                   double timeoutSeconds,
                                                   std::string &error) {
  Nccl &n = nccl();
  if (!n.why.empty()) {
    error = n.why;
    return nullptr;
  }
  requireDevice("autopar collectives");
  UniqueId id{};
  if (rank == 0)
    if (int r = n.getUniqueId(&id); r != ncclSuccess) {
      error = ncclError("ncclGetUniqueId", r);
      return nullptr;
    }
  if (std::string e = broadcast(&id, sizeof(id)); !e.empty()) {
    error = "handing out NCCL's unique id: " + e;
    return nullptr;
  }
  std::unique_ptr<Communicator> c(new Communicator());
  c->rank_ = rank;
  c->ranks_ = ranks;
  // ncclCommInitRank waits for every rank: on a thread, so that a rank
  // that never comes ends in an error after the timeout instead of a hang
  // (the thread is left behind; the caller ends the process).
  struct Init {
    std::mutex mutex;
    std::condition_variable done;
    bool finished = false;
    int result = ncclSuccess;
    void *comm = nullptr;
  };
  auto init = std::make_shared<Init>();
  std::thread([init, ranks, id, rank, &n] {
    void *comm = nullptr;
    int result = n.commInitRank(&comm, ranks, id, rank);
    std::lock_guard<std::mutex> lock(init->mutex);
    init->result = result;
    init->comm = comm;
    init->finished = true;
    init->done.notify_all();
  }).detach();
  std::unique_lock<std::mutex> lock(init->mutex);
  if (!init->done.wait_for(lock, std::chrono::duration<double>(timeoutSeconds),
                           [&] { return init->finished; })) {
    error = "ncclCommInitRank: not every one of the " + std::to_string(ranks) +
            " ranks joined within " + std::to_string(int(timeoutSeconds)) +
            " s";
    return nullptr;
  }
  if (init->result != ncclSuccess) {
    error = ncclError("ncclCommInitRank", init->result);
    return nullptr;
  }
  c->comm_ = init->comm;
  return c;
}

Communicator::~Communicator() {
  if (comm_ && !aborted_)
    nccl().commDestroy(comm_);
}

namespace {
std::string allReduce(void *comm, bool aborted, void *buffer, size_t count,
                      const std::string &dtype, Reduction op, void *stream) {
  if (aborted)
    return "the communicator was aborted after an earlier failure";
  int type = ncclTypeOf(dtype);
  if (type < 0)
    return "NCCL sums f32, f64, bf16 or f16, not " + dtype;
  int r = nccl().allReduce(buffer, buffer, count, type, int(op), comm, stream);
  return r == ncclSuccess || r == ncclInProgress
             ? std::string()
             : ncclError("ncclAllReduce", r);
}
} // namespace

std::string Communicator::allReduceSum(void *buffer, size_t count,
                                       const std::string &dtype, void *stream) {
  return allReduce(comm_, aborted_, buffer, count, dtype, Reduction::Sum,
                   stream);
}

std::string Communicator::allReduceMean(void *buffer, size_t count,
                                        const std::string &dtype,
                                        void *stream) {
  return allReduce(comm_, aborted_, buffer, count, dtype, Reduction::Mean,
                   stream);
}

std::string Communicator::groupStart() {
  if (aborted_)
    return "the communicator was aborted after an earlier failure";
  int r = nccl().groupStart();
  return r == ncclSuccess ? std::string() : ncclError("ncclGroupStart", r);
}

std::string Communicator::groupEnd() {
  int r = nccl().groupEnd();
  return r == ncclSuccess || r == ncclInProgress ? std::string()
                                                 : ncclError("ncclGroupEnd", r);
}

std::string Communicator::wait(void *stream, double timeoutSeconds,
                               const std::string &what) {
  if (aborted_)
    return "the communicator was aborted after an earlier failure";
  auto start = Clock::now();
  std::string error;
  while (true) {
    int async = ncclSuccess;
    if (int r = nccl().commGetAsyncError(comm_, &async); r != ncclSuccess) {
      error = ncclError("ncclCommGetAsyncError", r);
      break;
    }
    if (async != ncclSuccess && async != ncclInProgress) {
      error = "NCCL reported " + std::string(nccl().errorString(async));
      break;
    }
    if (streamDone(stream))
      return {};
    if (secondsSince(start) > timeoutSeconds) {
      error = "not finished after " + std::to_string(int(timeoutSeconds)) +
              " s (a peer died or never arrived)";
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  // The queued collective would wait for its peers forever: abort it.
  nccl().commAbort(comm_);
  aborted_ = true;
  return what + " on rank " + std::to_string(rank_) + " of " +
         std::to_string(ranks_) + ": " + error +
         "; the communicator is "
         "aborted";
}
