//===- Collectives.h - NCCL behind the runtime's collectives ----*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The GPU side of the runtime's collective interface: a NCCL communicator
// per group of processes, made from a unique id that rank 0 creates and
// hands to the others (over MPI when the driver runs under mpirun, or over
// the small TCP store below without it), sums in place on a stream, and a
// wait that checks NCCL's asynchronous errors and gives up after a timeout
// with ncclCommAbort, so that a dead peer ends the job with a message
// instead of hanging it. NCCL (libnccl.so.2) is opened at the first use.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CUDA_COLLECTIVES_H
#define AUTOPAR_RUNTIME_CUDA_COLLECTIVES_H

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace autopar::cuda {

/// Hands `size` bytes at `bytes` from rank 0 to every rank (MPI_Bcast, or
/// tcpBroadcast); returns an empty string or what went wrong.
using Broadcast = std::function<std::string(void *bytes, size_t size)>;

/// The TCP store: rank 0 listens on `port` (all interfaces) and sends the
/// bytes to each of the `ranks - 1` others, which connect to `host:port`,
/// retrying until `timeoutSeconds` have passed. Returns an empty string or
/// what went wrong (naming the address and how many ranks arrived).
std::string tcpBroadcast(const std::string &host, int port, int rank, int ranks,
                         void *bytes, size_t size, double timeoutSeconds);

/// The element types a sum takes: "f32", "f64", "bf16", "f16".
/// Returns NCCL's ncclDataType_t, or -1.
int ncclTypeOf(const std::string &dtype);

/// NCCL's numbers for the reductions the communicator queues (ncclSum,
/// ncclAvg), checked against nccl.h by CollectivesTest.
enum class Reduction { Sum = 0, Mean = 4 };

class Communicator {
public:
  /// A communicator of `ranks` processes on the current device, this one
  /// `rank`: rank 0 makes NCCL's unique id, `broadcast` hands it to the
  /// others. Null, with `error` set, when NCCL is missing or fails, or when
  /// not every rank has joined after `timeoutSeconds`.
  static std::unique_ptr<Communicator> create(int rank, int ranks,
                                              const Broadcast &broadcast,
                                              double timeoutSeconds,
                                              std::string &error);
  ~Communicator();
  Communicator(const Communicator &) = delete;
  Communicator &operator=(const Communicator &) = delete;

  int rank() const { return rank_; }
  int ranks() const { return ranks_; }

  /// Queues an in-place sum over the group of `count` elements of `dtype`
  /// at `buffer` (device memory) on `stream`. Returns an empty string or
  /// what went wrong.
  std::string allReduceSum(void *buffer, size_t count, const std::string &dtype,
                           void *stream);
  /// The same with the mean over the group (NCCL's ncclAvg, NCCL 2.10 or
  /// later): the data-parallel average of gradients.
  std::string allReduceMean(void *buffer, size_t count,
                            const std::string &dtype, void *stream);

  /// The collectives queued between groupStart() and groupEnd() go out
  /// together (ncclGroupStart / ncclGroupEnd): one launch for a step's
  /// gradients instead of one a gradient. Each returns an empty string or
  /// what went wrong; a started group must be ended.
  std::string groupStart();
  std::string groupEnd();

  /// Waits for `stream`, checking NCCL's asynchronous error; a failure, or
  /// `timeoutSeconds` without completion (a peer that died or never came),
  /// aborts the communicator (ncclCommAbort: the queued collective returns
  /// instead of hanging) and returns an error naming `what`. Once aborted,
  /// every call fails.
  std::string wait(void *stream, double timeoutSeconds,
                   const std::string &what);

private:
  Communicator() = default;
  void *comm_ = nullptr;
  int rank_ = 0, ranks_ = 1;
  bool aborted_ = false;
};

} // namespace autopar::cuda

#endif // AUTOPAR_RUNTIME_CUDA_COLLECTIVES_H
