//===- Safetensors.cpp - reading and writing .safetensors files -----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "Safetensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace autopar;
using llvm::StringRef;

static llvm::Error stError(StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 name + ": " + message);
}

StringRef autopar::safetensorsDType(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F64:
    return "F64";
  case DType::I64:
    return "I64";
  case DType::I32:
    return "I32";
  case DType::Bool:
    return "BOOL";
  case DType::F16:
    return "F16";
  }
  return "?";
}

static std::optional<DType> dtypeFromSafetensors(StringRef s) {
  for (DType d : {DType::F32, DType::F64, DType::I64, DType::I32, DType::Bool,
                  DType::F16})
    if (safetensorsDType(d) == s)
      return d;
  return std::nullopt;
}

llvm::Expected<TensorMap>
autopar::parseSafetensors(StringRef bytes, StringRef name,
                          const TensorFilter &filter) {
  if (bytes.size() < 8)
    return stError(name, "too short for a safetensors header");
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | uint8_t(bytes[i]);
  if (headerLen > bytes.size() - 8)
    return stError(name, "header length " + llvm::Twine(headerLen) +
                             " exceeds the file size");
  StringRef header = bytes.substr(8, headerLen);
  StringRef data = bytes.drop_front(8 + headerLen);
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(header);
  if (!json)
    return stError(name, "malformed JSON header: " +
                             llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return stError(name, "header is not a JSON object");
  TensorMap tensors;
  for (const auto &[key, value] : *root) {
    if (key == "__metadata__")
      continue;
    std::string tensorName = key.str();
    auto fail = [&](const llvm::Twine &why) {
      return stError(name, "tensor '" + tensorName + "': " + why);
    };
    const llvm::json::Object *entry = value.getAsObject();
    if (!entry)
      return fail("entry is not an object");
    std::optional<StringRef> dtypeName = entry->getString("dtype");
    if (!dtypeName)
      return fail("missing 'dtype'");
    std::optional<DType> dtype = dtypeFromSafetensors(*dtypeName);
    if (!dtype)
      return fail("unsupported dtype '" + *dtypeName +
                  "' (supported: F32, F64, F16, I64, I32, BOOL)");
    const llvm::json::Array *shape = entry->getArray("shape");
    const llvm::json::Array *offsets = entry->getArray("data_offsets");
    if (!shape || !offsets || offsets->size() != 2)
      return fail("needs 'shape' and a two-element 'data_offsets'");
    NpyArray array;
    array.dtype = *dtype;
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> v = d.getAsInteger();
      if (!v || *v < 0)
        return fail("malformed shape");
      array.shape.push_back(*v);
    }
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger();
    std::optional<int64_t> end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin ||
        uint64_t(*end) > data.size())
      return fail("data_offsets are outside the file's data");
    std::optional<int64_t> count =
        checkedNumElements(array.shape, dtypeSize(*dtype));
    if (!count ||
        uint64_t(*count) * dtypeSize(*dtype) != uint64_t(*end - *begin))
      return fail("shape " + array.shapeString() + " of " + dtypeName->str() +
                  " does not match its " + llvm::Twine(*end - *begin) +
                  " bytes");
    array.data.assign(data.begin() + *begin, data.begin() + *end);
    if (filter)
      array = filter(tensorName, std::move(array));
    tensors.emplace(tensorName, std::move(array));
  }
  return tensors;
}

llvm::Expected<TensorMap> autopar::readSafetensors(StringRef path,
                                                   const TensorFilter &filter) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return stError(path, buffer.getError().message());
  return parseSafetensors((*buffer)->getBuffer(), path, filter);
}

/// The 8-byte length and the JSON header, padded so the data starts 8-byte
/// aligned.
static std::string headerOf(const TensorMap &tensors) {
  llvm::json::Object header;
  uint64_t offset = 0;
  for (const auto &[name, array] : tensors) {
    llvm::json::Array shape;
    for (int64_t d : array.shape)
      shape.push_back(d);
    header[name] = llvm::json::Object{
        {"dtype", safetensorsDType(array.dtype)},
        {"shape", std::move(shape)},
        {"data_offsets",
         llvm::json::Array{int64_t(offset),
                           int64_t(offset + array.data.size())}}};
    offset += array.data.size();
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(header));
  os.flush();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  for (int i = 0; i < 8; ++i)
    out.push_back(char((uint64_t(text.size()) >> (8 * i)) & 0xff));
  return out + text;
}

std::string autopar::serializeSafetensors(const TensorMap &tensors) {
  std::string out = headerOf(tensors);
  for (const auto &entry : tensors)
    out.append(entry.second.data.begin(), entry.second.data.end());
  return out;
}

llvm::Error autopar::writeSafetensors(StringRef path,
                                      const TensorMap &tensors) {
  std::string temp = (path + ".tmp").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(temp, ec, llvm::sys::fs::OF_None);
    if (ec)
      return stError(temp, ec.message());
    // Streamed tensor by tensor: no second copy of the weights in memory.
    os << headerOf(tensors);
    for (const auto &entry : tensors)
      os.write(entry.second.data.data(), entry.second.data.size());
    os.close();
    if (os.has_error()) {
      std::string message = os.error().message();
      os.clear_error();
      llvm::sys::fs::remove(temp);
      return stError(temp, message);
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path))
    return stError(path, ec.message());
  return llvm::Error::success();
}
