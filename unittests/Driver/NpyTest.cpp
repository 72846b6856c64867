//===- NpyTest.cpp - .npy reading and writing -----------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "Npy.h"

#include "llvm/Support/Error.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstring>

using namespace autopar;

namespace {

NpyArray makeF32(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<float> values) {
  NpyArray a;
  a.dtype = DType::F32;
  a.shape.assign(shape.begin(), shape.end());
  a.data.resize(values.size() * sizeof(float));
  std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

std::string errorOf(llvm::Expected<NpyArray> result) {
  if (result)
    return "";
  return llvm::toString(result.takeError());
}

// Bytes numpy 1.24 writes for np.save(f, np.array([[1, 2, 3]], np.int64)).
std::string numpyInt64() {
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': "
                       "(1, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(char(header.size() & 0xff));
  bytes.push_back(char(header.size() >> 8));
  bytes += header;
  for (int64_t v : {1, 2, 3})
    bytes.append(reinterpret_cast<const char *>(&v), sizeof(v));
  return bytes;
}

TEST(Npy, RoundTripsEveryDtypeAndRank) {
  for (DType dtype :
       {DType::F32, DType::F64, DType::I64, DType::I32, DType::Bool}) {
    for (llvm::SmallVector<int64_t> shape :
         {llvm::SmallVector<int64_t>{}, {5}, {2, 3}, {2, 0, 4}}) {
      NpyArray a;
      a.dtype = dtype;
      a.shape = shape;
      a.data.resize(a.numElements() * dtypeSize(dtype));
      for (size_t i = 0; i < a.data.size(); ++i)
        a.data[i] = dtype == DType::Bool ? char(i % 2) : char(i * 7);
      std::string bytes = serializeNpy(a);
      EXPECT_EQ(bytes.find('\n') % 64, 63u) << "header is 64-byte aligned";
      llvm::Expected<NpyArray> b = parseNpy(bytes, "t.npy");
      ASSERT_TRUE(bool(b)) << llvm::toString(b.takeError());
      EXPECT_EQ(b->dtype, dtype);
      EXPECT_EQ(b->shape, shape);
      EXPECT_EQ(b->data, a.data);
    }
  }
}

TEST(Npy, ReadsWhatNumpyWrites) {
  llvm::Expected<NpyArray> a = parseNpy(numpyInt64(), "n.npy");
  ASSERT_TRUE(bool(a)) << llvm::toString(a.takeError());
  EXPECT_EQ(a->dtype, DType::I64);
  EXPECT_EQ(a->shapeString(), "(1, 3)");
  int64_t values[3];
  std::memcpy(values, a->data.data(), sizeof(values));
  EXPECT_EQ(values[0], 1);
  EXPECT_EQ(values[2], 3);
}

TEST(Npy, ShapeStringsAsNumpyPrintsThem) {
  EXPECT_EQ(makeF32({}, {1}).shapeString(), "()");
  EXPECT_EQ(makeF32({3}, {1, 2, 3}).shapeString(), "(3,)");
  EXPECT_EQ(makeF32({1, 2}, {1, 2}).shapeString(), "(1, 2)");
}

TEST(Npy, RejectsTruncatedData) {
  std::string bytes = numpyInt64();
  bytes.resize(bytes.size() - 1);
  EXPECT_NE(errorOf(parseNpy(bytes, "t.npy")).find("truncated data"),
            std::string::npos);
}

TEST(Npy, RejectsTrailingBytes) {
  std::string bytes = numpyInt64() + "x";
  EXPECT_NE(errorOf(parseNpy(bytes, "t.npy")).find("bytes after the data"),
            std::string::npos);
}

TEST(Npy, RejectsEveryPrefixWithoutCrashing) {
  std::string bytes = numpyInt64();
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(errorOf(parseNpy(bytes.substr(0, n), "t.npy")).empty())
        << "prefix of " << n << " bytes";
}

TEST(Npy, RejectsBadHeaders) {
  std::string good = numpyInt64();
  auto withHeader = [&](std::string from, std::string to) {
    std::string bytes = good;
    size_t pos = bytes.find(from);
    EXPECT_NE(pos, std::string::npos);
    bytes.replace(pos, from.size(), to);
    return errorOf(parseNpy(bytes, "t.npy"));
  };
  EXPECT_NE(withHeader("<i8", ">i8").find("unsupported dtype '>i8'"),
            std::string::npos);
  EXPECT_NE(withHeader("<i8", "|O8").find("unsupported dtype"),
            std::string::npos);
  EXPECT_NE(withHeader("False", "True ").find("Fortran-ordered"),
            std::string::npos);
  EXPECT_NE(withHeader("(1, 3)", "(1,-3)").find("malformed dimension"),
            std::string::npos);
  EXPECT_NE(withHeader("(1, 3)", "(1, x)").find("malformed dimension"),
            std::string::npos);
  EXPECT_NE(withHeader("'shape'", "'shope'").find("no 'shape'"),
            std::string::npos);
  EXPECT_NE(withHeader("NUMPY", "NUMPX").find("bad magic"), std::string::npos);
}

TEST(Npy, RejectsShapesWhoseSizeOverflows) {
  std::string bytes = numpyInt64();
  size_t pos = bytes.find("(1, 3)");
  bytes.replace(pos, 6, "(4611686018427387904, 4)");
  EXPECT_NE(errorOf(parseNpy(bytes, "t.npy")).find("too large"),
            std::string::npos);
  EXPECT_FALSE(checkedNumElements({int64_t(1) << 62, 4}, 1).has_value());
  EXPECT_FALSE(checkedNumElements({int64_t(1) << 61}, 8).has_value());
  EXPECT_FALSE(checkedNumElements({-1}, 4).has_value());
  EXPECT_EQ(checkedNumElements({2, 3, 4}, 4), 24);
}

TEST(Npy, NormalizesBooleans) {
  NpyArray a;
  a.dtype = DType::Bool;
  a.shape = {3};
  a.data = {0, 5, 1};
  llvm::Expected<NpyArray> b = parseNpy(serializeNpy(a), "b.npy");
  ASSERT_TRUE(bool(b));
  EXPECT_EQ(b->data, (std::vector<char>{0, 1, 1}));
}

TEST(Npy, FindsTheFirstNonFiniteElement) {
  NpyArray f;
  f.dtype = DType::F32;
  f.shape = {4};
  std::vector<float> values = {1.0f, 2.0f, std::nanf(""), INFINITY};
  f.data.resize(16);
  std::memcpy(f.data.data(), values.data(), 16);
  EXPECT_EQ(firstNonFinite(f), 2);
  values[2] = 3.0f;
  std::memcpy(f.data.data(), values.data(), 16);
  EXPECT_EQ(firstNonFinite(f), 3);
  NpyArray d;
  d.dtype = DType::F64;
  d.shape = {2};
  double dv[2] = {0.5, -1.0};
  d.data.resize(16);
  std::memcpy(d.data.data(), dv, 16);
  EXPECT_FALSE(firstNonFinite(d).has_value());
  NpyArray i;
  i.dtype = DType::I64;
  i.shape = {1};
  i.data.assign(8, char(0xff));
  EXPECT_FALSE(firstNonFinite(i).has_value());
}

TEST(Npy, SliceAndConcatAlongADimension) {
  // A 2x3x4 int64 array holding 0..23 in C order.
  NpyArray a;
  a.dtype = DType::I64;
  a.shape = {2, 3, 4};
  a.data.resize(24 * 8);
  for (int64_t i = 0; i < 24; ++i)
    std::memcpy(a.data.data() + 8 * i, &i, 8);
  auto at = [](const NpyArray &x, int64_t i) {
    int64_t v;
    std::memcpy(&v, x.data.data() + 8 * i, 8);
    return v;
  };
  // Along the last dimension, second half: a[:, :, 2:4].
  NpyArray last = sliceAlong(a, 2, 2, 1);
  EXPECT_EQ(last.shape, (llvm::SmallVector<int64_t>{2, 3, 2}));
  std::vector<int64_t> want = {2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23};
  for (int64_t i = 0; i < 12; ++i)
    EXPECT_EQ(at(last, i), want[size_t(i)]) << i;
  // Along the middle one, third of three: a[:, 2:3, :].
  NpyArray mid = sliceAlong(a, 1, 3, 2);
  EXPECT_EQ(mid.shape, (llvm::SmallVector<int64_t>{2, 1, 4}));
  EXPECT_EQ(at(mid, 0), 8);
  EXPECT_EQ(at(mid, 4), 20);
  // Concatenating the parts gives the array back, for every dimension.
  for (int64_t dim = 0; dim < 3; ++dim) {
    int64_t parts = a.shape[size_t(dim)];
    std::vector<NpyArray> pieces;
    for (int64_t p = 0; p < parts; ++p)
      pieces.push_back(sliceAlong(a, dim, parts, p));
    NpyArray back = concatAlong(pieces, dim);
    EXPECT_EQ(back.shape, a.shape) << dim;
    EXPECT_EQ(back.data, a.data) << dim;
  }
  // Grouped: the last dimension as 2 groups of 2, part 1 of 2 of each:
  // elements 1 and 3 of every row of 4.
  NpyArray g = sliceAlong(a, 2, 2, 1, /*groups=*/2);
  EXPECT_EQ(g.shape, (llvm::SmallVector<int64_t>{2, 3, 2}));
  EXPECT_EQ(at(g, 0), 1);
  EXPECT_EQ(at(g, 1), 3);
  EXPECT_EQ(at(g, 2), 5);
  NpyArray back = concatAlong({sliceAlong(a, 2, 2, 0, 2), g}, 2, /*groups=*/2);
  EXPECT_EQ(back.shape, a.shape);
  EXPECT_EQ(back.data, a.data);
}

} // namespace
