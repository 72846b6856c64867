//===- SafetensorsTest.cpp - safetensors reading and writing --------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "Safetensors.h"

#include "llvm/Support/FileSystem.h"
#include "gtest/gtest.h"

#include <cstring>

using namespace autopar;

namespace {

NpyArray floats(llvm::ArrayRef<int64_t> shape, float start) {
  NpyArray a;
  a.dtype = DType::F32;
  a.shape.assign(shape.begin(), shape.end());
  for (int64_t i = 0; i < a.numElements(); ++i) {
    float v = start + i;
    a.data.insert(a.data.end(), reinterpret_cast<char *>(&v),
                  reinterpret_cast<char *>(&v) + 4);
  }
  return a;
}

std::string errorOf(llvm::Expected<TensorMap> result) {
  return result ? "" : llvm::toString(result.takeError());
}

std::string withHeader(const std::string &json, size_t dataBytes) {
  std::string out;
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(char((n >> (8 * i)) & 0xff));
  return out + json + std::string(dataBytes, '\0');
}

TEST(Safetensors, RoundTrips) {
  TensorMap tensors;
  tensors["layer.weight"] = floats({2, 3}, 1);
  tensors["layer.bias"] = floats({3}, 10);
  NpyArray ids;
  ids.dtype = DType::I64;
  ids.shape = {};
  ids.data.assign(8, 1);
  tensors["step"] = ids;
  std::string bytes = serializeSafetensors(tensors);
  uint64_t headerLen;
  std::memcpy(&headerLen, bytes.data(), 8);
  EXPECT_EQ(headerLen % 8, 0u) << "the data starts 8-byte aligned";
  llvm::Expected<TensorMap> back = parseSafetensors(bytes, "t");
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  ASSERT_EQ(back->size(), 3u);
  for (const auto &[name, array] : tensors) {
    EXPECT_EQ((*back)[name].dtype, array.dtype) << name;
    EXPECT_EQ((*back)[name].shape, array.shape) << name;
    EXPECT_EQ((*back)[name].data, array.data) << name;
  }
}

TEST(Safetensors, FilterKeepsAPartOfEachTensorAsItIsRead) {
  TensorMap tensors;
  tensors["w"] = floats({2, 4}, 1);
  tensors["b"] = floats({4}, 10);
  std::vector<std::string> seen;
  llvm::Expected<TensorMap> back = parseSafetensors(
      serializeSafetensors(tensors), "t",
      [&](const std::string &name, NpyArray whole) {
        seen.push_back(name);
        return name == "w" ? sliceAlong(whole, 1, 2, 1) : whole;
      });
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(seen, (std::vector<std::string>{"b", "w"}));
  EXPECT_EQ((*back)["w"].shape, (llvm::SmallVector<int64_t>{2, 2}));
  EXPECT_EQ((*back)["w"].data, sliceAlong(tensors["w"], 1, 2, 1).data);
  EXPECT_EQ((*back)["b"].data, tensors["b"].data);
}

TEST(Safetensors, WritesAtomically) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("st", dir));
  std::string path = (dir + "/w.safetensors").str();
  TensorMap tensors{{"a", floats({4}, 0)}};
  ASSERT_FALSE(bool(writeSafetensors(path, tensors)));
  EXPECT_FALSE(llvm::sys::fs::exists(path + ".tmp"));
  llvm::Expected<TensorMap> back = readSafetensors(path);
  ASSERT_TRUE(bool(back));
  EXPECT_EQ((*back)["a"].data, tensors["a"].data);
  llvm::sys::fs::remove_directories(dir);
}

TEST(Safetensors, ReadsMetadataAndSkipsIt) {
  std::string json = R"({"__metadata__": {"format": "pt"}, "x": {"dtype": )"
                     R"("F32", "shape": [2], "data_offsets": [0, 8]}})";
  llvm::Expected<TensorMap> t = parseSafetensors(withHeader(json, 8), "t");
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ(t->count("x"), 1u);
  EXPECT_EQ(t->size(), 1u);
}

TEST(Safetensors, RejectsBadFiles) {
  EXPECT_NE(errorOf(parseSafetensors("abc", "t")).find("too short"),
            std::string::npos);
  EXPECT_NE(
      errorOf(parseSafetensors(withHeader("{", 0), "t")).find("malformed JSON"),
      std::string::npos);
  std::string huge = withHeader("{}", 0);
  huge[0] = char(0xff);
  EXPECT_NE(errorOf(parseSafetensors(huge, "t")).find("exceeds the file"),
            std::string::npos);
  EXPECT_NE(errorOf(parseSafetensors(
                        withHeader(R"({"x": {"dtype": "U8", "shape": [1], )"
                                   R"("data_offsets": [0, 1]}})",
                                   1),
                        "t"))
                .find("unsupported dtype 'U8'"),
            std::string::npos);
  EXPECT_NE(errorOf(parseSafetensors(
                        withHeader(R"({"x": {"dtype": "F32", "shape": [4], )"
                                   R"("data_offsets": [0, 16]}})",
                                   8),
                        "t"))
                .find("outside the file's data"),
            std::string::npos);
  EXPECT_NE(errorOf(parseSafetensors(
                        withHeader(R"({"x": {"dtype": "F32", "shape": [3], )"
                                   R"("data_offsets": [0, 8]}})",
                                   8),
                        "t"))
                .find("does not match"),
            std::string::npos);
}

} // namespace
