//===- CollectivesTest.cpp - the TCP store and NCCL communicators ---------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The TCP store that hands NCCL's unique id to the ranks is checked here
// with threads as ranks (no GPU needed); a communicator of one rank sums on
// a GPU where there is one, and skips, saying why, where there is not.
//
//===----------------------------------------------------------------------===//

#include "Collectives.h"
#include "CudaRuntime.h"

#include "gtest/gtest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#if __has_include(<nccl.h>)
#include <nccl.h>
#define AUTOPAR_HAVE_NCCL_H 1
#endif

using namespace autopar::cuda;

namespace {

/// A TCP port nobody listens on now (the kernel's choice).
int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
  int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

TEST(Collectives, TcpStoreHandsRankZerosBytesToEveryRank) {
  constexpr int ranks = 4;
  int port = freePort();
  std::vector<std::vector<char>> bytes(ranks, std::vector<char>(128, 0));
  for (int i = 0; i < 128; ++i)
    bytes[0][size_t(i)] = char(i * 7 + 1);
  std::vector<std::string> errors(ranks);
  std::vector<std::thread> threads;
  // The others start first: they retry until rank 0 listens.
  for (int r = ranks - 1; r >= 0; --r)
    threads.emplace_back([&, r] {
      errors[size_t(r)] = tcpBroadcast("127.0.0.1", port, r, ranks,
                                       bytes[size_t(r)].data(), 128, 10.0);
    });
  for (std::thread &t : threads)
    t.join();
  for (int r = 0; r < ranks; ++r) {
    EXPECT_EQ(errors[size_t(r)], "") << "rank " << r;
    EXPECT_EQ(bytes[size_t(r)], bytes[0]) << "rank " << r;
  }
}

TEST(Collectives, TcpStoreTimesOutNamingWhoIsMissing) {
  int port = freePort();
  char bytes[16] = {};
  // Nobody listens: a joining rank gives up after its timeout.
  std::string joined =
      tcpBroadcast("127.0.0.1", port, 1, 2, bytes, sizeof(bytes), 0.3);
  EXPECT_NE(joined.find("the TCP store at 127.0.0.1:" + std::to_string(port) +
                        " (rank 1)"),
            std::string::npos)
      << joined;
  // Nobody comes: rank 0 says how many arrived.
  std::string served =
      tcpBroadcast("127.0.0.1", port, 0, 3, bytes, sizeof(bytes), 0.3);
  EXPECT_NE(served.find("only 1 of 3 ranks arrived"), std::string::npos)
      << served;
}

TEST(Collectives, TcpStoreRefusesBadArguments) {
  char bytes[4] = {};
  EXPECT_NE(tcpBroadcast("127.0.0.1", 29500, 2, 2, bytes, 4, 1)
                .find("is not a rank of the group"),
            std::string::npos);
  EXPECT_NE(tcpBroadcast("127.0.0.1", 70000, 0, 2, bytes, 4, 1)
                .find("is not a TCP port"),
            std::string::npos);
  EXPECT_EQ(tcpBroadcast("127.0.0.1", 29500, 0, 1, bytes, 4, 1), "");
  EXPECT_NE(tcpBroadcast("no-such-host.invalid", 29500, 1, 2, bytes, 4, 0.2),
            "");
}

TEST(Collectives, ElementTypesAreNcclsOwn) {
#ifdef AUTOPAR_HAVE_NCCL_H
  EXPECT_EQ(ncclTypeOf("f32"), int(ncclFloat32));
  EXPECT_EQ(ncclTypeOf("f64"), int(ncclFloat64));
  EXPECT_EQ(ncclTypeOf("bf16"), int(ncclBfloat16));
  EXPECT_EQ(ncclTypeOf("f16"), int(ncclFloat16));
  EXPECT_EQ(int(Reduction::Sum), int(ncclSum));
  EXPECT_EQ(int(Reduction::Mean), int(ncclAvg));
#endif
  EXPECT_EQ(ncclTypeOf("i64"), -1);
}

TEST(Collectives, OneRankSumsOnTheGPU) {
  std::string why;
  if (!available(why))
    GTEST_SKIP() << "no CUDA GPU here: " << why;
  std::string error;
  std::unique_ptr<Communicator> comm = Communicator::create(
      0, 1, [](void *, size_t) { return std::string(); }, 60, error);
  if (!comm && error.find("not installed") != std::string::npos)
    GTEST_SKIP() << error;
  ASSERT_TRUE(comm) << error;
  std::vector<float> host(1000);
  for (size_t i = 0; i < host.size(); ++i)
    host[i] = float(i) * 0.5f;
  void *stream = mgpuStreamCreate();
  void *buffer = mgpuMemAlloc(host.size() * 4, stream, false);
  mgpuStreamSynchronize(stream);
  copyToDevice(buffer, host.data(), host.size() * 4);
  EXPECT_EQ(comm->allReduceSum(buffer, host.size(), "f32", stream), "");
  EXPECT_EQ(comm->wait(stream, 30, "the test's sum"), "");
  std::vector<float> back(host.size());
  copyToHost(back.data(), buffer, back.size() * 4);
  EXPECT_EQ(back, host); // the sum over one rank
  // Two means in one group (as a step's gradients go).
  EXPECT_EQ(comm->groupStart(), "");
  EXPECT_EQ(comm->allReduceMean(buffer, host.size() / 2, "f32", stream), "");
  EXPECT_EQ(comm->allReduceMean(static_cast<float *>(buffer) + host.size() / 2,
                                host.size() / 2, "f32", stream),
            "");
  EXPECT_EQ(comm->groupEnd(), "");
  EXPECT_EQ(comm->wait(stream, 30, "the test's mean"), "");
  copyToHost(back.data(), buffer, back.size() * 4);
  EXPECT_EQ(back, host); // the mean over one rank
  EXPECT_NE(comm->allReduceSum(buffer, 4, "i64", stream).find("not i64"),
            std::string::npos);
  mgpuMemFree(buffer, stream);
  mgpuStreamDestroy(stream);
}

// A peer that never comes: the communicator's creation gives up after its
// timeout, naming what it waited for, instead of hanging.
TEST(Collectives, AMissingPeerTimesOutInsteadOfHanging) {
  std::string why;
  if (!available(why))
    GTEST_SKIP() << "no CUDA GPU here: " << why;
  std::string error;
  std::unique_ptr<Communicator> comm = Communicator::create(
      0, 2, [](void *, size_t) { return std::string(); }, 3, error);
  if (!comm && error.find("not installed") != std::string::npos)
    GTEST_SKIP() << error;
  EXPECT_FALSE(comm);
  EXPECT_NE(error.find("not every one of the 2 ranks joined within 3 s"),
            std::string::npos)
      << error;
}

} // namespace
