//===- autopar-calibrate.cpp - measure this machine as a cluster ----------===//
//
// Part of the autopar project.
//
// autopar-calibrate [-o cluster.json] [--devices=N]
// mpirun -np N autopar-calibrate -o cluster.json
//
// Measures what the planner's cost model needs on this machine and writes
// it as a cluster description (docs/planner.md's JSON): the f32 matrix
// product rate of one device (the runtime's oneDNN GEMM, with the threads
// the process has), its memory bandwidth (large copies) and memory share,
// and, under mpirun with two or more ranks, the latency and bandwidth
// between two ranks (ping-pong of 8 bytes and of 64 MiB). Each rank is one
// device; without mpirun `--devices` says how many (the link then keeps a
// default, and the output says so).
//
//===----------------------------------------------------------------------===//

#include "Contraction.h"

#include "autopar/Planner/Cluster.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <vector>

using namespace llvm;

static cl::OptionCategory category("autopar-calibrate options");
static cl::opt<std::string> outputFile("o", cl::desc("Output JSON file"),
                                       cl::value_desc("file"), cl::init("-"),
                                       cl::cat(category));
static cl::opt<int> devices("devices",
                            cl::desc("Devices (processes) the cluster has "
                                     "when not run under mpirun"),
                            cl::init(1), cl::cat(category));

namespace {
double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

/// f32 FLOP/s of the runtime's GEMM on 1024 x 1024 x 1024.
double gemmRate() {
  const int64_t n = 1024;
  std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n, 0.0f);
  std::vector<autopar::cpu::ContractionLoop> loops(3);
  // m, n, k over row-major A[m,k], B[k,n], C[m,n].
  loops[0].size = n;
  loops[0].stride[0] = n;
  loops[0].stride[2] = n;
  loops[1].size = n;
  loops[1].stride[1] = 1;
  loops[1].stride[2] = 1;
  loops[2].size = n;
  loops[2].stride[0] = 1;
  loops[2].stride[1] = n;
  autopar::cpu::contract(a.data(), b.data(), c.data(), loops); // warm up
  auto start = std::chrono::steady_clock::now();
  int reps = 0;
  do {
    autopar::cpu::contract(a.data(), b.data(), c.data(), loops);
    ++reps;
  } while (seconds(start) < 0.5);
  return 2.0 * n * n * n * reps / seconds(start);
}

/// Bytes per second moved by large copies (read plus write).
double copyBandwidth() {
  const size_t bytes = size_t(256) << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  std::memcpy(dst.data(), src.data(), bytes);
  auto start = std::chrono::steady_clock::now();
  int reps = 0;
  do {
    std::memcpy(dst.data(), src.data(), bytes);
    ++reps;
  } while (seconds(start) < 0.5);
  return 2.0 * bytes * reps / seconds(start);
}

/// Half the round trip of `bytes` between ranks 0 and 1, best of `reps`.
double pingPong(size_t bytes, int reps, int rank) {
  std::vector<char> buffer(std::max<size_t>(bytes, 1));
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    auto start = std::chrono::steady_clock::now();
    if (rank == 0) {
      MPI_Send(buffer.data(), int(bytes), MPI_BYTE, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(buffer.data(), int(bytes), MPI_BYTE, 1, 0, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
    } else if (rank == 1) {
      MPI_Recv(buffer.data(), int(bytes), MPI_BYTE, 0, 0, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
      MPI_Send(buffer.data(), int(bytes), MPI_BYTE, 0, 0, MPI_COMM_WORLD);
    }
    best = std::min(best, seconds(start) / 2);
  }
  return best;
}
} // namespace

int main(int argc, char **argv) {
  InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "autopar-calibrate: measure this machine as a "
                              "cluster for the planner\n");
  const char *worldSize = std::getenv("OMPI_COMM_WORLD_SIZE");
  bool mpi = worldSize && std::atoi(worldSize) > 1;
  int rank = 0, size = std::max(1, devices.getValue());
  if (mpi) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  // Every rank measures its own device at the same time, as training would
  // load the machine; rank 0's figures are written.
  double flops = gemmRate();
  double bandwidth = copyBandwidth();
  double latency = 2e-6, linkBandwidth = bandwidth / 2;
  bool linkMeasured = false;
  if (mpi) {
    double small = pingPong(8, 50, rank);
    double large = pingPong(size_t(64) << 20, 5, rank);
    latency = small;
    linkBandwidth = double(size_t(64) << 20) / std::max(1e-9, large - small);
    linkMeasured = true;
  }
  double memory =
      double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE)) / size;
  if (rank == 0) {
    json::Object link{{"bandwidth", linkBandwidth}, {"latency", latency}};
    json::Object cluster{
        {"name", "cpu-host-calibrated"},
        {"nodes", 1},
        {"devices_per_node", size},
        {"device", json::Object{{"name", "cpu-process"},
                                {"peak_flops", json::Object{{"fp32", flops}}},
                                {"memory_bytes", memory},
                                {"memory_bandwidth", bandwidth}}},
        {"intra_node", json::Object(link)},
        {"inter_node", std::move(link)}};
    std::string text = formatv("{0:2}", json::Value(std::move(cluster)));
    // What we wrote must load as a cluster.
    if (auto parsed =
            mlir::autopar::planner::parseClusterJSON(text, "calibration");
        !parsed) {
      WithColor::error(errs(), "autopar-calibrate")
          << toString(parsed.takeError()) << "\n";
      if (mpi)
        MPI_Abort(MPI_COMM_WORLD, 1);
      return 1;
    }
    std::error_code ec;
    raw_fd_ostream os(outputFile, ec, sys::fs::OF_Text);
    if (ec) {
      WithColor::error(errs(), "autopar-calibrate")
          << outputFile << ": " << ec.message() << "\n";
      if (mpi)
        MPI_Abort(MPI_COMM_WORLD, 1);
      return 1;
    }
    os << text << "\n";
    errs() << formatv("autopar-calibrate: {0} device(s): f32 GEMM {1:F1} "
                      "GFLOP/s, memory {2:F1} GB/s, {3:F1} GB each; link ",
                      size, flops / 1e9, bandwidth / 1e9, memory / 1e9)
           << (linkMeasured
                   ? formatv("{0:F2} us, {1:F2} GB/s (measured between "
                             "ranks 0 and 1)",
                             latency * 1e6, linkBandwidth / 1e9)
                         .str()
                   : std::string("not measured (run under mpirun -np 2 or "
                                 "more to measure it); 2 us and half the "
                                 "copy bandwidth assumed"))
           << "\n";
  }
  if (mpi)
    MPI_Finalize();
  return 0;
}
